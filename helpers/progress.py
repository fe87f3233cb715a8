"""A live line for long waits: elapsed time that moves, without changing what a run records.

On AWS a DB instance is ``creating`` for 5 to 15 minutes; a cell that prints one status line and
then nothing for ten minutes looks frozen. :class:`LiveLine` shows a line that is rewritten in
place while the wait goes on, and is gone when it ends:

- in a notebook (an IPython kernel): a display updated by its ``display_id``. It is created empty
  and left empty, so a saved notebook holds one empty display and no changing text, and nbval
  (which compares what a cell first sends, not later updates, and coalesces the printed lines)
  sees exactly the status lines that are printed;
- on a terminal: a line rewritten with a carriage return, and erased at the end;
- anywhere else (a pipe, a log file, CI, pytest's capture): nothing at all; the status lines
  that the caller prints already say what changed.

``TUTORIAL_LIVE=off`` turns it off everywhere.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from typing import TextIO


def _kernel() -> bool:
    """True inside a Jupyter kernel (not a plain IPython terminal)."""
    shell = sys.modules.get("IPython") and sys.modules["IPython"].get_ipython()
    return bool(shell) and hasattr(shell, "kernel")


def _mode(stream: TextIO) -> str:
    if os.environ.get("TUTORIAL_LIVE", "").lower() in {"off", "0", "no", "false"}:
        return "off"
    if stream is sys.stdout and _kernel():
        return "notebook"
    try:
        return "tty" if stream.isatty() else "off"
    except (AttributeError, ValueError):  # a closed or unusual stream
        return "off"


class LiveLine:
    """One line rewritten in place; ``clear()`` before printing anything else, and at the end."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.mode = _mode(self.stream)
        self._handle = None
        self._width = 0

    def show(self, text: str) -> None:
        if self.mode == "notebook":
            from IPython.display import display

            if self._handle is None:
                self.stream.flush()  # lines printed before stay above the live line
                self._handle = display({}, raw=True, display_id=True)
            self._handle.update({"text/plain": text}, raw=True)
        elif self.mode == "tty":
            self.stream.write("\r" + text.ljust(self._width))
            self.stream.flush()
            self._width = max(self._width, len(text))

    def clear(self) -> None:
        if self.mode == "notebook" and self._handle is not None:
            self._handle.update({}, raw=True)
        elif self.mode == "tty" and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> LiveLine:
        return self

    def __exit__(self, *exc) -> None:
        self.clear()


def sleep_showing(seconds: float, line: LiveLine, text: Callable[[], str], tick: float = 1.0) -> None:
    """Sleep ``seconds`` in about ``tick``-second steps, showing ``text()`` before each step.

    The number of steps is fixed in advance (not read off the clock), so a test that replaces
    ``time.sleep`` cannot make it spin.
    """
    steps = max(1, math.ceil(seconds / tick)) if seconds > 0 else 1
    for _ in range(steps):
        line.show(text())
        if seconds > 0:
            time.sleep(seconds / steps)
