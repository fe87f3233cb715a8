"""The whole series against its floor, with the emulator's AWS-like lifecycle on and off.

The series is what ``python -m helpers run`` does (:func:`helpers.runner.run_series`): start
the local stack, run every lesson with papermill, clean up. The floor is what no lesson can
avoid: starting the stack, and one papermill run per numbered notebook through the same runner,
each starting a kernel that imports nothing. Both are measured from a stopped stack, so the
comparison is like for like. The floor takes seconds, so one busy moment of the machine can
double it: it runs twice and the best counts, which can only make the series look worse against
it, never better.

The local emulator makes DB instances and tables pass through AWS's statuses at a pace of seconds
(helpers/local/aws_lifecycle.py); the series runs once with it (the default) and once without, so
the price of that realism is measured, not guessed. Per-lesson seconds come from the runner's
own results.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from benchmarks.cases import Timing, log

FLOOR_RUNS = 2  # the floor is short, so one busy moment can double it; the best of two counts


def lesson_seconds(results) -> dict[str, float]:
    """{'01': 10.1, ...}: each lesson's seconds, by its number, from the runner's results."""
    return {r.notebook[:2]: round(r.seconds, 1) for r in results if r.status == "ok"}


def _with_lifecycle(value: str):
    """Settings for a run with TUTORIAL_AWS_LIFECYCLE=value (the environment is put back by the caller)."""
    from helpers.settings import load_settings

    os.environ["TUTORIAL_AWS_LIFECYCLE"] = value
    return load_settings()


def _series(settings, notebooks: list[Path]) -> tuple[float, dict[str, float]]:
    from helpers import runner
    from helpers.local import stack

    stack.down(settings)  # from a stopped stack: the emulator starts with this run's lifecycle switch
    with tempfile.TemporaryDirectory() as tmp:
        run = runner.run_series(settings, notebooks, Path(tmp), progress=False, log=lambda _: None)
    if run.failed or not run.cleaned:
        failures = "; ".join(f"{r.notebook}: {r.detail}" for r in run.results if r.status != "ok")
        raise RuntimeError(f"the series did not pass ({failures or 'cleanup left resources'})")
    return run.seconds, lesson_seconds(run.results)


def _floor(settings, count: int) -> tuple[float, float]:
    """(stack start, empty kernels) from a stopped stack."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from helpers import runner
    from helpers.local import stack

    stack.down(settings)
    start = time.perf_counter()
    stack.up(settings)
    started = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.ipynb"
        nb = new_notebook(cells=[new_code_cell("")])
        nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
        nbformat.write(nb, empty)
        # The runner itself, so the empty kernels start and stop exactly as the lessons' do.
        start = time.perf_counter()
        results = runner.run_notebooks([empty] * count, Path(tmp) / "out", progress=False, log=lambda _: None)
        kernels = time.perf_counter() - start
    if any(r.status != "ok" for r in results):
        raise RuntimeError(f"an empty notebook failed: {results}")
    return started, kernels


def series_cases(settings) -> list[Timing]:
    from helpers import runner
    from helpers.local import stack

    notebooks = runner.lesson_notebooks()
    names = ", ".join(p.name[:2] for p in notebooks)
    log(f"  series: the lessons as `python -m helpers run` runs them ({len(notebooks)}: {names}), from a stopped stack")
    before = os.environ.get("TUTORIAL_AWS_LIFECYCLE")
    runs = {}
    try:
        for lifecycle in ("on", "off"):
            seconds, per_lesson = _series(_with_lifecycle(lifecycle), notebooks)
            breakdown = ", ".join(f"{n}: {s:.1f} s" for n, s in per_lesson.items())
            log(f"    AWS-like lifecycle {lifecycle:<3} {seconds:7.2f} s ({breakdown})")
            runs[lifecycle] = (seconds, breakdown, per_lesson)
        log(f"  series: floor = stack start + {len(notebooks)} empty notebooks, best of {FLOOR_RUNS} ...")
        floors = [_floor(_with_lifecycle(before or "on"), len(notebooks)) for _ in range(FLOOR_RUNS)]
    finally:
        if before is None:
            os.environ.pop("TUTORIAL_AWS_LIFECYCLE", None)
        else:
            os.environ["TUTORIAL_AWS_LIFECYCLE"] = before
        stack.down(settings)
    start, kernels = min(floors, key=sum)
    floor = start + kernels
    log(
        f"    {floor:7.2f} s (stack start {start:.1f} s, kernels {kernels:.1f} s; runs: "
        + ", ".join(f"{sum(f):.1f} s" for f in floors)
        + ")"
    )
    group = f"Series: {len(notebooks)} notebooks"
    return [
        *(
            Timing(
                group,
                f"python -m helpers run (AWS-like lifecycle {lifecycle})",
                len(notebooks),
                "notebooks",
                seconds,
                breakdown,
                {"lessons": per_lesson},
            )
            for lifecycle, (seconds, breakdown, per_lesson) in runs.items()
        ),
        Timing(
            group,
            "floor: stack start + empty notebooks",
            len(notebooks),
            "notebooks",
            floor,
            f"start {start:.1f} s + kernels {kernels:.1f} s; best of {FLOOR_RUNS}",
        ),
    ]
