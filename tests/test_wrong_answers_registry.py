"""No exercise without its wrong answers (issue 17, deliverable 4).

A self-check is a test of the learner: it must be able to say "Not yet". So every check a lesson
calls from a ``self-check`` cell has, in ``tests/test_checks_lesson_NN.py``, a module-level
``WRONG_ANSWERS`` entry (check name -> names of the plausible wrong answers that module runs
through it), with at least two wrong answers, one of them "skipped" (the exercise cell not run).
This test reads both sides, the notebooks and those modules, so a new exercise cannot land
without its wrong answers, and a check renamed in a lesson cannot leave its list behind unseen.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

from helpers import exercises
from helpers.runner import NOTEBOOK_DIR, lesson_notebooks

TESTS = Path(__file__).resolve().parent
CHECK_TAG = "self-check"
MIN_WRONG = 2
SKIPPED = "skipped"


def checks_called(source: str) -> set[str]:
    """Names of ``check_*`` functions called in a cell, as ``check_x(...)`` or ``exercises.check_x(...)``.

    IPython lines (``!aws ...``, ``%magic``) are dropped first: they are not Python, and a
    self-check cell has no reason to hold one.
    """
    python = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("!", "%")))
    found = set()
    for node in ast.walk(ast.parse(python)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name.startswith("check_"):
                found.add(name)
    return found


def checks_in_lessons(directory: Path = NOTEBOOK_DIR) -> dict[str, list[str]]:
    """Every check a self-check cell calls -> the lessons that call it."""
    used: dict[str, list[str]] = {}
    for path in lesson_notebooks(directory):
        for cell in nbformat.read(path, as_version=4).cells:
            if CHECK_TAG in cell.metadata.get("tags", []):
                for name in checks_called(cell.source):
                    used.setdefault(name, []).append(path.stem)
    return used


def registered(folder: Path = TESTS) -> dict[str, list[str]]:
    """``WRONG_ANSWERS`` of every ``test_checks_lesson_*.py`` in ``folder``, merged (imported by path)."""
    merged: dict[str, list[str]] = {}
    for path in sorted(folder.glob("test_checks_lesson_*.py")):
        module = sys.modules.get(path.stem)
        if module is None or Path(getattr(module, "__file__", "")).resolve() != path:
            spec = importlib.util.spec_from_file_location(f"_wrong_answers_{path.stem}", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        for check, wrong in getattr(module, "WRONG_ANSWERS", {}).items():
            merged.setdefault(check, []).extend(wrong)
    return merged


def problems(used: dict[str, list[str]], wrong_answers: dict[str, list[str]]) -> list[str]:
    """What is missing, one line per check, naming it and the lessons that call it."""
    out = []
    for check, lessons in sorted(used.items()):
        where = f"{check} (called in {', '.join(sorted(set(lessons)))})"
        wrong = wrong_answers.get(check)
        if wrong is None:
            out.append(f"{where}: no WRONG_ANSWERS entry in tests/test_checks_lesson_NN.py")
            continue
        if len(set(wrong)) < MIN_WRONG:
            out.append(f"{where}: {len(set(wrong))} wrong answer(s) tested, at least {MIN_WRONG} needed")
        if SKIPPED not in wrong:
            out.append(f"{where}: no {SKIPPED!r} wrong answer (the exercise cell not run)")
    return out


# ---------------------------------------------------------------------- the rule, on made-up inputs


def test_a_check_is_found_however_the_cell_calls_it():
    source = (
        "from helpers.exercises import check_a\nfrom helpers import exercises\n\ncheck_a('x')\nexercises.check_b(1)\n"
    )
    assert checks_called(source) == {"check_a", "check_b"}
    assert checks_called("!aws s3 ls\nprint(1)") == set()


def test_a_lesson_check_is_found_in_a_notebook(tmp_path):
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell("check_not_a_self_check()"),
            nbformat.v4.new_code_cell("check_x(ns)", metadata={"tags": [CHECK_TAG]}),
        ]
    )
    nbformat.write(nb, tmp_path / "07_x.ipynb")
    assert checks_in_lessons(tmp_path) == {"check_x": ["07_x"]}


def test_modules_are_read_by_path_and_merged(tmp_path):
    (tmp_path / "test_checks_lesson_07.py").write_text('WRONG_ANSWERS = {"check_x": ["skipped", "off_by_one"]}\n')
    (tmp_path / "test_checks_lesson_08.py").write_text("X = 1\n")
    assert registered(tmp_path) == {"check_x": ["skipped", "off_by_one"]}


@pytest.mark.parametrize(
    ("wrong_answers", "complaint"),
    [
        ({}, "check_x (called in 07_x): no WRONG_ANSWERS entry"),
        ({"check_x": ["skipped"]}, "check_x (called in 07_x): 1 wrong answer(s) tested, at least 2"),
        ({"check_x": ["off_by_one", "hostile"]}, "check_x (called in 07_x): no 'skipped' wrong answer"),
    ],
)
def test_a_check_without_enough_wrong_answers_is_named(wrong_answers, complaint):
    (found,) = problems({"check_x": ["07_x"]}, wrong_answers)
    assert found.startswith(complaint), found
    assert problems({"check_x": ["07_x"]}, {"check_x": ["skipped", "off_by_one"]}) == []


# ---------------------------------------------------------------------- the rule, on the lessons


def test_every_check_the_lessons_call_exists_in_helpers_exercises():
    used = checks_in_lessons()
    assert used, "no self-check cell calls a check_* function: the lessons' tags have changed?"
    missing = sorted(name for name in used if not callable(getattr(exercises, name, None)))
    assert not missing, f"self-check cells call checks that helpers/exercises.py lacks: {missing}"


def test_every_check_the_lessons_call_has_its_wrong_answers_in_the_tests():
    found = problems(checks_in_lessons(), registered())
    assert not found, "Checks without their wrong answers:\n  " + "\n  ".join(found)
