"""How long a lesson takes a learner, estimated from its cells: ``python -m tools.lesson_time``.

Why a model rather than a stopwatch: the README costs a two-hour workshop, and a lesson that grows
by a few cells should show what that costs before a room of learners finds out. The model is
simple on purpose, so that anyone editing a lesson can predict what a change adds:

- **prose**: the words of every markdown cell (code inside markdown counts as words) at
  ``WORDS_PER_MINUTE`` (180, a careful reading speed for technical text);
- **code**: ``CODE_CELL_MINUTES`` (0.75) per code cell to read and run it, plus
  ``MINUTES_PER_EXTRA_LINE`` (0.1) per line beyond ``FREE_LINES`` (8) lines;
- **exercises**: ``EXERCISE_MINUTES`` (6) per cell tagged ``exercise``, in place of its code cost;
  it includes the ``self-check`` cell that follows, which costs nothing more;
- cells tagged ``parameters``, ``nav``, ``at-a-glance`` or ``recall-answers`` count as prose only
  (their words are read; a parameters cell is not studied as code);
- **waits that AWS imposes** (on AWS, not on the local backend): a constant per lesson in
  ``AWS_WAITS`` (02: CreateDBInstance, 04: DeleteDBInstance, 05: its own instance), reported
  apart and left out of the workshop target, because a workshop creates the instances
  beforehand (``python -m helpers workshop prepare``).

Every cell tagged ``deep-dive`` counts toward the lesson's deep-dive minutes, every other cell
toward its core path. The target: the core path of lessons 00-04 together, exercises included,
fits ``WORKSHOP_MINUTES`` (120).

``python -m tools.lesson_time``             a table per lesson and the total of 00-04's core path
``python -m tools.lesson_time --markdown``  the README's block: the table, and a two-hour and a
                                            half-day agenda built from it
``python -m tools.lesson_time --write-readme``  puts that block, and each lesson's minutes in the
                                            lesson table, into README.md (after a lesson changes)
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.runner import DEEP_DIVE_TAG, NOTEBOOK_DIR, lesson_notebooks

WORDS_PER_MINUTE = 180
CODE_CELL_MINUTES = 0.75
FREE_LINES = 8
MINUTES_PER_EXTRA_LINE = 0.1
EXERCISE_MINUTES = 6.0
WORKSHOP_MINUTES = 120
# The lessons a two-hour workshop covers (05 is the bonus).
WORKSHOP_LESSONS = ("00", "01", "02", "03", "04")

EXERCISE_TAG = "exercise"
# The check that follows an exercise is part of its six minutes.
SELF_CHECK_TAG = "self-check"
PROSE_ONLY_TAGS = frozenset({"parameters", "nav", "at-a-glance", "recall-answers"})

# Minutes AWS makes a learner wait, by lesson number: the series' estimate for one small instance
# (db.t4g.micro, 20 GB). An instance is billed and usable only once its status reads "available",
# and "creating" / "deleting" come first
# (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html); boto3's
# db_instance_available waiter polls every 30 s for up to 60 attempts
# (https://boto3.amazonaws.com/v1/documentation/api/latest/reference/services/rds/waiter/DBInstanceAvailable.html).
AWS_WAITS: dict[str, float] = {"02": 10.0, "04": 5.0, "05": 10.0}
AWS_WAIT_WHAT: dict[str, str] = {
    "02": "the new DB instance (none when `workshop prepare` made the instances)",
    "04": "the DB instance's deletion",
    "05": "the lesson's DB instance",
}


@dataclass(frozen=True)
class CellCost:
    """One cell's minutes, and whether it lies on the core path."""

    minutes: float
    deep_dive: bool
    exercise: bool


@dataclass(frozen=True)
class LessonTime:
    """A lesson's estimate: core and deep-dive minutes, its exercises, and AWS's waits."""

    lesson: str  # the notebook's stem, e.g. "01_s3"
    core_minutes: float
    deep_dive_minutes: float
    core_exercises: int
    deep_dive_exercises: int
    aws_wait_minutes: float

    @property
    def number(self) -> str:
        return self.lesson[:2]


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def words(text: str) -> int:
    """Words as a reader meets them: whitespace-separated tokens, code and links included."""
    return len(text.split())


def cell_cost(cell) -> CellCost:
    """The minutes one cell costs by the model in the module's docstring."""
    tags = _tags(cell)
    deep = DEEP_DIVE_TAG in tags
    if cell["cell_type"] == "markdown" or tags & PROSE_ONLY_TAGS:
        return CellCost(words(cell["source"]) / WORDS_PER_MINUTE, deep, False)
    if cell["cell_type"] != "code":
        return CellCost(0.0, deep, False)  # raw cells are not shown to a learner
    if EXERCISE_TAG in tags:
        return CellCost(EXERCISE_MINUTES, deep, True)
    if SELF_CHECK_TAG in tags:
        return CellCost(0.0, deep, False)
    lines = len(cell["source"].splitlines())
    extra = max(0, lines - FREE_LINES) * MINUTES_PER_EXTRA_LINE
    return CellCost(CODE_CELL_MINUTES + extra, deep, False)


def estimate(nb, lesson: str) -> LessonTime:
    """Estimate notebook ``nb`` (an nbformat node or its dict); ``lesson`` is its stem."""
    costs = [cell_cost(cell) for cell in nb["cells"]]
    return LessonTime(
        lesson=lesson,
        core_minutes=sum(c.minutes for c in costs if not c.deep_dive),
        deep_dive_minutes=sum(c.minutes for c in costs if c.deep_dive),
        core_exercises=sum(c.exercise and not c.deep_dive for c in costs),
        deep_dive_exercises=sum(c.exercise and c.deep_dive for c in costs),
        aws_wait_minutes=AWS_WAITS.get(lesson[:2], 0.0),
    )


def estimate_lessons(directory: Path = NOTEBOOK_DIR) -> list[LessonTime]:
    """Every numbered lesson in ``directory``, in order."""
    import nbformat

    return [estimate(nbformat.read(path, as_version=4), path.stem) for path in lesson_notebooks(directory)]


def workshop_core_minutes(times: list[LessonTime]) -> float:
    """The core path of the workshop's lessons (00-04) together, exercises included."""
    return sum(t.core_minutes for t in times if t.number in WORKSHOP_LESSONS)


def _exercises(t: LessonTime) -> str:
    return f"{t.core_exercises} + {t.deep_dive_exercises}" if t.deep_dive_exercises else str(t.core_exercises)


def table(times: list[LessonTime]) -> str:
    """The plain-text table ``python -m tools.lesson_time`` prints."""
    width = max([len(t.lesson) for t in times] + [len("lesson")])
    lines = [
        f"{'lesson':<{width}}  {'core min':>8}  {'deep-dive min':>13}  {'exercises':>9}  {'AWS waits min':>13}",
        f"{'-' * width}  {'-' * 8}  {'-' * 13}  {'-' * 9}  {'-' * 13}",
    ]
    for t in times:
        lines.append(
            f"{t.lesson:<{width}}  {t.core_minutes:8.0f}  {t.deep_dive_minutes:13.0f}  {_exercises(t):>9}  "
            f"{t.aws_wait_minutes:13.0f}"
        )
    core = workshop_core_minutes(times)
    verdict = "fits" if core <= WORKSHOP_MINUTES else "does NOT fit"
    lines.append(
        f"\ncore path of {WORKSHOP_LESSONS[0]}-{WORKSHOP_LESSONS[-1]}: {core:.0f} min, exercises included "
        f"({verdict} a {WORKSHOP_MINUTES}-minute workshop); deep dives of "
        f"{WORKSHOP_LESSONS[0]}-{WORKSHOP_LESSONS[-1]}: "
        f"{sum(t.deep_dive_minutes for t in times if t.number in WORKSHOP_LESSONS):.0f} min; "
        f"AWS waits, on AWS only: {sum(t.aws_wait_minutes for t in times if t.number in WORKSHOP_LESSONS):.0f} min"
    )
    lines.append("(exercises: core + deep dive; waits are left out of the target, see the README's agendas)")
    return "\n".join(lines)


def markdown(times: list[LessonTime]) -> str:
    """The README's table: minutes per lesson, and the 00-04 total."""
    lines = [
        "| lesson | core path (min) | deep dives (min) | exercises (core + deep dive) | AWS waits (min, on AWS only) |",
        "|---|---:|---:|---:|---:|",
    ]
    for t in times:
        lines.append(
            f"| {t.lesson} | {t.core_minutes:.0f} | {t.deep_dive_minutes:.0f} | {_exercises(t)} | "
            f"{t.aws_wait_minutes:.0f} |"
        )
    workshop = [t for t in times if t.number in WORKSHOP_LESSONS]
    lines.append(
        f"| **{WORKSHOP_LESSONS[0]}-{WORKSHOP_LESSONS[-1]}** | **{workshop_core_minutes(times):.0f}** | "
        f"**{sum(t.deep_dive_minutes for t in workshop):.0f}** | "
        f"**{sum(t.core_exercises for t in workshop)} + {sum(t.deep_dive_exercises for t in workshop)}** | "
        f"**{sum(t.aws_wait_minutes for t in workshop):.0f}** |"
    )
    return "\n".join(lines)


# A half day: the core path and deep dives of 00-04, with a break after these lessons.
HALF_DAY_BREAK_AFTER = ("01", "03")
BREAK_MINUTES = 15


def agenda(times: list[LessonTime], *, half_day: bool) -> list[tuple[str, float]]:
    """(what, minutes) in order: the two-hour workshop is the core path of 00-04; the half day
    adds the deep dives, two breaks and AWS's waits (on AWS; the local backend does not wait)."""
    slots: list[tuple[str, float]] = []
    for t in (t for t in times if t.number in WORKSHOP_LESSONS):
        if half_day:
            slots.append((f"{t.lesson}: core path and deep dives", t.core_minutes + t.deep_dive_minutes))
            if t.aws_wait_minutes:
                slots.append(
                    (
                        f"{t.lesson}: on AWS only, waiting for {AWS_WAIT_WHAT.get(t.number, 'AWS')}",
                        t.aws_wait_minutes,
                    )
                )
            if t.number in HALF_DAY_BREAK_AFTER:
                slots.append(("break", BREAK_MINUTES))
        else:
            slots.append((f"{t.lesson}: core path", t.core_minutes))
    return slots


def _clock(minutes: float) -> str:
    whole = round(minutes)
    return f"{whole // 60}:{whole % 60:02d}"


def agenda_markdown(times: list[LessonTime], *, half_day: bool) -> str:
    """An agenda as a Markdown table: start time, what, minutes; then the end."""
    lines = ["| start | what | min |", "|---|---|---:|"]
    clock = 0.0
    for what, minutes in agenda(times, half_day=half_day):
        lines.append(f"| {_clock(clock)} | {what} | {minutes:.0f} |")
        clock += minutes
    lines.append(f"| {_clock(clock)} | end | |")
    return "\n".join(lines)


def readme_block(times: list[LessonTime]) -> str:
    """What ``--markdown`` prints: the README's table and agendas, generated, never typed."""
    return "\n\n".join(
        [
            markdown(times),
            "**Two hours**: the core path of lessons 00-04, exercises included; deep dives are for later.",
            agenda_markdown(times, half_day=False),
            "**Half a day**: lessons 00-04 with their deep dives, two breaks, and AWS's waits.",
            agenda_markdown(times, half_day=True),
        ]
    )


README = NOTEBOOK_DIR.parent / "README.md"
_BLOCK = re.compile(r"(<!-- lesson-time: [^>]*-->\n)(.*?)(\n<!-- /lesson-time -->)", re.S)
# A row of the README's lesson table: "| 01 | [S3](...) | ... | 31 + 21 |" (minutes last).
_ROW = re.compile(r"^(\| (\d\d) \| \[.*\| )(\d+ \+ \d+)( \|)$", re.M)


def _minutes(t: LessonTime) -> str:
    return f"{t.core_minutes:.0f} + {t.deep_dive_minutes:.0f}"


def readme_with_times(text: str, times: list[LessonTime]) -> str:
    """``text`` (the README) with the generated block and the lesson table's minutes brought up to date."""
    if not _BLOCK.search(text):
        raise ValueError("README.md lacks the <!-- lesson-time: ... --> ... <!-- /lesson-time --> block")
    by_number = {t.number: t for t in times}
    text = _BLOCK.sub(lambda m: m.group(1) + readme_block(times) + m.group(3), text)
    return _ROW.sub(
        lambda m: (
            m.group(1) + (_minutes(by_number[m.group(2)]) if m.group(2) in by_number else m.group(3)) + m.group(4)
        ),
        text,
    )


# "Time: about 26 min (core path) + 14 min (deep dives)" in a lesson's at-a-glance cell, or, in a
# lesson without deep dives, "Time: about 46 min".
_GLANCE = re.compile(r"(Time: about )(\d+)( min)(?:( \(core path\) \+ )(\d+)( min \(deep dives\)))?")


def glance_with_times(source: str, t: LessonTime) -> str:
    """An at-a-glance cell's ``source`` with its "Time: about ..." minutes set to ``t``'s.

    The learner reads these minutes before starting; written by hand they drifted from the model
    (lesson 01 said 31 while the model said 26), so the tool writes them as it writes the README's.
    """

    def minutes(m: re.Match) -> str:
        head = f"{m.group(1)}{t.core_minutes:.0f}{m.group(3)}"
        if m.group(4) is None:
            return head
        return f"{head}{m.group(4)}{t.deep_dive_minutes:.0f}{m.group(6)}"

    if not _GLANCE.search(source):
        raise ValueError(f"{t.lesson}: its at-a-glance cell lacks 'Time: about N min'")
    return _GLANCE.sub(minutes, source, count=1)


def lessons_with_times(directory: Path, times: list[LessonTime]) -> list[Path]:
    """Write each lesson's at-a-glance minutes (:func:`glance_with_times`); the lessons changed."""
    import nbformat

    changed = []
    by_lesson = {t.lesson: t for t in times}
    for path in lesson_notebooks(directory):
        nb = nbformat.read(path, as_version=4)
        touched = False
        for cell in nb.cells:
            if "at-a-glance" in cell.get("metadata", {}).get("tags", []) and path.stem in by_lesson:
                new = glance_with_times(cell.source, by_lesson[path.stem])
                touched |= new != cell.source
                cell.source = new
        if touched:
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.lesson_time", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--markdown", action="store_true", help="print the README's Markdown table and agendas")
    parser.add_argument(
        "--write-readme",
        action="store_true",
        help="bring README.md's minutes, and each lesson's at-a-glance minutes, up to date",
    )
    parser.add_argument("--notebooks-dir", type=Path, default=NOTEBOOK_DIR, help="folder of NN_*.ipynb lessons")
    args = parser.parse_args(argv)
    times = estimate_lessons(args.notebooks_dir)
    if not times:
        print(f"No NN_*.ipynb lesson in {args.notebooks_dir}.", file=sys.stderr)
        return 1
    if args.write_readme:
        README.write_text(readme_with_times(README.read_text(), times))
        print(f"README.md: lesson times brought up to date ({workshop_core_minutes(times):.0f} min of core path)")
        for path in lessons_with_times(args.notebooks_dir, times):
            print(f"{path.name}: its at-a-glance minutes brought up to date")
        return 0
    print(readme_block(times) if args.markdown else table(times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
