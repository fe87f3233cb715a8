"""The local stack's lifecycle and its faults, on a private stack (own folder and ports).

Each fault must end quickly with a message naming the problem and the fix; the
timeout marks turn a hang into a failure.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg2
import pytest
from support import free_port

from helpers.aws import whoami
from helpers.errors import TutorialError
from helpers.local import postgres, processes, stack
from helpers.settings import Settings

REPO = Path(__file__).resolve().parent.parent


def make_settings(state_dir: Path, **kw) -> Settings:
    base = dict(
        backend="local",
        region="us-east-1",
        prefix="ds-stk001",
        state_dir=state_dir,
        moto_port=free_port(),
        pg_port=free_port(),
    )
    base.update(kw)
    return Settings(**base)


@pytest.fixture(scope="module")
def private(tmp_path_factory):
    """A complete private stack, stopped at the end of the module."""
    settings = make_settings(tmp_path_factory.mktemp("stack"))
    stack.up(settings)
    yield settings
    stack.down(settings)


@pytest.fixture
def aws_env(private, monkeypatch):
    for key, value in stack.local_aws_env(private).items():
        if value:
            monkeypatch.setenv(key, value)
        else:
            monkeypatch.delenv(key, raising=False)


def test_up_starts_both_and_is_idempotent(private):
    moto_pid = stack.moto_pid(private)
    pg_pid = postgres.embedded_pg_pid(private)
    assert moto_pid and pg_pid
    stack.up(private)  # on a running stack, up() only checks: the same processes stay
    assert stack.moto_pid(private) == moto_pid
    assert postgres.embedded_pg_pid(private) == pg_pid
    assert stack.is_up(private)


def test_status_says_what_runs_where(private):
    text = str(stack.status(private))
    assert f"127.0.0.1:{private.moto_port}" in text
    assert f"127.0.0.1:{private.pg_port}" in text


def test_emulator_serves_every_service_the_lessons_use(private, aws_env):
    import boto3

    region = private.region
    assert boto3.client("sts", region_name=region).get_caller_identity()["Account"]
    boto3.client("s3", region_name=region).list_buckets()
    boto3.client("dynamodb", region_name=region).list_tables()
    boto3.client("rds", region_name=region).describe_db_instances()
    boto3.client("ec2", region_name=region).describe_security_groups()
    boto3.client("secretsmanager", region_name=region).list_secrets()


def test_postgres_requires_the_password_over_tcp(private):
    conn = postgres.admin_connect(private)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS learner")
        cur.execute("CREATE ROLE learner LOGIN PASSWORD 'right-one'")
    conn.close()
    ok = psycopg2.connect(
        host="127.0.0.1",
        port=private.pg_port,
        user="learner",
        password="right-one",
        dbname="postgres",
        connect_timeout=5,
    )
    ok.close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(
            host="127.0.0.1",
            port=private.pg_port,
            user="learner",
            password="wrong",
            dbname="postgres",
            connect_timeout=5,
        )


def test_env_command_points_the_aws_cli_at_the_stack(private, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        TUTORIAL_STATE_DIR=str(private.state_dir),
        TUTORIAL_MOTO_PORT=str(private.moto_port),
        TUTORIAL_PG_PORT=str(private.pg_port),
        TUTORIAL_ENV_FILE=str(tmp_path / "none.env"),
    )
    (tmp_path / "none.env").write_text("")
    env.pop("DATABASE_URL", None)
    bindir = Path(sys.executable).parent
    script = (
        f'eval "$({sys.executable} -m helpers env)"; {bindir}/aws sts get-caller-identity --output text; echo "$PGPORT"'
    )
    out = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert "123456789012" in out.stdout
    assert str(private.pg_port) in out.stdout


@pytest.mark.timeout(30)
def test_port_taken_by_another_program(tmp_path):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        settings = make_settings(tmp_path, moto_port=squatter.getsockname()[1])
        with pytest.raises(TutorialError, match="already taken") as err:
            stack.start_moto(settings)
        assert "TUTORIAL_MOTO_PORT" in err.value.fix
        settings = make_settings(tmp_path, pg_port=squatter.getsockname()[1])
        with pytest.raises(TutorialError, match="already taken") as err:
            postgres.start_embedded_postgres(settings)
        assert "TUTORIAL_PG_PORT" in err.value.fix


@pytest.mark.timeout(60)
def test_stale_state_folder_is_recovered(tmp_path):
    """Processes gone (machine rebooted, kill -9) but their files left behind."""
    settings = make_settings(tmp_path)
    stack.up(settings)
    moto_pid = stack.moto_pid(settings)
    pg_pid = postgres.embedded_pg_pid(settings)
    os.kill(moto_pid, signal.SIGKILL)
    os.kill(pg_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while (processes.pid_alive(moto_pid) or processes.pid_alive(pg_pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert (tmp_path / "moto.json").exists() and (tmp_path / "pgdata" / "postmaster.pid").exists()
    assert not stack.is_up(settings)
    try:
        stack.up(settings)
        assert stack.is_up(settings)
        assert stack.moto_pid(settings) != moto_pid
    finally:
        stack.down(settings)
    assert stack.moto_pid(settings) is None and postgres.embedded_pg_pid(settings) is None


@pytest.mark.timeout(30)
def test_emulator_dying_mid_run_gives_a_clear_error_fast(tmp_path, monkeypatch):
    settings = make_settings(tmp_path)
    stack.start_moto(settings)
    for key, value in stack.local_aws_env(settings).items():
        monkeypatch.setenv(key, value) if value else monkeypatch.delenv(key, raising=False)
    assert whoami(settings).account_id
    stack.stop_moto(settings)
    with pytest.raises(TutorialError, match="not answering") as err:  # within the timeout: no hang
        whoami(settings)
    assert "helpers up" in err.value.fix


@pytest.mark.timeout(30)
def test_postgres_down_gives_a_clear_error(tmp_path):
    settings = make_settings(tmp_path, database_url=f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    with pytest.raises(TutorialError, match="Cannot reach PostgreSQL") as err:
        postgres.admin_connect(settings, timeout=3)
    assert "DATABASE_URL" in err.value.fix


@pytest.mark.timeout(30)
def test_no_credentials_on_aws_backend(tmp_path, monkeypatch):
    for var in list(os.environ):
        if var.startswith("AWS_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # it caches credentials found earlier
    settings = make_settings(tmp_path, backend="aws")
    with pytest.raises(TutorialError, match="No AWS credentials") as err:
        whoami(settings)
    assert "aws configure" in err.value.fix


@pytest.mark.timeout(30)
def test_user_endpoint_not_answering(tmp_path):
    settings = make_settings(tmp_path, external_endpoint=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TutorialError, match="does not answer") as err:
        stack.up(settings)
    assert "AWS_ENDPOINT_URL" in err.value.fix


@pytest.mark.timeout(60)
def test_cli_up_status_down_leaves_no_process(tmp_path):
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.pop("AWS_ENDPOINT_URL", None)
    (tmp_path / "none.env").write_text("")
    env.update(
        TUTORIAL_STATE_DIR=str(tmp_path),
        TUTORIAL_MOTO_PORT=str(free_port()),
        TUTORIAL_PG_PORT=str(free_port()),
        TUTORIAL_ENV_FILE=str(tmp_path / "none.env"),
    )

    def cli(*args):
        return subprocess.run(
            [sys.executable, "-m", "helpers", *args], env=env, capture_output=True, text=True, timeout=45, cwd=REPO
        )

    assert cli("up").returncode == 0
    status = cli("status").stdout
    assert "moto at" in status and "embedded at" in status
    state = Settings(
        backend="local",
        region="us-east-1",
        prefix="ds-stk001",
        state_dir=tmp_path,
        moto_port=int(env["TUTORIAL_MOTO_PORT"]),
        pg_port=int(env["TUTORIAL_PG_PORT"]),
    )
    pids = [stack.moto_pid(state), postgres.embedded_pg_pid(state)]
    assert all(pids)
    out = cli("down")
    assert out.returncode == 0 and "emulator" in out.stdout and "postgres" in out.stdout
    assert not any(processes.pid_alive(p) for p in pids)
    assert "stopped" in cli("status").stdout
    assert "nothing was running" in cli("down").stdout


@pytest.mark.timeout(120)
def test_three_processes_starting_the_stack_at_once_all_get_the_one_stack(tmp_path):
    """Run All in two notebooks at once: each setup() found the stack down and started it. Without
    the start lock two of three `up`s failed (port taken, PostgreSQL's folder initialised twice)
    and the state file named an emulator that had died."""
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.pop("AWS_ENDPOINT_URL", None)
    (tmp_path / "none.env").write_text("")
    env.update(
        TUTORIAL_STATE_DIR=str(tmp_path),
        TUTORIAL_MOTO_PORT=str(free_port()),
        TUTORIAL_PG_PORT=str(free_port()),
        TUTORIAL_ENV_FILE=str(tmp_path / "none.env"),
    )
    command = [sys.executable, "-m", "helpers", "up"]
    starters = [
        subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(3)
    ]
    try:
        outputs = [p.communicate(timeout=90)[0] for p in starters]
        assert [p.returncode for p in starters] == [0, 0, 0], "\n---\n".join(outputs)
        state = Settings(
            backend="local",
            region="us-east-1",
            prefix="ds-stk002",
            state_dir=tmp_path,
            moto_port=int(env["TUTORIAL_MOTO_PORT"]),
            pg_port=int(env["TUTORIAL_PG_PORT"]),
        )
        assert stack.moto_pid(state) and postgres.embedded_pg_pid(state)
        assert stack.moto_healthy(state.moto_url)
    finally:
        subprocess.run([sys.executable, "-m", "helpers", "down"], env=env, cwd=REPO, capture_output=True, timeout=60)


def test_a_start_held_too_long_by_another_process_is_a_clear_error(tmp_path):
    import fcntl

    settings = make_settings(tmp_path)
    with open(tmp_path / "start.lock", "a+") as other:  # another process, starting the stack
        fcntl.flock(other, fcntl.LOCK_EX)
        with pytest.raises(TutorialError, match="Another process has been starting") as err:
            with stack.starting(settings, timeout=0.5):
                pass
    assert "helpers status" in err.value.fix
    with stack.starting(settings, timeout=0.5):  # released: the next start goes ahead
        pass


def test_cli_reports_bad_settings_without_traceback(tmp_path):
    env = dict(os.environ, TUTORIAL_BACKEND="cloud", TUTORIAL_ENV_FILE=str(tmp_path / "e.env"))
    (tmp_path / "e.env").write_text("")
    out = subprocess.run(
        [sys.executable, "-m", "helpers", "status"], env=env, capture_output=True, text=True, timeout=30, cwd=REPO
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "TUTORIAL_BACKEND" in out.stderr
