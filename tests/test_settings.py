"""Settings: .env handling, validation of every value a learner types, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.errors import TutorialError
from helpers.settings import load_settings, remembered_prefix, validate_prefix

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
]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No tutorial variables, an empty .env of our own, and a private state folder."""
    for var in VARS:
        monkeypatch.delenv(var, raising=False)
    env_file = tmp_path / ".env"
    env_file.write_text("")
    monkeypatch.setenv("TUTORIAL_ENV_FILE", str(env_file))
    monkeypatch.setenv("TUTORIAL_STATE_DIR", str(tmp_path / "state"))
    return env_file


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
