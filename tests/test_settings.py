"""Settings: .env handling, validation of every value a learner types, masking."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import settings as settings_module
from helpers.errors import TutorialError
from helpers.local import stack
from helpers.settings import LocalLeftoversError, load_settings, remembered_prefix, validate_prefix

VARS = [
    "TUTORIAL_BACKEND",
    "TUTORIAL_PREFIX",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "TUTORIAL_MOTO_PORT",
    "TUTORIAL_PG_PORT",
    "DATABASE_URL",
    "AWS_ENDPOINT_URL",
    "TUTORIAL_ENV_FILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No tutorial variables, an empty .env of our own, and a private state folder.

    os.environ is restored afterwards as a whole, because load_env_file and
    apply_local_env write to it directly (as they do in a kernel), and so is the
    settings module's record of what .env and the local backend set.
    """
    saved = dict(os.environ)
    monkeypatch.setattr(settings_module, "_FROM_ENV_FILE", {})
    monkeypatch.setattr(settings_module, "_LOCAL_EXPORTS", {})
    for var in VARS + [v for v in os.environ if v.startswith("AWS_ENDPOINT_URL_")]:
        monkeypatch.delenv(var, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("")
    monkeypatch.setenv("TUTORIAL_ENV_FILE", str(env_file))
    monkeypatch.setenv("TUTORIAL_STATE_DIR", str(tmp_path / "state"))
    yield env_file
    os.environ.clear()
    os.environ.update(saved)


def test_defaults(clean_env):
    s = load_settings()
    assert s.backend == "local"
    assert s.region == "us-east-1"
    assert s.endpoint_url == "http://127.0.0.1:5055"
    assert s.prefix.startswith("ds-") and len(s.prefix) == 9


def test_generated_prefix_is_remembered(clean_env, tmp_path):
    first = load_settings().prefix
    assert load_settings().prefix == first
    assert (tmp_path / "state" / "prefix").read_text().strip() == first


def test_dotenv_does_not_override_environment(clean_env, monkeypatch):
    clean_env.write_text("AWS_DEFAULT_REGION=eu-west-1\nTUTORIAL_PREFIX=ws-from-file\n")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-central-1")
    s = load_settings()
    assert s.region == "eu-central-1"  # the environment wins
    assert s.prefix == "ws-from-file"  # the file fills what the environment lacks


def test_malformed_env_names_the_line(clean_env):
    clean_env.write_text("TUTORIAL_BACKEND=local\nthis is not an assignment\n")
    with pytest.raises(TutorialError, match="line 2") as err:
        load_settings()
    assert "NAME=value" in err.value.fix


def test_missing_env_file_named_explicitly(clean_env, monkeypatch, tmp_path):
    monkeypatch.setenv("TUTORIAL_ENV_FILE", str(tmp_path / "nope.env"))
    with pytest.raises(TutorialError, match="does not exist"):
        load_settings()


def test_missing_default_env_is_fine(clean_env, monkeypatch):
    monkeypatch.delenv("TUTORIAL_ENV_FILE")
    assert load_settings().backend == "local"


def test_unknown_backend(clean_env, monkeypatch):
    monkeypatch.setenv("TUTORIAL_BACKEND", "localstack")
    with pytest.raises(TutorialError, match="not a backend") as err:
        load_settings()
    assert "TUTORIAL_BACKEND=local" in err.value.fix


@pytest.mark.parametrize("region", ["us-east1", "US-EAST-1", "mars-north-1", ""])
def test_unknown_region(clean_env, monkeypatch, region):
    monkeypatch.setenv("AWS_DEFAULT_REGION", region or " ")
    if not region:
        assert load_settings().region == "us-east-1"  # blank means default
        return
    with pytest.raises(TutorialError, match="Unknown AWS region"):
        load_settings()


@pytest.mark.parametrize(
    "prefix",
    ["Alice", "ws_alice", "a", "-ws", "ws-", "ws--alice", "9lives", "x" * 25, "ws alice"],
)
def test_invalid_prefix(prefix):
    with pytest.raises(TutorialError, match="cannot be used"):
        validate_prefix(prefix)


@pytest.mark.parametrize("prefix", ["ws-alice", "team-07", "ds-abc123", "abc"])
def test_valid_prefix(prefix):
    assert validate_prefix(prefix) == prefix


@pytest.mark.parametrize(
    "prefix,name,reason",
    [
        # AWS refuses security group names starting with sg- (API_CreateSecurityGroup.html).
        ("sg-team", "sg-team-postgres-sg", "starts with 'sg-'"),
        ("sg-07", "sg-07-postgres-sg", "starts with 'sg-'"),
        # S3 reserves bucket names starting with sthree- and amzn-s3-demo- (bucketnamingrules.html).
        ("sthree", "sthree-", "starts with 'sthree-'"),
        ("sthree-lab", "sthree-lab-", "starts with 'sthree-'"),
        ("amzn-s3-demo", "amzn-s3-demo-", "starts with 'amzn-s3-demo-'"),
    ],
)
def test_prefix_that_makes_a_name_aws_reserves_is_refused_with_the_name_and_rule(prefix, name, reason):
    with pytest.raises(TutorialError, match="cannot be used") as err:
        validate_prefix(prefix)
    assert name in err.value.problem and reason in err.value.problem
    assert "sg-" in err.value.fix and "sthree-" in err.value.fix


@pytest.mark.parametrize("prefix", ["sgx-team", "sg1", "sthreex", "amzn-s3-lab", "team-sg"])
def test_prefix_that_only_looks_like_a_reserved_one_is_accepted(prefix):
    assert validate_prefix(prefix) == prefix


def test_sg_prefix_from_env_is_refused_when_settings_load(clean_env, monkeypatch):
    monkeypatch.setenv("TUTORIAL_PREFIX", "sg-alice")
    with pytest.raises(TutorialError, match="security group name 'sg-alice-postgres-sg'"):
        load_settings()


def test_invalid_prefix_from_env(clean_env, monkeypatch):
    monkeypatch.setenv("TUTORIAL_PREFIX", "Alice_Smith")
    with pytest.raises(TutorialError):
        load_settings()


@pytest.mark.parametrize("value", ["abc", "80", "70000"])
def test_bad_port(clean_env, monkeypatch, value):
    monkeypatch.setenv("TUTORIAL_MOTO_PORT", value)
    with pytest.raises(TutorialError, match="not a usable port"):
        load_settings()


def test_user_endpoint_is_used_instead_of_moto(clean_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
    s = load_settings()
    assert s.external_endpoint == "http://127.0.0.1:4566"
    assert s.endpoint_url == "http://127.0.0.1:4566"


def test_our_own_endpoint_is_not_mistaken_for_the_users(clean_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5055")
    assert load_settings().external_endpoint == ""


def test_str_masks_database_password(clean_env, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://admin:s3cr3t-pw@db.example:5432/x")
    text = str(load_settings())
    assert "s3cr3t-pw" not in text
    assert "admin:****@db.example" in text


def test_remembered_prefix_regenerates_when_empty(tmp_path: Path):
    (tmp_path / "prefix").write_text("\n")
    assert remembered_prefix(tmp_path).startswith("ds-")


# --------------------------------------------------------------- the aws backend refuses local leftovers

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:5055"),  # the series' own moto, from `helpers env`
        ("AWS_ENDPOINT_URL", "http://localhost:4566"),
        ("AWS_ENDPOINT_URL", "http://localhost.localstack.cloud:4566"),
        ("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:4566"),
        ("AWS_ENDPOINT_URL_RDS", "http://[::1]:5055"),
        ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.2:9000"),
    ],
)
def test_aws_backend_refuses_an_endpoint_on_this_machine(clean_env, monkeypatch, name, value):
    monkeypatch.setenv("TUTORIAL_BACKEND", "aws")
    monkeypatch.setenv(name, value)
    with pytest.raises(LocalLeftoversError, match="still points at the local backend") as err:
        load_settings()
    assert value in err.value.problem
    assert f"unset {name}" in err.value.fix


@pytest.mark.parametrize("key", ["test", "testing"])  # today's dummy keys, and earlier versions'
def test_aws_backend_refuses_the_dummy_keys(clean_env, monkeypatch, key):
    monkeypatch.setenv("TUTORIAL_BACKEND", "aws")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key)
    with pytest.raises(LocalLeftoversError) as err:
        load_settings()
    assert "unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY" in err.value.fix
    assert f"={key}" not in str(err.value), "a key's value is never printed, even a dummy one"


def test_aws_backend_names_the_env_file_line_to_delete(clean_env, monkeypatch):
    clean_env.write_text("TUTORIAL_BACKEND=aws\nAWS_ENDPOINT_URL=http://localhost:4566\n")
    with pytest.raises(LocalLeftoversError) as err:
        load_settings()
    assert f"Delete these lines from {clean_env}: AWS_ENDPOINT_URL" in err.value.fix
    assert "unset" not in err.value.fix  # the shell never had it: unset would not help


def test_aws_backend_accepts_a_remote_endpoint_and_ignored_endpoints(clean_env, monkeypatch):
    monkeypatch.setenv("TUTORIAL_BACKEND", "aws")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "https://s3.eu-west-1.amazonaws.com")
    assert load_settings().backend == "aws"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5055")
    monkeypatch.setenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")  # botocore ignores every endpoint variable
    assert load_settings().backend == "aws"


def test_same_kernel_switch_to_aws_undoes_only_what_the_local_backend_set(clean_env, monkeypatch):
    """Lesson on local, then TUTORIAL_BACKEND=aws written into .env, then the first cell again."""
    clean_env.write_text("TUTORIAL_BACKEND=local\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key-from-the-shell")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-from-the-shell")
    monkeypatch.setenv("AWS_PROFILE", "work")
    local = load_settings()
    stack.apply_local_env(local)  # what setup() does on local
    assert os.environ["AWS_ACCESS_KEY_ID"] == "test" and "AWS_PROFILE" not in os.environ

    clean_env.write_text("TUTORIAL_BACKEND=aws\n")  # the learner edits .env, re-runs setup()
    s = load_settings()
    assert s.backend == "aws", "a value .env set earlier follows the edited file"
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert os.environ["AWS_ACCESS_KEY_ID"] == "key-from-the-shell"
    assert os.environ["AWS_PROFILE"] == "work"
    assert {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_PROFILE"} <= set(s.restored_env)


def test_same_kernel_switch_still_refuses_keys_the_shell_exported(clean_env, monkeypatch):
    """Dummy keys that were there before setup() (from `helpers env`) are the shell's: refused, not removed."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    stack.apply_local_env(load_settings())
    monkeypatch.setenv("TUTORIAL_BACKEND", "aws")
    with pytest.raises(LocalLeftoversError) as err:
        load_settings()
    assert err.value.in_environment == ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]
    assert os.environ["AWS_ACCESS_KEY_ID"] == "test"
    assert "AWS_ENDPOINT_URL" not in os.environ  # what setup() itself exported is gone


def test_a_line_removed_from_env_is_forgotten(clean_env):
    clean_env.write_text("TUTORIAL_PREFIX=ws-first\n")
    assert load_settings().prefix == "ws-first"
    clean_env.write_text("")
    assert load_settings().prefix.startswith("ds-")


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpers", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.timeout(120)
def test_shell_that_ran_helpers_env_is_refused_by_status_and_clean_then_undone(tmp_path):
    """A terminal after `eval "$(python -m helpers env)"`, switched to aws, as a learner would."""
    (tmp_path / "empty.env").write_text("")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TUTORIAL_", "PG"))}
    base.update(
        TUTORIAL_ENV_FILE=str(tmp_path / "empty.env"),
        TUTORIAL_STATE_DIR=str(tmp_path / "state"),
        TUTORIAL_PREFIX="ws-shell",
        TUTORIAL_BACKEND="local",
    )
    script = f"""
        set -e
        eval "$({sys.executable} -m helpers env)"
        export TUTORIAL_BACKEND=aws
        for command in status clean; do
            if {sys.executable} -m helpers $command 2>{tmp_path}/err.txt; then echo "$command ran"; exit 1; fi
            grep -q "still points at the local backend" {tmp_path}/err.txt
        done
        eval "$({sys.executable} -m helpers env)"
        {sys.executable} -c "from helpers.settings import load_settings; print(load_settings().backend)"
        echo "endpoint=${{AWS_ENDPOINT_URL:-unset}}"
    """
    out = subprocess.run(["bash", "-c", script], cwd=REPO, env=base, capture_output=True, text=True, timeout=110)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split() == ["aws", "endpoint=unset"]


def test_misspelt_service_endpoint_is_reported(clean_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETSMANAGER", "http://127.0.0.1:5055")
    with pytest.raises(TutorialError, match="not a variable botocore reads") as err:
        load_settings()
    assert "AWS_ENDPOINT_URL_SECRETS_MANAGER" in err.value.fix


def test_localstack_with_rds_on_moto_keeps_moto_running(clean_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566")
    monkeypatch.setenv("AWS_ENDPOINT_URL_RDS", "http://localhost:5055")
    s = load_settings()
    assert s.external_endpoint == "http://localhost:4566"
    assert s.service_endpoints == (("rds", "http://localhost:5055"),)
    assert s.needs_moto
    monkeypatch.delenv("AWS_ENDPOINT_URL_RDS")
    assert not load_settings().needs_moto  # everything on LocalStack: moto is not started


def test_local_dummy_keys_are_the_ones_localstack_checks(clean_env):
    env = stack.local_aws_env(load_settings())
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("test", "test")


def test_a_value_changed_between_two_local_setups_is_the_one_put_back(clean_env, monkeypatch):
    local = load_settings()
    stack.apply_local_env(local)
    os.environ["AWS_ACCESS_KEY_ID"] = "typed-with-percent-env"  # the learner's own change, in the kernel
    stack.apply_local_env(local)  # the first cell again
    monkeypatch.setenv("TUTORIAL_BACKEND", "aws")
    load_settings()
    assert os.environ["AWS_ACCESS_KEY_ID"] == "typed-with-percent-env"


def test_in_a_notebook_the_fix_is_to_restart_the_kernel(clean_env, monkeypatch):
    import types

    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setenv("TUTORIAL_BACKEND", "aws")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5055")
    with pytest.raises(LocalLeftoversError) as err:
        load_settings()
    assert "Restart the kernel" in err.value.fix and "unset AWS_ENDPOINT_URL" in err.value.fix
