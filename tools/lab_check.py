"""A learner's session, in a real browser: ``python -m tools.lab_check [00 01 ...]`` (``make lab-check``).

Issue 17 asks that the student copies be tested as a learner uses them, not only through
papermill: JupyterLab served exactly as ``make lab`` serves it, a student copy opened in it,
"Run All Cells" from the Run menu, and the self-checks read on the page. So this:

1. makes fresh student copies in a temporary folder and starts ``make lab`` on them
   (``LAB_DIR``), on a free port of 127.0.0.1, with a random token, ``--no-browser``
   (``--allow-root`` comes from the Makefile when run as root), the local backend, a prefix of its
   own and JupyterLab settings of its own, so neither a learner's ``student/`` nor their settings
   are touched;
2. opens each lesson's student copy in headless Chromium (Debian's chromium and chromedriver,
   ``.ci/install-browser``; selenium from the site's environment, ``make lab-check``), runs all
   cells through Run > Run All Cells and asserts that every self-check cell reads "Not yet",
   that no output anywhere holds a traceback, and that no exercise of the core path is hidden
   under a collapsed deep-dive heading when the lesson opens;
3. puts the lesson's solution into each exercise cell through the cell's editor (a learner
   pasting it in), runs all cells again and asserts that every self-check reads "Right";
4. stops JupyterLab (the process group it started) and deletes what the run created
   (``python -m helpers clean --yes`` for its prefix).

Exit status 0 when every lesson passes, 1 otherwise, 2 when it cannot run (no browser).

It runs in the site's environment (selenium), which does not have the lessons' packages; what
needs them (the lessons' cells and solutions, a prefix, a free port) it asks of the lessons'
environment: ``<venv>/bin/python -m tools.lab_check --plan 00 01`` prints that as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Lesson 00 takes about 40 s with JupyterLab's start; 01 adds about a minute (two exercises, S3).
DEFAULT_LESSONS = ["00"]
SERVER_START_SECONDS = 120
RUN_ALL_SECONDS = 120
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\w+Error\s+Traceback", re.MULTILINE)

# What the page shows of every cell, in order: type, prompt ("[3]:", "[*]:", "[ ]:") and output
# text (textContent, so cells outside the viewport or under a collapsed heading count too).
CELLS = """
const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
if (!panel) return null;
const status = (panel.querySelector('.jp-Notebook-ExecutionIndicator') || {}).dataset;
return {
  status: status ? status.status : null,
  cells: [...panel.querySelectorAll('.jp-Notebook .jp-Cell')].map(c => ({
    code: c.classList.contains('jp-CodeCell'),
    hidden: c.classList.contains('lm-mod-hidden'),
    prompt: (c.querySelector('.jp-InputPrompt') || {}).textContent || '',
    output: [...c.querySelectorAll('.jp-OutputArea-output')].map(o => o.textContent).join('\\n'),
  })),
};
"""

# Replace the source of cell ``arguments[0]`` through its CodeMirror editor, as a paste does: the
# edit goes through the editor into the notebook's model, as typing would.
PASTE = """
const cell = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell')[arguments[0]];
const content = cell.querySelector('.cm-content');
const tile = content && (content.cmTile || content.cmView);
const view = tile && (tile.root ? tile.root.view : tile.view);
if (!view) return 'no CodeMirror editor found in the cell';
view.focus();
view.dispatch({changes: {from: 0, to: view.state.doc.length, insert: arguments[1]}, userEvent: 'input.paste'});
return view.state.doc.toString() === arguments[1] ? '' : 'the editor does not hold the pasted text';
"""


class LabCheckError(Exception):
    """The check could not run (no browser, JupyterLab did not start); the message says what to do."""


@dataclass
class LessonReport:
    lesson: str
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _prompt_number(prompt: str) -> int | None:
    found = re.search(r"\[(\d+)\]", prompt)
    return int(found.group(1)) if found else None


def start_lab(
    venv: Path, lab_dir: Path, work: Path, env: dict[str, str], port: int
) -> tuple[subprocess.Popen, str, str]:
    """``make lab`` on ``lab_dir``; return the process (a group of its own), base URL and token."""
    token = secrets.token_hex(16)
    lab_args = (
        f"--no-browser --ServerApp.ip=127.0.0.1 --ServerApp.port={port} --ServerApp.port_retries=0 "
        f"--IdentityProvider.token={token}"
    )
    log = (work / "lab.log").open("w")
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"VENV={venv}", f"LAB_DIR={lab_dir}", f"LAB_ARGS={lab_args}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: stopped as a whole, and only it
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabCheckError(f"`make lab` exited ({proc.returncode}):\n{(work / 'lab.log').read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as answer:
                if answer.status == 200:
                    return proc, base, token
        except OSError:
            time.sleep(0.5)
    stop_lab(proc)
    raise LabCheckError(f"JupyterLab did not answer within {SERVER_START_SECONDS} s:\n{(work / 'lab.log').read_text()}")


def stop_lab(proc: subprocess.Popen) -> None:
    """Stop the process group ``make lab`` started (make, JupyterLab and its kernels), nothing else."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _cells(driver) -> dict:
    return driver.execute_script(CELLS) or {"status": None, "cells": []}


def open_notebook(driver, base: str, token: str, name: str, expected_cells: int, seconds: float = 90) -> None:
    """Open ``name`` in JupyterLab and wait for all its cells and an idle kernel."""
    driver.get(f"{base}/lab/tree/{name}?token={token}")
    deadline, page = time.monotonic() + seconds, {}
    while time.monotonic() < deadline:
        page = _cells(driver)
        if page["status"] == "idle" and len(page["cells"]) == expected_cells:
            return
        time.sleep(0.25)
    raise LabCheckError(
        f"{name} did not open within {seconds:.0f} s with {expected_cells} cells and an idle kernel: "
        f"kernel {page.get('status')!r}, {len(page.get('cells', []))} cells on the page"
    )


def run_all(driver, after: int) -> dict:
    """Run > Run All Cells, then wait until every code cell shows an execution count above ``after``.

    Returns the page's cells. When a cell fails, JupyterLab stops there: the wait ends when the
    kernel has been idle for a few seconds with no cell queued, and the caller reads why.
    """
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    menus = driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item")
    (run_menu,) = [m for m in menus if m.text.strip() == "Run"]
    run_menu.click()
    # The item a learner clicks, found by its label ("runmenu:run-all" in JupyterLab 4).
    run_all_cells = (By.XPATH, "//li[contains(@class,'lm-Menu-item')][.//div[text()='Run All Cells']]")
    WebDriverWait(driver, 10).until(lambda d: d.find_elements(*run_all_cells))
    driver.find_element(*run_all_cells).click()
    deadline, idle_since = time.monotonic() + RUN_ALL_SECONDS, None
    page = _cells(driver)
    while time.monotonic() < deadline:
        page = _cells(driver)
        counts = [_prompt_number(c["prompt"]) for c in page["cells"] if c["code"]]
        if counts and all(n is not None and n > after for n in counts) and page["status"] == "idle":
            return page
        queued = any("*" in c["prompt"] for c in page["cells"] if c["code"])
        if page["status"] == "idle" and not queued:
            idle_since = idle_since or time.monotonic()
            if time.monotonic() - idle_since > 5:
                return page  # stopped early: a cell failed
        else:
            idle_since = None
        time.sleep(0.25)
    return page


def _max_count(page: dict) -> int:
    return max([n for c in page["cells"] if c["code"] and (n := _prompt_number(c["prompt"])) is not None] + [0])


def _findings(page: dict, checks: list[int], expect: str, after: int) -> list[str]:
    problems = []
    for index, cell in enumerate(page["cells"]):
        if TRACEBACK.search(cell["output"]):
            problems.append(f"cell {index}: a traceback: {cell['output'][:600]}")
        number = _prompt_number(cell["prompt"])
        if cell["code"] and (number is None or number <= after):
            problems.append(f"cell {index} was not run (prompt {cell['prompt'].strip() or 'empty'})")
    for index in checks:
        text = page["cells"][index]["output"].strip() if index < len(page["cells"]) else ""
        if not text.startswith(expect):
            problems.append(f"self-check cell {index} reads {text[:300]!r}, not {expect!r}")
    return problems


def plan(lessons: list[str]) -> dict:
    """What the browser side needs, computed in the lessons' environment (``--plan``).

    Per lesson: its file name, how many cells its student copy has, which are self-checks, and
    for each exercise the cell a learner who typed the solution has. Plus a free port and a
    prefix of the check's own.
    """
    import nbformat

    from helpers.local.processes import free_port
    from helpers.runner import DEEP_DIVE_TAG, NOTEBOOK_DIR, lesson_notebooks
    from helpers.settings import new_prefix
    from tools import student

    out = []
    for path in lesson_notebooks(NOTEBOOK_DIR, lessons):
        original = nbformat.read(path, as_version=4)
        copy = student.student_copy(original)
        out.append(
            {
                "name": path.name,
                "cells": len(copy.cells),
                "checks": [i for i, c in enumerate(copy.cells) if student.CHECK_TAG in student.tags(c)],
                # exercises of the core path: a learner must see them when the lesson opens
                "core_exercises": [
                    i for i, _ in student.exercise_pairs(original) if DEEP_DIVE_TAG not in student.tags(copy.cells[i])
                ],
                "answers": [
                    [i, student.answered(copy.cells[i].source, student.solutions(original.cells[i].source))]
                    for i, _ in student.exercise_pairs(original)
                ],
            }
        )
    return {"lessons": out, "port": free_port(), "prefix": new_prefix()}


def check_lesson(driver, base: str, token: str, lesson: dict) -> LessonReport:
    """Open the student copy of ``lesson`` (an entry of :func:`plan`), run it and read its checks;
    then with the solutions pasted in."""
    start = time.monotonic()
    report = LessonReport(lesson["name"].removesuffix(".ipynb"))
    checks = lesson["checks"]
    if not checks:
        report.problems.append("no self-check cell in the student copy")
    try:
        open_notebook(driver, base, token, lesson["name"], lesson["cells"])
    except LabCheckError as exc:
        report.problems.append(str(exc))
        return report
    opened = _cells(driver)["cells"]
    for index in lesson["core_exercises"]:
        for cell in (index, index + 1):
            if opened[cell]["hidden"]:
                report.problems.append(
                    f"cell {cell} (a core exercise or its check) is hidden when the lesson opens: a collapsed "
                    "deep-dive heading above it folds it away (give it a heading of the deep dive's level)"
                )
    page = run_all(driver, after=0)
    report.problems += [f"before an answer: {p}" for p in _findings(page, checks, "Not yet", after=0)]
    for exercise, typed in lesson["answers"]:
        trouble = driver.execute_script(PASTE, exercise, typed)
        if trouble:
            report.problems.append(f"cell {exercise}: could not put the solution in: {trouble}")
    if not report.problems:
        before = _max_count(page)
        page = run_all(driver, after=before)
        report.problems += [f"with the solution: {p}" for p in _findings(page, checks, "Right", after=before)]
    report.seconds = time.monotonic() - start
    return report


def _lab_settings(work: Path) -> dict[str, str]:
    """JupyterLab settings and workspaces of the check's own: a fresh learner's, and none of yours."""
    settings, workspaces = work / "lab-settings", work / "lab-workspaces"
    settings.mkdir()
    workspaces.mkdir()
    # Do not ask whether to fetch Jupyter's news: a toast over the page, and a request off the machine.
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    return {"JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(workspaces)}


def check(lessons: list[str], venv: Path) -> int:
    from tools.site_check import browser

    python = venv / "bin" / "python"
    if not python.exists():
        raise LabCheckError(f"no lessons' environment at {venv}: run `make setup` (or pass --venv)")
    asked = subprocess.run(
        [str(python), "-m", "tools.lab_check", "--plan", *lessons], cwd=ROOT, capture_output=True, text=True
    )
    if asked.returncode:
        raise LabCheckError(f"the lessons' environment could not list the lessons:\n{asked.stderr[-2000:]}")
    todo = json.loads(asked.stdout)
    if not todo["lessons"]:
        raise LabCheckError(f"no lesson matches {lessons}")
    reports: list[LessonReport] = []
    with tempfile.TemporaryDirectory(prefix="lab-check-") as tmp:
        work = Path(tmp)
        lab_dir = work / "student"
        env = {**os.environ, "TUTORIAL_BACKEND": "local", "TUTORIAL_PREFIX": todo["prefix"], **_lab_settings(work)}
        proc, base, token = start_lab(venv, lab_dir, work, env, todo["port"])
        print(f"JupyterLab (make lab) on {base}, student copies in {lab_dir}, prefix {todo['prefix']}")
        try:
            (work / "profile").mkdir()
            driver = browser(work / "profile")
            try:
                for lesson in todo["lessons"]:
                    report = check_lesson(driver, base, token, lesson)
                    reports.append(report)
                    print(f"{'ok  ' if not report.problems else 'FAIL'} {report.lesson} ({report.seconds:.0f} s)")
            finally:
                driver.quit()
        finally:
            stop_lab(proc)
            subprocess.run(
                [str(python), "-m", "helpers", "clean", "--yes"], cwd=ROOT, env=env, capture_output=True, timeout=300
            )
    failed = [r for r in reports if r.problems]
    for report in failed:
        print(f"\n{report.lesson}:")
        for problem in report.problems:
            print(f"  - {problem}")
    if failed:
        return 1
    print(f"\nlab check: {', '.join(r.lesson for r in reports)}: every check said 'Not yet', then 'Right'")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.lab_check", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("lessons", nargs="*", default=DEFAULT_LESSONS, help="lesson numbers (default: 00)")
    parser.add_argument(
        "--venv",
        type=Path,
        default=Path(os.environ.get("VENV", ".venv")),
        help="the lessons' virtual environment that `make lab` uses (default: $VENV or .venv)",
    )
    parser.add_argument("--plan", action="store_true", help=argparse.SUPPRESS)  # run in the lessons' environment
    args = parser.parse_args(argv)
    if args.plan:
        print(json.dumps(plan(args.lessons)))
        return 0
    venv = args.venv if args.venv.is_absolute() else ROOT / args.venv
    try:
        return check(args.lessons, venv)
    except LabCheckError as exc:
        print(f"lab check could not run: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the site check's SiteError (no browser) among them
        from tools.site import SiteError

        if isinstance(exc, SiteError):
            print(f"lab check could not run: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
