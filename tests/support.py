"""Small utilities shared by the test modules (pytest puts tests/ on sys.path)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from helpers.local.processes import free_port

__all__ = [
    "assert_not_yet",
    "aws_like_emulator",
    "create_postgres_instance",
    "emulator_process",
    "error_code",
    "free_port",
    "in_process_moto",
    "random_prefix",
    "use_moto",
]


def random_prefix() -> str:
    """A participant prefix in the generated format (ds- and six characters), unique per call."""
    from helpers.settings import new_prefix

    return new_prefix()


@contextlib.contextmanager
def in_process_moto(host: str = "127.0.0.1") -> Iterator[str]:
    """moto as shipped, in this process on a free port: a private AWS side for one test module.

    (Plain moto: the stack's launcher, with its AWS-like lifecycle, is tested on its own.)
    """
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def create_postgres_instance(rds, instance_id: str, **extra) -> dict:
    """A DB instance made the way lesson 02 makes one (password managed by RDS); ``extra`` adds to it."""
    return rds.create_db_instance(
        DBInstanceIdentifier=instance_id,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="postgres",
        ManageMasterUserPassword=True,
        **extra,
    )["DBInstance"]


def error_code(call) -> str | None:
    """The AWS error code ``call()`` fails with, or None when it succeeds."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"]
    return None


def assert_not_yet(text: str, *mistakes: str) -> None:
    """A self-check's answer to a wrong answer: "Not yet" with a hint, no traceback, and lines that
    name the mistakes (helpers.exercises)."""
    assert text.startswith("Not yet."), text
    assert "\nHint: " in text, text
    assert "Traceback" not in text, text
    for mistake in mistakes:
        assert mistake in text, text


@contextlib.contextmanager
def emulator_process(env: dict[str, str]) -> Iterator[str]:
    """The stack's own emulator launcher (helpers.local.moto_server) on a free port, with ``env``:
    for tests of its AWS-like behaviours, switched through its control endpoints."""
    from helpers.local import stack

    port = free_port()
    proc = stack.spawn_moto(port, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        stack.wait_until_healthy(proc, url)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def aws_like_emulator() -> Iterator[str]:
    """The stack's emulator answering as AWS does (its limits, its regions), without AWS's waits
    (lifecycle off): for code that must be right on AWS, such as cleanup and the workshop kit,
    which search every region the account has enabled (17 on AWS; plain moto lists 38)."""
    with emulator_process({**os.environ, "TUTORIAL_AWS_LIFECYCLE": "off", "TUTORIAL_AWS_LIMITS": "on"}) as url:
        yield url


def use_moto(monkeypatch, url: str) -> None:
    """Point the default boto3 session at the moto server at ``url``, with dummy keys."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    # boto3's default session keeps the credentials it resolved first: a test run earlier in the
    # same process (a pytest -n worker) could leave it signing with another test's keys.
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
