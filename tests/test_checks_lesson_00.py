"""Lesson 00's self-check against the wrong answers a learner plausibly gives.

Each wrong answer is what a learner might leave in the exercise cell: the cell's own set-up lines
(from the notebook) followed by their code instead of the solution, run in a namespace as the
notebook would run it. The check must say "Not yet" with a hint, and a "wrong:" line that names the
mistake; the notebook's solution must say "Right". "skipped" is the exercise cell not run at all.
"""

from __future__ import annotations

import os

import nbformat
import pytest
from support import assert_not_yet

from helpers import exercises
from helpers.runner import NOTEBOOK_DIR

LESSON = NOTEBOOK_DIR / "00_setup_and_secrets.ipynb"
SOLUTION = "### BEGIN SOLUTION"


def lesson_cell(tag: str) -> str:
    cells = [c.source for c in nbformat.read(LESSON, as_version=4).cells if tag in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{len(cells)} cells of {LESSON.name} are tagged {tag!r}"
    return cells[0]


def set_up() -> str:
    """The exercise cell's lines before the solution: they write the .env file and export the region."""
    return lesson_cell("exercise").split(SOLUTION)[0]


# wrong answer -> (code after the set-up, or None for a skipped cell; words naming the mistake)
ENV_WRONG: dict[str, tuple[str | None, str]] = {
    "skipped": (None, "`exercise_env` is not set yet"),
    "the file not loaded at all": ("", "TUTORIAL_EXERCISE_TOKEN is not set: the file was not loaded"),
    "only parsed with dotenv_values": (
        "from dotenv import dotenv_values\ndotenv_values(exercise_env)\n",
        "the file was not loaded",
    ),
    "a value typed in the notebook": (
        'os.environ["TUTORIAL_EXERCISE_TOKEN"] = "my-token"\n',
        "typed in the notebook, not loaded from the file",
    ),
    "the file overrides the shell (override=True)": (
        "load_dotenv(exercise_env, override=True)\n",
        "the file overrode the value exported before (us-east-2)",
    ),
}

WRONG_ANSWERS: dict[str, list[str]] = {"check_env_file_loaded": sorted(ENV_WRONG)}


@pytest.fixture
def ns(monkeypatch) -> dict:
    """The notebook's namespace before the exercise (os imported), with the environment restored after."""
    for name in ("TUTORIAL_EXERCISE_REGION", "TUTORIAL_EXERCISE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    yield {"os": os}
    for name in ("TUTORIAL_EXERCISE_REGION", "TUTORIAL_EXERCISE_TOKEN"):
        os.environ.pop(name, None)


@pytest.mark.parametrize("answer", sorted(ENV_WRONG))
def test_env_file_check_refuses(answer, ns, capsys):
    code, mistake = ENV_WRONG[answer]
    if code is not None:
        exec(set_up() + code, ns)  # noqa: S102 - the learner's cell
    capsys.readouterr()
    exercises.check_env_file_loaded(ns=ns)
    assert_not_yet(capsys.readouterr().out, mistake)


def test_env_file_check_never_prints_the_token(ns, capsys):
    exec(set_up() + 'os.environ["TUTORIAL_EXERCISE_TOKEN"] = "my-token"\n', ns)  # noqa: S102
    token = (ns["exercise_env"]).read_text().split("TUTORIAL_EXERCISE_TOKEN=")[1].strip()
    exercises.check_env_file_loaded(ns=ns)
    assert token not in capsys.readouterr().out


def test_the_lessons_solution_is_right(ns, capsys):
    exec(lesson_cell("exercise"), ns)  # noqa: S102 - the lesson's own solution
    capsys.readouterr()
    exercises.check_env_file_loaded(ns=ns)
    assert capsys.readouterr().out == (
        "Right: the file filled in what was missing, and the environment won where both had a value.\n"
    )


def test_the_self_check_cell_passes_no_name_the_exercise_defines():
    """Skipping the exercise cell must not make the check cell raise NameError."""
    assert lesson_cell("self-check").strip().endswith("check_env_file_loaded()")
