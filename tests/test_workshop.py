"""A workshop: two participants run the lessons at the same time on one backend.

Neither may collide with the other, and each one's cleanup removes only their own
resources. The runs are real `python -m helpers run` processes, started together.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import random_prefix

from helpers import cleanup

REPO = Path(__file__).resolve().parent.parent
LESSONS = ["00", "01", "02", "03"]


@pytest.mark.timeout(600)
def test_two_participants_at_once_do_not_collide(local_stack, tmp_path):
    prefixes = [random_prefix(), random_prefix()]
    runs = []
    for prefix in prefixes:
        env = dict(os.environ, TUTORIAL_PREFIX=prefix)
        cmd = [sys.executable, "-m", "helpers", "run", *LESSONS, "--keep", "--output-dir", str(tmp_path / prefix)]
        runs.append(
            subprocess.Popen(cmd, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        )
    outputs = [run.communicate(timeout=540)[0] for run in runs]
    try:
        for run, out in zip(runs, outputs):
            assert run.returncode == 0, out[-3000:]
        mine, theirs = (dataclasses.replace(local_stack, prefix=p) for p in prefixes)
        expected = {cleanup.BUCKET, cleanup.TABLE, cleanup.DB_INSTANCE, cleanup.SECRET, cleanup.SECURITY_GROUP}
        assert {r.kind for r in cleanup.find(mine)} == expected
        assert {r.kind for r in cleanup.find(theirs)} == expected

        cleanup.clean(mine, yes=True, log=lambda _: None)
        assert cleanup.find(mine) == []
        assert {r.kind for r in cleanup.find(theirs)} == expected, "one participant's cleanup touched the other's"
    finally:
        for prefix in prefixes:
            cleanup.clean(dataclasses.replace(local_stack, prefix=prefix), yes=True, log=lambda _: None)
