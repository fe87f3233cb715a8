"""Student copies of the lessons: the exercises' solutions replaced by a placeholder.

``python -m tools.student``            writes ``student/NN_*.ipynb`` for every lesson
``python -m tools.student 01 03``      only some lessons
``python -m tools.student --out DIR``  somewhere else (``student/`` is git-ignored)
``python -m tools.student --keep-existing``  only the copies that are missing: what ``make lab``,
                                       Binder and Codespaces run, so a learner's answers are never
                                       overwritten (``make student`` replaces them all)

Learners work in the student copies (``make lab`` opens JupyterLab on ``student/``); the
filled-in lessons in ``notebooks/`` are for instructors, CI and the website. A copy runs from
``student/`` as the lesson does from ``notebooks/``: ``helpers`` is installed into the
environment (``-e .``) and finds the repository from its own location, not from the notebook's
folder, and each lesson writes its files under the state folder (``tut.workdir``).

How the notebooks mark exercises (the conventions of nbgrader, the grading tool of Project Jupyter,
so an instructor who knows it reads them at a glance, and the notebooks could be fed to it):

* the code cell of a "Your turn" exercise is tagged ``exercise``; in it, the lines between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION`` are the solution. Lines outside the markers are the
  exercise's scaffolding (a folder to work on, a variable to fill in) and stay in the student copy.
* the cell right after it, tagged ``self-check``, calls a check from ``helpers.exercises``.

The markers stay in the committed notebooks, so CI (``make lessons``, nbval) runs every exercise
with its solution and every self-check against it. Cell tags, rather than nbgrader's own cell
metadata, because they are what papermill (``parameters``) and nbval (``nbval-ignore-output``)
already read here, and JupyterLab shows and edits them without an extension.

A student copy is the notebook with each solution block replaced by ``# YOUR CODE HERE`` (plus
``pass`` inside an indented block, so a function stays valid Python) and the outputs of exercise
and self-check cells cleared; every other cell, output and metadata is kept as it is. Unlike
nbgrader's stub we add no ``raise NotImplementedError()``: the self-check, not a traceback, tells
the learner what is missing ("Not yet: ... Hint: ..."), and "Run all" still reaches the end.
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

from helpers.runner import NOTEBOOK_DIR, lesson_notebooks
from helpers.settings import REPO_ROOT

EXERCISE_TAG = "exercise"
CHECK_TAG = "self-check"
BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
PLACEHOLDER = "# YOUR CODE HERE"
DEFAULT_OUT = REPO_ROOT / "student"

_MARKER = re.compile(r"^(?P<indent>[ \t]*)### (?P<which>BEGIN|END) SOLUTION[ \t]*$")


class MarkupError(ValueError):
    """An exercise cell whose markers are missing or unbalanced, or markers outside an exercise."""


def tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def strip_solution(source: str, where: str = "cell") -> str:
    """``source`` with every solution block replaced by the placeholder, at the block's indent."""
    out: list[str] = []
    inside: str | None = None
    blocks = 0
    for line in source.splitlines():
        marker = _MARKER.match(line)
        if marker and marker["which"] == "BEGIN":
            if inside is not None:
                raise MarkupError(f"{where}: {BEGIN} inside another solution block")
            inside = marker["indent"]
            out.append(inside + PLACEHOLDER)
            if inside:
                out.append(inside + "pass")
        elif marker:
            if inside is None:
                raise MarkupError(f"{where}: {END} without {BEGIN}")
            inside = None
            blocks += 1
        elif inside is None:
            out.append(line)
    if inside is not None:
        raise MarkupError(f"{where}: {BEGIN} without {END}")
    if not blocks:
        raise MarkupError(f"{where}: an exercise cell without a {BEGIN} ... {END} block")
    return "\n".join(out)


def solutions(source: str) -> list[str]:
    """The solution blocks of a cell, markers excluded (what a learner would type in)."""
    found, current = [], None
    for line in source.splitlines():
        marker = _MARKER.match(line)
        if marker:
            if marker["which"] == "BEGIN":
                current = []
            else:
                found.append("\n".join(current or []))
                current = None
        elif current is not None:
            current.append(line)
    return found


def answered(student_source: str, answers: list[str]) -> str:
    """A student cell with each placeholder replaced by the next of ``answers``: what a learner who
    typed the solution has (the student-copy tests use it to put the solutions back)."""
    out: list[str] = []
    answers = list(answers)
    lines = student_source.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() == PLACEHOLDER and answers:
            out.extend(answers.pop(0).splitlines())
            if i + 1 < len(lines) and lines[i].startswith((" ", "\t")) and lines[i + 1].strip() == "pass":
                i += 1
        else:
            out.append(lines[i])
        i += 1
    if answers:
        raise MarkupError(f"{len(answers)} answer(s) left over: fewer placeholders than solutions")
    return "\n".join(out)


def exercise_pairs(nb) -> list[tuple[int, int]]:
    """(exercise cell index, self-check cell index) for every exercise; checks the markup."""
    pairs = []
    for i, cell in enumerate(nb.cells):
        where = f"cell {i}"
        marked = any(_MARKER.match(line) for line in cell.source.splitlines())
        if EXERCISE_TAG in tags(cell):
            if cell.cell_type != "code":
                raise MarkupError(f"{where}: the {EXERCISE_TAG!r} tag belongs on a code cell")
            strip_solution(cell.source, where)  # raises on bad markers
            following = nb.cells[i + 1] if i + 1 < len(nb.cells) else None
            if following is None or CHECK_TAG not in tags(following):
                raise MarkupError(f"{where}: an exercise must be followed by a cell tagged {CHECK_TAG!r}")
            pairs.append((i, i + 1))
        elif marked:
            raise MarkupError(f"{where}: solution markers in a cell not tagged {EXERCISE_TAG!r} would leak")
    return pairs


def _clear(cell) -> None:
    cell.outputs = []
    cell.execution_count = None


def student_copy(nb):
    """A copy of notebook ``nb`` for learners (``nb`` itself is left unchanged)."""
    exercise_pairs(nb)  # validate before changing anything
    out = copy.deepcopy(nb)
    for i, cell in enumerate(out.cells):
        if EXERCISE_TAG in tags(cell):
            cell.source = strip_solution(cell.source, f"cell {i}")
            _clear(cell)
        elif CHECK_TAG in tags(cell):
            _clear(cell)
    return out


def write_student_copies(
    out_dir: Path = DEFAULT_OUT,
    only: list[str] | None = None,
    *,
    keep_existing: bool = False,
    log=print,
) -> list[Path]:
    """Write the student copy of every lesson (or of ``only``) to ``out_dir``; return the paths written.

    ``keep_existing``: leave a copy that is already there (it holds the learner's answers), and
    say so when its lesson has changed since, so the learner knows how to get the new one.
    """
    import nbformat

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in lesson_notebooks(NOTEBOOK_DIR, only):
        target = out_dir / path.name
        if keep_existing and target.exists():
            if target.stat().st_mtime < path.stat().st_mtime:
                log(
                    f"{target.name}: kept (your answers), though notebooks/{path.name} changed since; "
                    "rename yours and run this again (`make lab` does) for the new version"
                )
            continue
        nb = nbformat.read(path, as_version=4)
        copy_ = student_copy(nb)
        nbformat.validate(copy_)
        nbformat.write(copy_, target)
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(
        prog="python -m tools.student", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("only", nargs="*", help="lesson numbers or names (default: all)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default: student/)")
    parser.add_argument(
        "--keep-existing", action="store_true", help="write only the copies that are missing (never overwrite answers)"
    )
    args = parser.parse_args(argv)
    try:
        written = write_student_copies(args.out, args.only or None, keep_existing=args.keep_existing)
    except MarkupError as exc:
        print(f"Cannot make student copies: {exc}", file=sys.stderr)
        return 1
    if not written and args.keep_existing and lesson_notebooks(NOTEBOOK_DIR, args.only or None):
        print(f"Student copies already in {args.out}: kept as they are.")
        return 0
    if not written:
        print("No lesson matched.", file=sys.stderr)
        return 1
    for path in written:
        count = sum(EXERCISE_TAG in tags(c) for c in nbformat.read(path, as_version=4).cells)
        shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        print(f"{shown}  ({count} exercise{'s' if count != 1 else ''})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
