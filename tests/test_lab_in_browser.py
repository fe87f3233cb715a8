"""Learners start from the student copies: ``make lab`` makes them if missing (never overwriting a
learner's answers) and opens JupyterLab on them; a copy runs from its own folder; and, in a real
browser, a learner who runs all cells reads "Not yet" at every check, then "Right" once the
solutions are in (tools/lab_check.py, also run by ``make lab-check`` in .ci/run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.runner import NOTEBOOK_DIR, lesson_notebooks, run_notebooks
from helpers.settings import REPO_ROOT
from tools import lab_check, student


def outputs(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []))


def test_keep_existing_writes_only_the_missing_copies_and_never_overwrites_answers(tmp_path, capsys):
    out = tmp_path / "student"
    assert student.main(["00", "04", "--out", str(out)]) == 0
    mine = out / "00_setup_and_secrets.ipynb"
    mine.write_text(mine.read_text().replace(student.PLACEHOLDER, "load_dotenv(exercise_env)  # my answer"))
    (out / "04_cleanup.ipynb").unlink()
    capsys.readouterr()
    assert student.main(["00", "04", "--out", str(out), "--keep-existing"]) == 0
    assert "# my answer" in mine.read_text()
    assert (out / "04_cleanup.ipynb").exists()
    said = capsys.readouterr().out
    assert "04_cleanup.ipynb" in said and "00_setup" not in said


def test_keep_existing_says_when_a_kept_copy_is_older_than_its_lesson(tmp_path, capsys):
    out = tmp_path / "student"
    assert student.main(["00", "--out", str(out)]) == 0
    lesson = NOTEBOOK_DIR / "00_setup_and_secrets.ipynb"
    os.utime(out / lesson.name, (lesson.stat().st_mtime - 60, lesson.stat().st_mtime - 60))
    capsys.readouterr()
    assert student.main(["00", "--out", str(out), "--keep-existing"]) == 0
    said = capsys.readouterr().out
    assert "kept (your answers)" in said and "changed since" in said


def test_make_lab_makes_the_missing_copies_and_serves_the_student_folder():
    recipe = subprocess.run(["make", "-n", "lab"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    lines = recipe.splitlines()
    make_copies = next(i for i, line in enumerate(lines) if "-m tools.student --keep-existing --out student" in line)
    serve = next(i for i, line in enumerate(lines) if "/bin/jupyter lab" in line)
    assert make_copies < serve and lines[serve].rstrip().endswith(" student/")
    assert "notebooks/" not in lines[serve]


@pytest.mark.timeout(180)
def test_a_student_copy_runs_from_its_own_folder_and_every_check_says_not_yet(tmp_path, local_stack):
    """JupyterLab starts a kernel in the notebook's folder (student/, not notebooks/): setup() must
    find the repository (its state, .env, the series' prefix) from the helpers package, not from
    the current folder, and the lesson must write nowhere but its work folder."""
    folder = tmp_path / "student"
    (lesson,) = lesson_notebooks(NOTEBOOK_DIR, ["00"])
    student.write_student_copies(folder, ["00"])
    before = sorted(p.name for p in folder.iterdir())
    (result,) = run_notebooks([folder / lesson.name], tmp_path / "runs", progress=False, log=lambda _: None)
    assert result.status == "ok", result.detail
    executed = nbformat.read(tmp_path / "runs" / lesson.name, as_version=4)
    banner = outputs(executed.cells[next(i for i, c in enumerate(executed.cells) if "setup()" in c.source)])
    assert f"Prefix    {local_stack.prefix}" in banner
    checks = [outputs(c) for c in executed.cells if student.CHECK_TAG in c.metadata.get("tags", [])]
    assert checks and all(text.startswith("Not yet") and "Traceback" not in text for text in checks), checks
    assert sorted(p.name for p in folder.iterdir()) == before, "the lesson wrote into the student folder"


# ---------------------------------------------------------------------- what the browser check reads


def page(*cells: tuple[bool, str, str]) -> dict:
    return {"status": "idle", "cells": [{"code": c, "prompt": p, "output": o} for c, p, o in cells]}


def test_the_browser_check_reads_prompts_checks_and_tracebacks():
    good = page((False, "", ""), (True, "[1]:", "x"), (True, "[2]:", "Not yet.\nHint: try"))
    assert "hidden: c.classList.contains('lm-mod-hidden')" in lab_check.CELLS  # JupyterLab's collapsed cells
    assert lab_check._findings(good, [2], "Not yet", after=0) == []
    assert lab_check._max_count(good) == 2
    stopped = page((True, "[3]:", "NameError    Traceback (most recent call last)"), (True, "[ ]:", ""))
    found = lab_check._findings(stopped, [1], "Not yet", after=2)
    assert any("cell 0: a traceback" in f for f in found)
    assert any("cell 1 was not run" in f for f in found)
    assert any("self-check cell 1 reads ''" in f for f in found)
    stale = page((True, "[2]:", "Right: yes"))
    assert lab_check._findings(stale, [0], "Right", after=2) == ["cell 0 was not run (prompt [2]:)"]


def test_the_browser_check_plans_from_the_lessons_and_their_solutions():
    todo = lab_check.plan(["00"])
    (lesson,) = todo["lessons"]
    original = nbformat.read(NOTEBOOK_DIR / lesson["name"], as_version=4)
    assert lesson["cells"] == len(original.cells)
    assert lesson["checks"] == [i for i, c in enumerate(original.cells) if student.CHECK_TAG in student.tags(c)]
    for index, typed in lesson["answers"]:
        source = original.cells[index].source
        assert typed == "\n".join(line for line in source.splitlines() if not student._MARKER.match(line))
    pairs = student.exercise_pairs(original)
    assert lesson["core_exercises"] == [i for i, _ in pairs if "deep-dive" not in student.tags(original.cells[i])]
    assert todo["prefix"] and todo["port"] > 0


# ---------------------------------------------------------------------- the learner, in Chromium


def _docs_python() -> Path | None:
    """The site's environment (selenium), next to the one running the tests or the default."""
    for candidate in (os.environ.get("DOCS_VENV"), f"{sys.prefix}-docs", str(REPO_ROOT / ".venv-docs")):
        if candidate and (Path(candidate) / "bin" / "python").exists():
            python = Path(candidate) / "bin" / "python"
            if subprocess.run([str(python), "-c", "import selenium"], capture_output=True).returncode == 0:
                return python
    return None


@pytest.mark.timeout(300)
def test_a_learner_in_chromium_reads_not_yet_then_right():
    missing = [tool for tool in ("chromium", "chromedriver") if not shutil.which(tool)]
    if missing and not os.environ.get("SITE_CHECK_BROWSER"):
        pytest.skip(f"no {' or '.join(missing)}: install them with `sudo bash .ci/install-browser` (.ci/run does)")
    python = _docs_python()
    if python is None:
        pytest.skip("no site environment with selenium: `make lab-check` makes one (.ci/run runs it)")
    done = subprocess.run(
        [str(python), "-m", "tools.lab_check", "00", "--venv", sys.prefix],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-3000:]
    assert "every check said 'Not yet', then 'Right'" in done.stdout
