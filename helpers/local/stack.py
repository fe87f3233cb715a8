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

import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from helpers.errors import TutorialError
from helpers.local import postgres
from helpers.local.processes import START_TIMEOUT, pid_alive, port_open, read_json, tail, terminate, write_json
from helpers.settings import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, Settings, is_moto_url, record_local_export

LAUNCHER = "helpers.local.moto_server"  # moto's server with the series' additions (see that module)


def _moto_state(settings: Settings) -> Path:
    return settings.state_dir / "moto.json"


def moto_pid(settings: Settings) -> int | None:
    """The pid of our moto server if it is running, else None (stale files ignored)."""
    state = read_json(_moto_state(settings))
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
        terminate(pid)
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
        proc = spawn_moto(settings.moto_port, env=env, output=out)
    write_json(_moto_state(settings), {"pid": proc.pid, "port": settings.moto_port, **_lifecycle_state(settings)})
    try:
        wait_until_healthy(proc, settings.moto_url)
    except RuntimeError as exc:
        terminate(proc.pid)
        raise TutorialError(
            f"The AWS emulator {exc}. Last lines of {log}:\n{tail(log)}",
            "Check the log above; `python -m helpers down` then `python -m helpers up` retries.",
        ) from exc
    return proc.pid


def spawn_moto(port: int, *, module: str = LAUNCHER, env: dict[str, str] | None = None, output=None):
    """Start an emulator process on 127.0.0.1:``port``, detached from the caller's session.

    The one way the emulator is started: by the stack (``module`` = the launcher), and by the
    benchmark and the tests that compare it with moto as shipped (``module="moto.server"``).
    """
    return subprocess.Popen(
        [sys.executable, "-m", module, "-H", "127.0.0.1", "-p", str(port)],
        stdin=subprocess.DEVNULL,
        stdout=output if output is not None else subprocess.DEVNULL,
        stderr=subprocess.STDOUT if output is not None else subprocess.DEVNULL,
        start_new_session=True,  # survives the kernel or shell that started it
        env=env,
    )


def wait_until_healthy(proc, url: str, timeout: float = START_TIMEOUT) -> None:
    """Return once ``url`` answers like moto; RuntimeError if the process exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not moto_healthy(url, timeout=1.0):
        if proc.poll() is not None:
            raise RuntimeError("exited right after starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"did not answer within {timeout:.0f} s")
        time.sleep(0.1)


def _lifecycle_env(settings: Settings) -> dict[str, str]:
    """What tells the emulator process whether, and how fast, to behave like AWS."""
    return {
        "TUTORIAL_AWS_LIFECYCLE": "on" if settings.lifecycle else "off",
        "TUTORIAL_AWS_LIFECYCLE_PACE": f"{settings.lifecycle_pace:g}",
    }


def _lifecycle_state(settings: Settings) -> dict:
    return {"lifecycle": settings.lifecycle, "pace": settings.lifecycle_pace}


def set_lifecycle(url: str, enabled: bool, pace: float, timeout: float = 2.0) -> dict:
    """Switch a running emulator's AWS-like lifecycle (helpers/local/aws_lifecycle.py) on or off, or re-pace it."""
    from helpers.local.aws_lifecycle import CONTROL_PATH

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
    state = read_json(_moto_state(settings))
    wanted = _lifecycle_state(settings)
    if all(state.get(key) == value for key, value in wanted.items()):
        return
    try:
        set_lifecycle(settings.moto_url, settings.lifecycle, settings.lifecycle_pace)
    except (OSError, ValueError):
        return  # an emulator without the control endpoint keeps its behaviour; status shows it
    write_json(_moto_state(settings), {**state, **wanted})


def stop_moto(settings: Settings) -> bool:
    """Stop our moto server; True if one was running."""
    pid = moto_pid(settings)
    _moto_state(settings).unlink(missing_ok=True)
    if pid is None:
        return False
    terminate(pid)
    return True


# --------------------------------------------------------------------------- the stack


@dataclass
class StackStatus:
    moto: str
    postgres: str

    def __str__(self) -> str:
        return f"emulator     {self.moto}\npostgres     {self.postgres}"


# How long ``up`` waits for another process that is starting the stack (it starts the emulator
# and PostgreSQL, each within START_TIMEOUT) before it gives up with a message.
LOCK_TIMEOUT = 3 * START_TIMEOUT


@contextlib.contextmanager
def starting(settings: Settings, timeout: float = LOCK_TIMEOUT):
    """Hold the state folder's start lock: one process at a time starts the stack.

    Two notebooks run at once (Run All in two tabs), or a test run beside ``make lessons``, both
    found the stack down and both started it: one emulator lost the port and its state file
    named a dead process, PostgreSQL's data folder was initialised twice, and two of three
    starters failed. With the lock the second waits, then finds the stack up. An advisory lock
    on a file (``fcntl.flock``) is released by the system if its holder dies, so a crash never
    leaves the stack locked; where ``fcntl`` does not exist (Windows), there is no lock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.state_dir / "start.lock", "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TutorialError(
                        f"Another process has been starting the local stack for {timeout:.0f} s "
                        f"(it holds {settings.state_dir / 'start.lock'}).",
                        "Wait for it, or stop it; `python -m helpers status` shows what runs.",
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
    with starting(settings):
        if settings.needs_moto:
            # Also with AWS_ENDPOINT_URL at another emulator, when AWS_ENDPOINT_URL_<SERVICE>
            # sends some services (e.g. RDS, which LocalStack's free edition lacks) to our moto.
            start_moto(settings)
        if settings.database_url:
            postgres.admin_connect(settings).close()
        else:
            postgres.start_embedded_postgres(settings)
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
    if postgres.stop_embedded_postgres(settings):
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
        target = postgres.pg_target(settings)
        alive = port_open(target.port, target.host)
        pg = f"DATABASE_URL {target.host}:{target.port}" + ("" if alive else " - NOT answering")
    else:
        pid = postgres.embedded_pg_pid(settings)
        pg = f"embedded at 127.0.0.1:{settings.pg_port} (pid {pid})" if pid else "embedded stopped"
    return StackStatus(moto=moto, postgres=pg)


def is_up(settings: Settings) -> bool:
    """Cheap check (no HTTP, no SQL) used by every notebook's first cell."""
    moto_ok = all(_url_answers(url) for _, url in _foreign_service_endpoints(settings))
    if settings.external_endpoint:
        moto_ok = moto_ok and _url_answers(settings.external_endpoint)
    if settings.needs_moto:
        moto_ok = moto_ok and moto_pid(settings) is not None and port_open(settings.moto_port)
    if settings.database_url:
        target = postgres.pg_target(settings)
        pg_ok = port_open(target.port, target.host)
    else:
        pg_ok = postgres.embedded_pg_pid(settings) is not None and port_open(settings.pg_port)
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
    if settings.local_own_credentials:  # a rehearsed workshop seat: its own keys, checked by the emulator
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            env.pop(key)
    return env


def _service_endpoint_vars(settings: Settings) -> list[tuple[str, str]]:
    from helpers.settings import ENDPOINT_VAR, SERVICE_ENDPOINT_VARS

    by_service = {service: key for key, service in SERVICE_ENDPOINT_VARS.items()}
    return [(f"{ENDPOINT_VAR}_{by_service[s]}", url) for s, url in settings.service_endpoints]


# AWS CLI v1 sends these commands to a fixed AWS host in some regions (rds, docdb and neptune
# to https://rds.amazonaws.com in us-east-1; sqs, emr and health in most regions) and then
# honours only --endpoint-url, never AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_<SERVICE>: see
# SSL_COMMON_NAMES in awscli/customizations/overridesslcommonname.py (tests/test_terminal.py
# checks this table against the installed CLI). Command -> its AWS_ENDPOINT_URL_<SERVICE> suffix,
# the service id in capitals (https://docs.aws.amazon.com/sdkref/latest/guide/ss-endpoints-table.html).
CLI_FIXED_ENDPOINT_COMMANDS = {
    "rds": "RDS",
    "docdb": "DOCDB",
    "neptune": "NEPTUNE",
    "sqs": "SQS",
    "emr": "EMR",
    "health": "HEALTH",
}
# Global options of the AWS CLI that take a value, so the word after them is not the command
# (https://docs.aws.amazon.com/cli/v1/userguide/cli-configure-options.html).
CLI_GLOBAL_OPTIONS_WITH_VALUE = (
    "--region",
    "--profile",
    "--output",
    "--query",
    "--color",
    "--ca-bundle",
    "--cli-read-timeout",
    "--cli-connect-timeout",
    "--cli-binary-format",
)
SHELL_FUNCTION_MARK = "__tutorial_endpoint"  # a local variable only our `aws` function has


def aws_cli_shell_function() -> str:
    """A bash/zsh function ``aws`` that gives the CLI the endpoint this shell already points at.

    Why a function and not another variable: for the commands in
    CLI_FIXED_ENDPOINT_COMMANDS, AWS CLI v1 overrides every endpoint variable with a real
    AWS host, so ``aws rds describe-db-instances`` in a terminal prepared by
    ``eval "$(python -m helpers env)"`` would leave the machine, signed with the dummy keys,
    while the notebooks' boto3 reaches the emulator. Only ``--endpoint-url`` wins over that
    override, so the function adds it, and only when: the command is one of those, the shell
    has an endpoint for it (AWS_ENDPOINT_URL_<SERVICE> first, as botocore does, then
    AWS_ENDPOINT_URL), and the command line has no ``--endpoint-url`` of its own. Every
    other command (``aws s3 ...``, ``aws configure ...``) runs unchanged: the CLI honours
    AWS_ENDPOINT_URL there. The endpoint is read when the command runs, so once the aws
    backend's ``unset`` lines have run the function is a plain pass-through (and
    :func:`aws_cli_shell_function_undo` removes it). ``function aws {`` rather than
    ``aws() {`` so that an alias named aws cannot break the definition.
    """
    mark = SHELL_FUNCTION_MARK
    skip = f"{mark}_skip"
    arg = f"{mark}_arg"
    routes = "\n".join(
        f'            {command}) {mark}="${{AWS_ENDPOINT_URL_{suffix}:-${{AWS_ENDPOINT_URL:-}}}}"; break ;;'
        for command, suffix in CLI_FIXED_ENDPOINT_COMMANDS.items()
    )
    return f"""function aws {{
    local {mark}="" {skip}="" {arg}
    for {arg} in "$@"; do
        case "${arg}" in
            --endpoint-url|--endpoint-url=*) command aws "$@"; return ;;
        esac
    done
    for {arg} in "$@"; do
        if [ -n "${skip}" ]; then {skip}=""; continue; fi
        case "${arg}" in
            {"|".join(CLI_GLOBAL_OPTIONS_WITH_VALUE)}) {skip}=1 ;;
            -*) ;;
{routes}
            *) break ;;
        esac
    done
    if [ -n "${mark}" ]; then
        command aws --endpoint-url "${mark}" "$@"
    else
        command aws "$@"
    fi
}}"""


def aws_cli_shell_function_undo() -> str:
    """A shell line that removes :func:`aws_cli_shell_function` and nothing else.

    Printed by ``python -m helpers env`` on the aws backend: a learner's own ``aws``
    function (one without our mark) is left alone.
    """
    return f"if typeset -f aws 2>/dev/null | grep -q {SHELL_FUNCTION_MARK}; then unset -f aws; fi"


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
