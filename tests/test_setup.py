"""The first cell of every notebook: setup() starts what is missing and says where you are."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import free_port

import helpers
from helpers import stack
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
        pids = (stack.moto_pid(settings), stack.embedded_pg_pid(settings))
        helpers.setup(quiet=True)  # the second run reuses the running stack
        assert (stack.moto_pid(settings), stack.embedded_pg_pid(settings)) == pids
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
