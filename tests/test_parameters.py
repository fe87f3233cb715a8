"""Every lesson's parameters, as papermill sees them: each one typed and listed in
``papermill --help-notebook``. papermill reads the cell tagged ``parameters`` line by line with a
pattern of its own, and silently drops a line it cannot read (a ``=`` inside a comment, say), so a
parameter can exist in the notebook and still be missing from the help a pipeline author reads.
"""

from __future__ import annotations

import ast

import nbformat
import pytest
from click.testing import CliRunner
from papermill.cli import papermill as papermill_cli
from papermill.inspection import inspect_notebook

from helpers.runner import lesson_notebooks

LESSONS = lesson_notebooks()


def declared(path) -> dict[str, str]:
    """name -> annotation of every assignment in the lesson's parameters cell (None if untyped)."""
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1, f"{path.name}: one cell tagged 'parameters' expected, found {len(cells)}"
    found = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.AnnAssign):
            found[node.target.id] = ast.unparse(node.annotation)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                found[target.id] = None
    return found


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_every_parameter_is_typed_and_papermill_reads_it(path):
    params = declared(path)
    assert params, f"{path.name} declares no parameters"
    untyped = sorted(name for name, kind in params.items() if kind is None)
    assert not untyped, f"{path.name}: parameters without a type annotation: {untyped}"
    inspected = inspect_notebook(str(path))
    assert set(inspected) == set(params), f"papermill reads {sorted(inspected)}, the cell declares {sorted(params)}"
    for name, kind in params.items():
        assert inspected[name]["inferred_type_name"] == kind, (name, inspected[name])


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_help_notebook_lists_every_parameter_with_its_type(path):
    shown = CliRunner().invoke(papermill_cli, ["--help-notebook", str(path)])
    assert shown.exit_code == 0, shown.output
    for name, kind in declared(path).items():
        assert f"  {name}: {kind} (default " in shown.output, f"{name}: {kind} missing from:\n{shown.output}"
