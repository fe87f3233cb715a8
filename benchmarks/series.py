"""The whole series (``python -m helpers run``) against its floor, with the AWS-like lifecycle on and off.

The local emulator makes DB instances and tables pass through AWS's statuses at a pace of seconds
(helpers/aws_lifecycle.py); the series runs once with it (the default) and once without, so the
price of that realism is measured, not guessed.

The floor is what no lesson can avoid: starting the local stack, and one papermill run per
numbered notebook through the same runner, each starting a kernel that imports nothing. Both are
measured from a stopped stack, in subprocesses, so the comparison is like for like. The floor takes
seconds, so one busy moment of the machine can double it: it runs twice and the best counts, which
can only make the series look worse against it, never better.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.cases import Timing, log

FLOOR_RUNS = 2  # the floor is short, so one busy moment can double it; the best of two counts


def _run(args: list[str], **kwargs) -> float:
    return _run_output(args, **kwargs)[0]


def _run_output(args: list[str], **kwargs) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return seconds, done.stdout


def lesson_seconds(summary: str) -> dict[str, float]:
    """{'01': 10.1, ...} from the table ``python -m helpers run`` prints at the end."""
    found = re.findall(r"^(\d\d)_\w+\s+ok\s+([\d.]+)\s*$", summary, flags=re.MULTILINE)
    return {number: float(seconds) for number, seconds in found}


def series_cases(settings) -> list[Timing]:
    from helpers import runner

    notebooks = runner.lesson_notebooks()
    py = sys.executable
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
    names = ", ".join(p.name[:2] for p in notebooks)
    log(f"  series: python -m helpers run ({len(notebooks)} notebooks: {names}) from a stopped stack ...")
    runs = {}
    for lifecycle in ("on", "off"):
        # From a stopped stack each time: the emulator starts with the lifecycle switch of this run.
        run_env = dict(env, TUTORIAL_AWS_LIFECYCLE=lifecycle)
        _run([py, "-m", "helpers", "down"], env=run_env)
        seconds, summary = _run_output([py, "-m", "helpers", "run"], env=run_env)
        per_lesson = lesson_seconds(summary)
        breakdown = ", ".join(f"{n}: {s:.1f} s" for n, s in per_lesson.items())
        log(f"    AWS-like lifecycle {lifecycle:<3} {seconds:7.2f} s ({breakdown})")
        runs[lifecycle] = (seconds, breakdown, per_lesson)
    _run([py, "-m", "helpers", "down"], env=env)

    log(f"  series: floor = stack start + {len(notebooks)} empty notebooks through papermill, best of {FLOOR_RUNS} ...")
    floors = [_floor(py, env, len(notebooks)) for _ in range(FLOOR_RUNS)]
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


def _floor(py: str, env: dict, count: int) -> tuple[float, float]:
    """(stack start, empty kernels) from a stopped stack."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    _run([py, "-m", "helpers", "down"], env=env)
    start = _run([py, "-m", "helpers", "up"], env=env)
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.ipynb"
        nb = new_notebook(cells=[new_code_cell("")])
        nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
        nbformat.write(nb, empty)
        # The runner itself, so the empty kernels start and stop exactly as the lessons' do.
        code = (
            "import sys\n"
            "from pathlib import Path\n"
            "from helpers.runner import run_notebooks\n"
            "results = run_notebooks([Path(sys.argv[2])] * int(sys.argv[1]), Path(sys.argv[3]),"
            " progress=False, log=lambda _: None)\n"
            "sys.exit(any(r.status != 'ok' for r in results))\n"
        )
        kernels = _run([py, "-c", code, str(count), str(empty), str(Path(tmp) / "out")], env=env)
    return start, kernels
