"""The live elapsed line of long waits (helpers.progress) and how helpers.rds.watch uses it."""

from __future__ import annotations

import io

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from helpers import progress, rds
from helpers.settings import load_settings


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_line_is_rewritten_and_erased():
    out = Tty()
    with progress.LiveLine(out) as line:
        assert line.mode == "tty"
        line.show("[    1 s] db: still creating")
        line.show("[    2 s] db: still creating")
    text = out.getvalue()
    assert text.count("\r") >= 3
    assert text.endswith("\r") and text.rsplit("\r", 2)[-2].strip() == ""  # erased at the end


def test_in_a_pipe_or_a_log_nothing_is_written(monkeypatch):
    out = io.StringIO()
    with progress.LiveLine(out) as line:
        line.show("anything")
    assert out.getvalue() == ""
    monkeypatch.setenv("TUTORIAL_LIVE", "off")
    assert progress.LiveLine(Tty()).mode == "off"


def test_in_a_notebook_one_display_updated_in_place_and_left_empty(monkeypatch):
    updates = []

    class Handle:
        def update(self, data, raw):
            updates.append(data)

    created = []

    def display(data, raw, display_id):
        created.append(data)
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", display)
    line = progress.LiveLine()
    line.mode = "notebook"
    with line:
        line.show("one")
        line.show("two")
    assert created == [{}]  # what nbval records: an empty display, no text to compare
    assert updates == [{"text/plain": "one"}, {"text/plain": "two"}, {}]


def test_sleep_showing_takes_fixed_steps_whatever_the_clock(monkeypatch):
    slept, shown = [], []
    monkeypatch.setattr(progress.time, "sleep", slept.append)

    class Line:
        def show(self, text):
            shown.append(text)

    progress.sleep_showing(3.0, Line(), lambda: "t")
    assert slept == [1.0, 1.0, 1.0] and len(shown) == 3
    slept.clear()
    progress.sleep_showing(0.5, Line(), lambda: "t")
    assert slept == [0.5]


def test_watch_logs_only_status_changes_while_the_line_moves(monkeypatch):
    """The log (and so a notebook's committed output) is one line per status, as before."""
    answers = iter(["creating", "creating", "creating", "available"])
    monkeypatch.setattr(rds, "describe", lambda *a, **k: {"DBInstanceStatus": next(answers)})
    shown = []
    monkeypatch.setattr(rds, "sleep_showing", lambda seconds, line, text: shown.append(text()))
    logged = []
    db = rds.watch("db-1", load_settings(), lambda d: d["DBInstanceStatus"] == "available", poll=1, log=logged.append)
    assert db["DBInstanceStatus"] == "available"
    assert [line.split("] ")[1] for line in logged] == ["db-1: creating", "db-1: available"]
    assert shown and all(s.endswith("db-1: still creating") for s in shown)


@pytest.mark.timeout(120)
def test_a_saved_notebook_holds_only_the_status_lines_and_an_empty_display(tmp_path):
    """Run in a real kernel: what nbclient/papermill save is stable, whatever the timing."""
    code = (
        "from helpers.progress import LiveLine, sleep_showing\n"
        "print('[    0 s] db: creating')\n"
        "with LiveLine() as live:\n"
        "    sleep_showing(0.3, live, lambda: 'still creating', tick=0.1)\n"
        "    live.clear()\n"
        "    print('[    2 s] db: available')\n"
    )
    nb = new_notebook(cells=[new_code_cell(code)])
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert text == "[    0 s] db: creating\n[    2 s] db: available\n"
    displays = [o for o in outputs if o.output_type == "display_data"]
    assert len(displays) == 1 and displays[0].data == {}
    nbformat.validate(nb)
