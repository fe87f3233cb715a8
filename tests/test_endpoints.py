"""Another emulator for most services, the series' moto for RDS: the README's LocalStack recipe, run here.

LocalStack's free edition has no RDS, so the README tells a LocalStack user to keep
AWS_ENDPOINT_URL at LocalStack and send RDS (with EC2, Secrets Manager and STS, which
the RDS lessons need from the same emulator) to the built-in moto with
AWS_ENDPOINT_URL_<SERVICE>. LocalStack itself cannot run here (no Docker), so a second
moto server stands in for it; what is tested is the routing and the series' part in it:
`python -m helpers up` still starts moto, plain boto3 clients and the helpers reach the
server each variable names, and the banner shows both.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from support import create_postgres_instance, free_port, in_process_moto

import helpers
from helpers import rds
from helpers import settings as settings_module
from helpers.local import stack
from helpers.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
MOTO_SERVICES = ("RDS", "EC2", "SECRETS_MANAGER", "STS")


@pytest.fixture(scope="module")
def other_emulator():
    """A server standing in for LocalStack on http://localhost:<port>."""
    with in_process_moto(host="localhost") as url:
        yield url


@pytest.fixture
def recipe(other_emulator, tmp_path, monkeypatch):
    """A new user's .env for the recipe, and `python -m helpers up` run as they would run it."""
    moto_port, pg_port = free_port(), free_port()
    moto = f"http://127.0.0.1:{moto_port}"
    lines = [f"AWS_ENDPOINT_URL={other_emulator}"] + [f"AWS_ENDPOINT_URL_{s}={moto}" for s in MOTO_SERVICES]
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(lines) + "\n")
    saved = dict(os.environ)
    monkeypatch.setattr(settings_module, "_FROM_ENV_FILE", {})
    monkeypatch.setattr(settings_module, "_LOCAL_EXPORTS", {})
    for var in [v for v in os.environ if v.startswith("AWS_")] + ["DATABASE_URL"]:
        monkeypatch.delenv(var, raising=False)
    settings_env = {
        "TUTORIAL_ENV_FILE": str(env_file),
        "TUTORIAL_STATE_DIR": str(tmp_path / "state"),
        "TUTORIAL_MOTO_PORT": str(moto_port),
        "TUTORIAL_PG_PORT": str(pg_port),
        "TUTORIAL_PREFIX": "ws-recipe",
    }
    for key, value in settings_env.items():
        monkeypatch.setenv(key, value)
    cli_env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    up = subprocess.run(
        [sys.executable, "-m", "helpers", "up"], cwd=REPO, env=cli_env, capture_output=True, text=True, timeout=90
    )
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"moto at {moto}" in up.stdout and other_emulator in up.stdout
        yield {"other": other_emulator, "moto": moto, "env_file": env_file}
    finally:
        subprocess.run([sys.executable, "-m", "helpers", "down"], cwd=REPO, env=cli_env, timeout=60)
        os.environ.clear()
        os.environ.update(saved)


def _exists_on(url: str, check) -> bool:
    client_kwargs = {"endpoint_url": url, "region_name": "us-east-1"}
    try:
        check(client_kwargs)
    except Exception:  # noqa: BLE001 - any "not found" flavour means: not on this server
        return False
    return True


@pytest.mark.timeout(120)
def test_rds_goes_to_moto_and_s3_to_the_other_emulator(recipe, capsys):
    tut = helpers.setup()
    banner = capsys.readouterr().out
    assert banner.splitlines()[0] == f"Backend   local (emulator {recipe['other']}, embedded PostgreSQL)"
    assert f"Endpoint  rds -> {recipe['moto']}" in banner
    assert tut.account_id == "123456789012", "STS answers from moto, the same account as RDS's ARNs"

    bucket = tut.names.bucket
    boto3.client("s3").create_bucket(Bucket=bucket)
    assert _exists_on(recipe["other"], lambda kw: boto3.client("s3", **kw).head_bucket(Bucket=bucket))
    assert not _exists_on(recipe["moto"], lambda kw: boto3.client("s3", **kw).head_bucket(Bucket=bucket))

    instance = "ws-recipe-postgres"
    assert boto3.client("rds").meta.endpoint_url == recipe["moto"]
    create_postgres_instance(boto3.client("rds"), instance)

    def describe(kw):
        boto3.client("rds", **kw).describe_db_instances(DBInstanceIdentifier=instance)

    assert _exists_on(recipe["moto"], describe)
    assert not _exists_on(recipe["other"], describe)
    db = rds.describe(instance, tut.settings)  # the series' helpers follow the same variables
    assert db is not None and db["DBInstanceIdentifier"] == instance
    assert rds.master_secret(db, tut.settings)["password"], "the RDS-managed secret lives in moto too"


@pytest.mark.timeout(60)
def test_status_and_env_show_where_each_service_goes(recipe):
    settings = load_settings()
    text = str(stack.status(settings))
    assert f"moto at {recipe['moto']}" in text and f"rds -> {recipe['moto']}" in text
    assert stack.is_up(settings)
    env = stack.local_aws_env(settings)  # what `python -m helpers env` exports to a terminal
    assert env["AWS_ENDPOINT_URL"] == recipe["other"]
    assert env["AWS_ENDPOINT_URL_SECRETS_MANAGER"] == recipe["moto"]
