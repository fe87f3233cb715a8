"""The self-checks of the "Your turn" exercises (helpers.exercises), against plain moto.

Each check is tried as a learner meets it: before any answer, with a typical wrong answer, and with
a right one. Before and wrong must say "Not yet" with a hint, never raise; right must say "Right".
(The checks of every lesson, and the wrong answers each must refuse, are in
test_checks_lesson_NN.py.) The committed notebooks must show every check passing against the solutions.
"""

from __future__ import annotations

import boto3
import nbformat
import pytest
from support import assert_not_yet, in_process_moto, use_moto

from helpers import exercises
from helpers.runner import NOTEBOOK_DIR

PREFIX = "ws-alice"


@pytest.fixture(scope="module")
def moto_url():
    with in_process_moto() as url:
        yield url


@pytest.fixture
def aws(moto_url, monkeypatch):
    use_moto(monkeypatch, moto_url)


def said(capsys) -> str:
    return capsys.readouterr().out


@pytest.fixture
def bucket(aws):
    s3 = boto3.client("s3")
    name = f"{PREFIX}-exercises-{id(s3) % 10_000}"
    s3.create_bucket(Bucket=name)
    return name


def test_a_check_that_cannot_finish_says_so_without_a_traceback(aws, tmp_path, capsys):
    exercises.check_python_upload("ws-alice-no-such-bucket", "code/", ns={"project": tmp_path})
    assert_not_yet(said(capsys), "the check could not finish: NoSuchBucket", "--include")


def test_every_committed_self_check_shows_the_solution_passing():
    checks = 0
    for path in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if "self-check" in cell.metadata.get("tags", []):
                checks += 1
                text = "".join(out.get("text", "") for out in cell.get("outputs", []))
                assert text.startswith("Right: "), f"{path.name}: {cell.source}\n{text}"
    assert checks >= 8
