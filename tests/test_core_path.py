"""The core path: ``python -m helpers run --core`` runs each lesson without its deep-dive cells.

Issue 17 asks CI to prove that a two-hour workshop, which skips the deep dives, works: the core
path of lessons 00-04 runs green on its own (no core cell needs a name only a deep dive defines),
and lesson 04's core path still deletes everything, so nothing of the run's prefix is left.
"""

from __future__ import annotations

import nbformat
import pytest

from helpers.runner import DEEP_DIVE_TAG, NOTEBOOK_DIR, core_path, lesson_notebooks, run_notebooks

WORKSHOP = ["00", "01", "02", "03", "04"]


def lesson(path, cells):
    """A notebook of (source, tags) code cells, runnable by papermill."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(source, metadata={"tags": tags}) for source, tags in cells]
    nbformat.write(nb, path)
    return path


def deep(source: str) -> tuple[str, list[str]]:
    return source, [DEEP_DIVE_TAG]


def test_the_core_path_is_the_lesson_without_its_deep_dive_cells_and_the_lesson_is_unchanged():
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Title"),
            nbformat.v4.new_markdown_cell("## Deep dive: more", metadata={"tags": [DEEP_DIVE_TAG]}),
            nbformat.v4.new_code_cell("x = 1", metadata={"tags": [DEEP_DIVE_TAG, "exercise"]}),
            nbformat.v4.new_code_cell("y = 2", metadata={"tags": ["parameters"]}),
        ]
    )
    core = core_path(nb)
    assert [c.source for c in core.cells] == ["# Title", "y = 2"]
    assert [c.id for c in core.cells] == [nb.cells[0].id, nb.cells[3].id]
    assert len(nb.cells) == 4


@pytest.mark.timeout(120)
def test_run_core_never_executes_a_deep_dive_cell(tmp_path):
    marker = tmp_path / "deep-dive-ran"
    books = [
        lesson(
            tmp_path / "00_a.ipynb",
            [
                ("x = 1", []),
                deep(f"open({str(marker)!r}, 'w').write('ran')"),
                deep("raise RuntimeError('a deep dive ran on the core path')"),
                ("print(x + 1)", []),
            ],
        ),
        lesson(tmp_path / "01_b.ipynb", [deep("import missing_module_of_a_deep_dive"), ("print('core')", [])]),
    ]
    out = tmp_path / "runs"
    results = run_notebooks(books, out, progress=False, core=True, log=lambda _: None)
    assert [(r.notebook, r.status) for r in results] == [("00_a", "ok"), ("01_b", "ok")], results
    assert not marker.exists(), "a deep-dive cell was executed"
    executed = nbformat.read(out / "00_a.ipynb", as_version=4)
    assert [c.source for c in executed.cells] == ["x = 1", "print(x + 1)"]
    assert executed.cells[1].outputs[0]["text"] == "2\n"
    # The same lessons in full do run the deep dives (so the test above is not vacuous).
    full = run_notebooks(books, tmp_path / "full", progress=False, log=lambda _: None)
    assert full[0].status == "FAILED" and "a deep dive ran" in full[0].detail
    assert marker.read_text() == "ran"


@pytest.mark.timeout(120)
def test_run_core_leaves_no_temporary_copy_behind(tmp_path, monkeypatch):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    book = lesson(tmp_path / "00_a.ipynb", [("x = 1", []), deep("y = 2")])
    assert run_notebooks([book], tmp_path / "out", progress=False, core=True, log=lambda _: None)[0].status == "ok"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_the_command_line_takes_core():
    from helpers import __main__ as cli

    seen = {}

    def fake(args):
        seen.update(vars(args))
        return 0

    real = cli.cmd_run
    cli.cmd_run = fake
    try:
        assert cli.main(["run", "--core", "00", "01"]) == 0
    finally:
        cli.cmd_run = real
    assert seen["core"] is True and seen["only"] == ["00", "01"]


@pytest.mark.timeout(1500)
def test_the_core_path_of_lessons_00_to_04_runs_green_and_leaves_nothing_behind(room):
    """The CI proof, from the session's room (conftest.py ``room``): its ``core`` seat runs
    ``python -m helpers run --core 00 01 02 03 04`` under the participant policy, beside the other
    seats. Every lesson passes without its deep dives, and the runner's final cleanup, as that
    participant, finds nothing: lesson 04's core path deleted everything the core path created."""
    from helpers import cleanup

    (seat,) = [run for run in room.seats if run.seat.kind == "core"]
    assert [(nb, status) for nb, status, _ in seat.lessons] == [
        (p.stem, "ok") for p in lesson_notebooks(NOTEBOOK_DIR, WORKSHOP)
    ], seat.failures
    for path in lesson_notebooks(NOTEBOOK_DIR, WORKSHOP):
        executed = nbformat.read(seat.output_dir / path.name, as_version=4)
        assert not [c for c in executed.cells if DEEP_DIVE_TAG in c.metadata.get("tags", [])], path.name
        expected = core_path(nbformat.read(path, as_version=4))
        assert len(executed.cells) >= len(expected.cells)  # papermill may add its injected-parameters cell
    final = seat.output.split("Cleaning up what the series created", 1)
    assert len(final) == 2 and cleanup.listing([]) in final[1], f"the core path of 04 left:\n{seat.output[-3000:]}"
