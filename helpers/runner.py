"""Run the lessons headless, in order, with papermill.

Why a runner of our own rather than a shell loop: a learner or a CI job wants to
see which lesson is running, a table at the end, and, when something breaks, the
notebook, the cell and the error in one line, not a 200-line papermill traceback.
Executed copies go to ``runs/`` (git-ignored) so the committed notebooks stay as
they are.

``core=True`` (``python -m helpers run --core``) runs each lesson's core path: the lesson
without its cells tagged ``deep-dive``, the sections a two-hour workshop skips. The runner writes
that shorter copy to a temporary folder and executes it exactly as it executes a whole lesson
(same working directory, kernel and parameters), so a green core run proves what a workshop does:
no core cell needs a name that only a deep dive defines, and lesson 04 still deletes everything.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from helpers.settings import REPO_ROOT

NOTEBOOK_DIR = REPO_ROOT / "notebooks"

# After the last cell, jupyter_client asks the kernel to exit and waits up to this long
# (half of it before SIGTERM, the rest before SIGKILL). Its default is 5 s, and on this
# project's machines about one kernel in five (ipykernel 6 and 7 alike) hangs while
# joining its control thread on the way out, so a finished lesson sat idle for 3.5 s.
# A kernel that exits normally takes about 0.1 s, so 1 s loses nothing.
KERNEL_SHUTDOWN_WAIT = 1.0

# A kernel must answer within this many seconds of starting. nbclient's default is 60, and on a
# machine running many lessons at once (a workshop room on one server, CI) a kernel can take longer
# than that to import ipykernel while its machine is busy. Waiting longer costs nothing on an idle one.
KERNEL_START_TIMEOUT = 180
# What jupyter_client and nbclient say when a kernel never came up. Such a lesson never ran a cell
# (or, lessons being safe to run again, ran some and may run them again), so it is worth one more try;
# two kernels started at the same moment can also collide on the ports they pick.
KERNEL_START_FAILURES = ("Kernel died before replying to kernel_info", "Kernel didn't respond in")
KERNEL_START_TRIES = 2
# The longest a cell may run before the runner stops it and reports the lesson as failed, so that a
# hung call (a lost connection, a kernel that stopped answering) cannot hold a headless run forever.
# The series' longest wait is on AWS: lesson 04 gives a deleted instance's security group up to 20
# minutes; an hour leaves room for a slow region without letting a pipeline hang.
CELL_TIMEOUT = 3600

# The cells of a section a two-hour workshop can skip (issue 17's conventions: the heading cell
# and every cell under it carry it). tools.lesson_time counts them apart.
DEEP_DIVE_TAG = "deep-dive"


def kernel_config():
    """traitlets config for the kernel manager that papermill and nbclient create."""
    from traitlets.config import Config

    return Config({"KernelManager": {"shutdown_wait_time": KERNEL_SHUTDOWN_WAIT}})


@dataclass
class Result:
    notebook: str
    status: str  # "ok", "FAILED", "skipped"
    seconds: float
    detail: str = ""


def lesson_notebooks(directory: Path = NOTEBOOK_DIR, only: list[str] | None = None) -> list[Path]:
    """Numbered notebooks (``NN_name.ipynb``) in order; ``only`` filters by number or name."""
    found = sorted(p for p in directory.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if any(p.name.startswith(o) or p.stem == o for o in only)]
    return found


def core_path(nb):
    """A copy of notebook ``nb`` without its deep-dive cells (``nb`` itself is left unchanged)."""
    import copy

    out = copy.deepcopy(nb)
    out.cells = [c for c in out.cells if DEEP_DIVE_TAG not in c.get("metadata", {}).get("tags", [])]
    return out


def _write_core_path(path: Path, folder: Path) -> Path:
    """The core path of lesson ``path``, written into ``folder`` under the lesson's own name."""
    import nbformat

    target = folder / path.name
    nbformat.write(core_path(nbformat.read(path, as_version=4)), target)
    return target


def _failure_detail(exc: BaseException) -> str:
    """'cell 7: KeyError: ...' from a papermill error, or the exception itself."""
    from nbclient.exceptions import CellTimeoutError
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, CellTimeoutError):
        return (
            f"a cell ran longer than {CELL_TIMEOUT} s and was stopped (a hung call, or a kernel that stopped "
            "answering); the executed copy shows which. Run the lesson again, or that cell in JupyterLab."
        )
    if isinstance(exc, PapermillExecutionError):
        evalue = (exc.evalue or "").strip().splitlines()
        first = evalue[0] if evalue else ""
        return f"cell {exc.exec_count if exc.exec_count is not None else exc.cell_index}: {exc.ename}: {first}"
    return f"{type(exc).__name__}: {exc}"


def run_notebooks(
    notebooks: list[Path],
    output_dir: Path,
    *,
    parameters: dict | None = None,
    progress: bool = True,
    stop_on_failure: bool = True,
    kernel_name: str | None = None,
    core: bool = False,
    log: Callable[[str], None] = print,
) -> list[Result]:
    """Execute each notebook into ``output_dir``; never raises for a failing lesson.

    ``core``: execute each lesson's core path only (its deep-dive cells left out).
    """
    import tempfile

    import papermill

    output_dir.mkdir(parents=True, exist_ok=True)
    scratch = tempfile.TemporaryDirectory(prefix="core-path-") if core else None
    try:
        # Kernels inherit this: it silences the debugger's "frozen modules" warning on start.
        os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
        results: list[Result] = []
        failed = False
        for index, path in enumerate(notebooks, 1):
            name = path.stem
            if failed and stop_on_failure:
                results.append(Result(name, "skipped", 0.0, "an earlier lesson failed"))
                continue
            log(f"[{index}/{len(notebooks)}] {name} ...")
            start = time.monotonic()
            try:
                source = _write_core_path(path, Path(scratch.name)) if scratch else path
                for attempt in range(1, KERNEL_START_TRIES + 1):
                    try:
                        papermill.execute_notebook(
                            str(source),
                            str(output_dir / path.name),
                            parameters=parameters or {},
                            cwd=str(path.parent),
                            progress_bar=progress and sys.stderr.isatty(),
                            kernel_name=kernel_name,
                            request_save_on_cell_execute=False,
                            start_timeout=KERNEL_START_TIMEOUT,
                            execution_timeout=CELL_TIMEOUT,
                            # ipykernel warns on every start that loopback TCP is unencrypted; the
                            # kernel only listens on 127.0.0.1, so that line is noise in a lesson run.
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            config=kernel_config(),
                        )
                        break
                    except RuntimeError as exc:
                        if attempt == KERNEL_START_TRIES or not str(exc).startswith(KERNEL_START_FAILURES):
                            raise
                        log(f"      the kernel did not start ({exc}); the machine may be busy: trying once more")
            except Exception as exc:  # noqa: BLE001 - any failure is reported, then we go on
                seconds = time.monotonic() - start
                detail = _failure_detail(exc)
                results.append(Result(name, "FAILED", seconds, detail))
                log(f"      FAILED after {seconds:.1f} s: {detail}")
                failed = True
                continue
            seconds = time.monotonic() - start
            results.append(Result(name, "ok", seconds))
            log(f"      ok ({seconds:.1f} s)")
    finally:
        if scratch:
            scratch.cleanup()
    return results


@dataclass
class CleanupOutcome:
    """What the run's final cleanup could establish, kept apart because each needs its own advice.

    ``left``: resources it found but could not delete. ``unsearched``: listings that failed
    (a region or service that could not be searched, a resource whose tags may not be read),
    so "nothing left" is not proven. ``error``: cleanup could not run at all.
    """

    left: list = field(default_factory=list)
    unsearched: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def cleaned(self) -> bool:
        return not (self.error or self.left or self.unsearched)

    def closing(self) -> str:
        """The run's last words about cleanup: what really happened, and what to do (empty when all is gone)."""
        if self.error:
            return (
                f"Cleanup could not run, so what the lessons created may still exist: {self.error}\n"
                "Once that is fixed, delete it with `python -m helpers clean --yes`."
            )
        lines = []
        if self.left:
            names = ", ".join(getattr(r, "label", str(r)) for r in self.left)
            lines.append(
                f"Some resources could not be deleted (see above): {names}; retry with `python -m helpers clean --yes`."
            )
        if self.unsearched:
            lead = "Also, some" if self.left else "Nothing that cleanup could see is left, but some"
            lines.append(f"{lead} places could not be searched, so something may still be there:")
            lines += [f"  {problem}" for problem in self.unsearched]
            lines.append(
                "Do what each line says, then check with `python -m helpers clean` (it lists what is "
                "left and deletes nothing; add --yes to delete it)."
            )
        return "\n".join(lines)


@dataclass
class SeriesRun:
    """What one run of the series did: each lesson's result, and whether cleanup left nothing."""

    results: list[Result]
    cleaned: bool  # nothing of the series is left (True as well when cleanup was skipped on request)
    seconds: float
    cleanup: CleanupOutcome | None = None  # None when cleanup was skipped on request (--keep)

    @property
    def failed(self) -> bool:
        return any(r.status == "FAILED" for r in self.results)


def run_series(
    settings,
    notebooks: list[Path],
    output_dir: Path,
    *,
    keep: bool = False,
    kernel_name: str | None = None,
    progress: bool = True,
    core: bool = False,
    log: Callable[[str], None] = print,
) -> SeriesRun:
    """What ``python -m helpers run`` does: make sure the backend answers, run the lessons in
    order, then delete what the series created (unless ``keep``), also after a failed lesson or
    Ctrl-C, because a run must not leave billable resources behind. ``core``: the lessons' core
    path only (see the module's docstring)."""
    from helpers.local import stack

    start = time.monotonic()
    if settings.is_local:
        log(str(stack.up(settings)))
        stack.apply_local_env(settings)
    what = "the core path of " if core else ""
    log(
        f"Running {what}{len(notebooks)} notebook(s) on the {settings.backend} backend; "
        f"executed copies go to {output_dir}\n"
    )
    results: list[Result] = []
    outcome: CleanupOutcome | None = None
    try:
        results = run_notebooks(notebooks, output_dir, kernel_name=kernel_name, progress=progress, core=core, log=log)
    finally:
        if not keep:
            outcome = final_cleanup(settings, log)
    cleaned = outcome is None or outcome.cleaned
    return SeriesRun(results, cleaned, time.monotonic() - start, outcome)


def final_cleanup(settings, log: Callable[[str], None] = print) -> CleanupOutcome:
    """Delete what the run created (the series' resources of this prefix); say what is left and what was unsearched."""
    from helpers import cleanup
    from helpers.errors import TutorialError

    log("\nCleaning up what the series created (use --keep to keep it):")
    try:
        left = cleanup.clean(settings, yes=True, log=log)
    except TutorialError as exc:
        log(f"cleanup failed: {exc}")
        return CleanupOutcome(error=str(exc))
    # An incomplete search (a service that could not be listed) is no proof that nothing is left.
    return CleanupOutcome(left=list(left), unsearched=list(getattr(left, "problems", [])))


def summary_table(results: list[Result]) -> str:
    width = max([len(r.notebook) for r in results] + [8])
    lines = [f"{'notebook':<{width}}  {'status':<7}  {'seconds':>7}", f"{'-' * width}  -------  -------"]
    for r in results:
        lines.append(f"{r.notebook:<{width}}  {r.status:<7}  {r.seconds:7.1f}")
    failures = [r for r in results if r.status == "FAILED"]
    for r in failures:
        lines.append(f"\n{r.notebook} failed at {r.detail}")
        lines.append(f"  the executed copy, with the error in place: runs/{r.notebook}.ipynb")
    return "\n".join(lines)
