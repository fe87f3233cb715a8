"""The whole series (``python -m helpers run``) against its floor.

The floor is what no lesson can avoid: starting the local stack, and one papermill run per
numbered notebook, each starting a kernel that imports nothing. Both are measured from a stopped
stack, in subprocesses, so the comparison is like for like.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.cases import Timing, log


def _run(args: list[str], **kwargs) -> float:
    start = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        )
    return seconds


def series_cases(settings) -> list[Timing]:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    from helpers import runner

    notebooks = runner.lesson_notebooks()
    py = sys.executable
    env = dict(os.environ, PYDEVD_DISABLE_FILE_VALIDATION="1")
    names = ", ".join(p.name[:2] for p in notebooks)
    log(f"  series: python -m helpers run ({len(notebooks)} notebooks: {names}) from a stopped stack ...")
    _run([py, "-m", "helpers", "down"], env=env)
    full = _run([py, "-m", "helpers", "run"], env=env)
    log(f"    {full:7.2f} s")

    log(f"  series: floor = stack start + {len(notebooks)} empty notebooks through papermill ...")
    _run([py, "-m", "helpers", "down"], env=env)
    start = _run([py, "-m", "helpers", "up"], env=env)
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty.ipynb"
        nb = new_notebook(cells=[new_code_cell("")])
        nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
        nbformat.write(nb, empty)
        code = (
            "import sys, papermill\n"
            "for i in range(int(sys.argv[1])):\n"
            "    papermill.execute_notebook(sys.argv[2], sys.argv[3], progress_bar=False)\n"
        )
        kernels = _run([py, "-c", code, str(len(notebooks)), str(empty), str(Path(tmp) / "out.ipynb")], env=env)
    floor = start + kernels
    log(f"    {floor:7.2f} s (stack start {start:.1f} s, kernels {kernels:.1f} s)")
    group = f"Series: {len(notebooks)} notebooks"
    return [
        Timing(group, "python -m helpers run", len(notebooks), "notebooks", full, f"lessons {names}"),
        Timing(
            group,
            "floor: stack start + empty notebooks",
            len(notebooks),
            "notebooks",
            floor,
            f"start {start:.1f} s + kernels {kernels:.1f} s",
        ),
    ]
