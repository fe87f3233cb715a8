"""The lessons as a learner runs them: twice in a row, and nothing of the series left after 04.

nbval (make test-notebooks) checks each lesson's outputs once; this checks what nbval
cannot: that every lesson survives being run again on top of its own resources, and
that lesson 04 removes everything 01-03 created.
"""

from __future__ import annotations

import secrets
import string

import pytest

from helpers.runner import NOTEBOOK_DIR, run_notebooks
from helpers.settings import load_settings

LESSONS = ["00_setup_and_secrets", "01_s3", "02_rds_postgres", "03_dynamodb", "04_cleanup"]


@pytest.mark.timeout(900)
def test_every_lesson_runs_twice_and_cleanup_leaves_nothing(local_stack, monkeypatch, tmp_path):
    from helpers import cleanup

    prefix = "ds-" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(6))
    monkeypatch.setenv("TUTORIAL_PREFIX", prefix)
    paths = [NOTEBOOK_DIR / f"{name}.ipynb" for name in LESSONS]
    assert all(p.exists() for p in paths)
    twice = [p for p in paths for _ in range(2)]
    results = run_notebooks(twice, tmp_path, progress=False, log=lambda _: None)
    failures = [f"{r.notebook}: {r.detail}" for r in results if r.status != "ok"]
    assert not failures, failures
    settings = load_settings()
    assert settings.prefix == prefix
    left = cleanup.find(settings)
    assert left == [], f"lesson 04 left resources behind: {left}"
