"""The first cell of every notebook: setup() starts what is missing and says where you are."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import free_port

import helpers
from helpers.local import postgres, stack
from helpers.names import Names
from helpers.settings import Settings, load_settings


@pytest.mark.timeout(90)
def test_setup_starts_a_stopped_stack_and_prints_the_banner(tmp_path, monkeypatch, capsys):
    (tmp_path / "e.env").write_text("")
    monkeypatch.setenv("TUTORIAL_ENV_FILE", str(tmp_path / "e.env"))
    monkeypatch.setenv("TUTORIAL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TUTORIAL_MOTO_PORT", str(free_port()))
    monkeypatch.setenv("TUTORIAL_PG_PORT", str(free_port()))
    monkeypatch.setenv("TUTORIAL_PREFIX", "ws-setup")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    settings = load_settings()
    assert not stack.is_up(settings)
    try:
        tut = helpers.setup()
        assert stack.is_up(settings)
        banner = capsys.readouterr().out
        assert "Backend   local" in banner and "Prefix    ws-setup" in banner
        assert os.environ["AWS_ENDPOINT_URL"] == settings.moto_url, "plain boto3 calls must reach the emulator"
        assert tut.names.bucket.startswith("ws-setup-")
        pids = (stack.moto_pid(settings), postgres.embedded_pg_pid(settings))
        helpers.setup(quiet=True)  # the second run reuses the running stack
        assert (stack.moto_pid(settings), postgres.embedded_pg_pid(settings)) == pids
    finally:
        stack.down(settings)


def test_aws_banner_warns_about_cost_and_masks_the_account(tmp_path):
    settings = Settings(backend="aws", region="eu-west-1", prefix="ws-bob", state_dir=tmp_path)
    tut = helpers.Tutorial(settings, Names("ws-bob", "480912345678", "eu-west-1"), "480912345678", "arn")
    banner = tut.banner()
    assert "480912345678" not in banner and "48******5678" in banner
    assert "billable" in banner and "lesson 04" in banner


def test_pre_commit_config_is_valid():
    repo = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-config", ".pre-commit-config.yaml"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


# ----------------------------------------------------------------- the banner shows the endpoint in use

LOCAL_BANNER_HEAD = [
    "Backend   local (emulator http://127.0.0.1:5055, embedded PostgreSQL)",
    "Region    us-east-1",
    "Account   123456789012 (the emulator's fake account)",
    "Prefix    ds-yphh1g",
]


def test_local_banner_keeps_the_lines_committed_outputs_show(tmp_path):
    settings = Settings(backend="local", region="us-east-1", prefix="ds-yphh1g", state_dir=tmp_path)
    names = Names("ds-yphh1g", "123456789012", "us-east-1")
    tut = helpers.Tutorial(settings, names, "123456789012", "arn", endpoint="http://127.0.0.1:5055")
    assert tut.banner().splitlines() == LOCAL_BANNER_HEAD


def test_aws_banner_shows_the_endpoint_botocore_resolved(tmp_path):
    settings = Settings(backend="aws", region="eu-west-1", prefix="ws-bob", state_dir=tmp_path)
    names = Names("ws-bob", "480912345678", "eu-west-1")
    tut = helpers.Tutorial(settings, names, "480912345678", "arn", endpoint="https://sts.eu-west-1.amazonaws.com")
    assert tut.banner().splitlines()[0] == "Backend   aws (your AWS account, https://sts.eu-west-1.amazonaws.com)"


def test_aws_banner_is_honest_about_free_tier_and_ipv4(tmp_path):
    settings = Settings(backend="aws", region="eu-west-1", prefix="ws-bob", state_dir=tmp_path)
    banner = helpers.Tutorial(settings, Names("ws-bob", "480912345678", "eu-west-1"), "480912345678", "arn").banner()
    assert "fit the Free Tier" not in banner
    assert "15 July 2025" in banner and "$200" in banner and "12-month" in banner
    assert "public IPv4" in banner and "$0.005" in banner


def _aws_env(monkeypatch, tmp_path, config: str = "") -> None:
    """The aws backend with keys that are not the dummy ones and no network needed."""
    for var in [v for v in os.environ if v.startswith("AWS_")]:
        monkeypatch.delenv(var)
    (tmp_path / "config").write_text(config)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-from-the-shell")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-the-shell")
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)


def test_whoami_reports_the_resolved_endpoint(tmp_path, monkeypatch):
    from botocore.stub import Stubber

    from helpers import aws

    _aws_env(monkeypatch, tmp_path)
    settings = Settings(backend="aws", region="eu-west-1", prefix="ws-bob", state_dir=tmp_path)
    sts = aws.client("sts", settings)
    stubber = Stubber(sts)
    stubber.add_response("get_caller_identity", {"Account": "480912345678", "Arn": "arn:aws:iam::480912345678:user/x"})
    monkeypatch.setattr(aws, "client", lambda service, s=None, **kw: sts)
    with stubber:
        who = aws.whoami(settings)
    assert who.endpoint_url == "https://sts.eu-west-1.amazonaws.com"


def test_whoami_on_aws_refuses_a_local_endpoint_from_the_config_file(tmp_path, monkeypatch):
    from helpers import aws
    from helpers.errors import TutorialError

    _aws_env(monkeypatch, tmp_path, "[default]\nendpoint_url = http://localhost:4566\n")
    settings = Settings(backend="aws", region="us-east-1", prefix="ws-bob", state_dir=tmp_path)
    with pytest.raises(TutorialError, match="emulator on this machine") as err:
        aws.whoami(settings)  # refused before any request: no network
    assert "endpoint_url" in err.value.fix


@pytest.mark.timeout(120)
def test_setup_on_local_then_aws_in_the_same_kernel_reaches_aws(tmp_path, monkeypatch, capsys):
    """setup() on local, .env switched to aws, setup() again: the calls must go to AWS, and the banner says so."""
    import boto3

    from helpers import aws
    from helpers import settings as settings_module

    saved = dict(os.environ)
    monkeypatch.setattr(settings_module, "_LOCAL_EXPORTS", {})
    monkeypatch.setattr(settings_module, "_FROM_ENV_FILE", {})
    env_file = tmp_path / "e.env"
    env_file.write_text("TUTORIAL_BACKEND=local\n")
    for var in [v for v in os.environ if v.startswith("AWS_ENDPOINT_URL")] + ["TUTORIAL_BACKEND", "DATABASE_URL"]:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TUTORIAL_ENV_FILE", str(env_file))
    monkeypatch.setenv("TUTORIAL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TUTORIAL_MOTO_PORT", str(free_port()))
    monkeypatch.setenv("TUTORIAL_PG_PORT", str(free_port()))
    monkeypatch.setenv("TUTORIAL_PREFIX", "ws-switch")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-from-the-shell")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-the-shell")
    settings = load_settings()
    try:
        helpers.setup()
        assert os.environ["AWS_ENDPOINT_URL"] == settings.moto_url
        capsys.readouterr()

        env_file.write_text("TUTORIAL_BACKEND=aws\n")
        # STS is answered without the network; the endpoint is the one botocore resolves.
        monkeypatch.setattr(
            aws,
            "whoami",
            lambda s: aws.Identity("480912345678", "arn", aws.client("sts", s).meta.endpoint_url),
        )
        tut = helpers.setup()
        banner = capsys.readouterr().out
        assert tut.settings.backend == "aws"
        assert "Backend   aws (your AWS account, https://sts.us-east-1.amazonaws.com)" in banner
        assert "set back what it had changed: " in banner and "AWS_ENDPOINT_URL" in banner
        assert boto3.client("s3").meta.endpoint_url.startswith("https://"), "plain boto3 must reach AWS"
        assert os.environ["AWS_ACCESS_KEY_ID"] == "key-from-the-shell"
    finally:
        stack.down(settings)
        os.environ.clear()
        os.environ.update(saved)


def test_preflight_names_the_endpoint_sts_was_really_sent_to(tmp_path, monkeypatch):
    """AWS_ENDPOINT_URL at LocalStack, AWS_ENDPOINT_URL_STS at moto: botocore sends STS to moto, and so
    must the preflight say (it said the LocalStack address). Nothing listens at the LocalStack address
    here, so the check passing also proves where the call went."""
    import boto3
    from support import in_process_moto

    from helpers import checks
    from helpers.errors import TutorialError

    localstack = f"http://localhost:{free_port()}"
    for var in [v for v in os.environ if v.startswith("AWS_ENDPOINT_URL")]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)

    def no_postgres(*args, **kwargs):  # the PostgreSQL check is not what this test is about
        raise TutorialError("PostgreSQL is not part of this test.")

    monkeypatch.setattr(postgres, "admin_connect", no_postgres)
    with in_process_moto() as moto:
        monkeypatch.setenv("AWS_ENDPOINT_URL", localstack)
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", moto)
        settings = Settings(
            backend="local",
            region="us-east-1",
            prefix="ws-bob",
            state_dir=tmp_path,
            external_endpoint=localstack,
            service_endpoints=(("sts", moto),),
        )
        [api] = [c for c in checks.preflight(settings) if c.check == "AWS API"]
    assert api.ok, api.detail
    assert api.detail == f"{moto} answers (STS GetCallerIdentity)"
    assert localstack not in api.detail


def test_each_participant_sharing_a_state_folder_writes_in_a_folder_of_its_own(tmp_path):
    """A rehearsed room shares one state folder: lesson 01 of two participants wrote and read
    file1.csv in one folder at once, and one read it empty while the other rewrote it."""
    folders = []
    for prefix in ("ws-10", "ws-100"):
        settings = Settings(backend="local", region="us-east-1", prefix=prefix, state_dir=tmp_path)
        tut = helpers.Tutorial(settings, Names(prefix, "123456789012", "us-east-1"), "123456789012", "arn")
        folders.append(tut.workdir("01_s3"))
    assert folders[0] != folders[1] and all(f.is_dir() for f in folders)
    assert all(f.is_relative_to(tmp_path) for f in folders)
