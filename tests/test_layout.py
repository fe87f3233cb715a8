"""The code is arranged by who uses it, and imports run one way: lessons -> helpers -> helpers.local.

* ``helpers/``        what lessons import (and the CLI learners type);
* ``helpers/local/``  the local backend: emulator launcher and its AWS-like lifecycle, embedded
                      PostgreSQL, the stack's orchestration. It may use the two foundations every
                      layer shares, ``helpers.errors`` and ``helpers.settings``, and nothing else
                      of ``helpers``;
* ``tools/``          maintainer tools; ``benchmarks/`` measurements. Both may use helpers;
                      helpers never imports either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
FOUNDATIONS = {"helpers.errors", "helpers.settings"}


def imports(path: Path, source: str | None = None) -> set[str]:
    """Every module a file imports, absolute, including imports inside functions."""
    tree = ast.parse(source if source is not None else path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def ours(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in {"helpers", "tools", "benchmarks"}}


def python_files(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


@pytest.mark.parametrize("path", python_files("helpers/local"), ids=lambda p: p.name)
def test_the_local_backend_uses_only_the_foundations(path):
    used = ours(imports(path))
    allowed = ("helpers.local", *FOUNDATIONS)
    outside = {m for m in used if m != "helpers" and not any(m == a or m.startswith(a + ".") for a in allowed)}
    assert not outside, f"{path.name} reaches back up into {sorted(outside)}"


@pytest.mark.parametrize("path", python_files("helpers"), ids=lambda p: str(p.relative_to(REPO)))
def test_helpers_never_import_tools_or_benchmarks(path):
    used = ours(imports(path))
    assert not {m for m in used if m.split(".")[0] in {"tools", "benchmarks"}}


@pytest.mark.parametrize("path", sorted((REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")), ids=lambda p: p.stem)
def test_lessons_import_the_learner_package_only(path):
    from IPython.core.inputtransformer2 import TransformerManager

    nb = nbformat.read(path, as_version=4)
    to_python = TransformerManager().transform_cell  # `!aws ...` and `x = !aws ...` become plain Python
    used: set[str] = set()
    for cell in nb.cells:
        if cell.cell_type == "code":
            used |= ours(imports(path, to_python(cell.source)))
    assert used, "a lesson that imports nothing of helpers? (setup() at least)"
    assert not {m for m in used if m.startswith(("helpers.local", "tools", "benchmarks"))}


def test_the_moved_commands_are_where_the_readme_says():
    readme = (REPO / "README.md").read_text()
    for command in (
        "python -m tools.notebooks refresh",
        "python -m tools.secrets_scan",
        "python -m tools.prove_on_aws",
    ):
        assert command in readme, command
    assert "`python -m helpers.notebooks` is now" in readme  # the move is announced, not silent
    assert "helpers/stack.py" not in readme and "helpers/moto_server.py" not in readme


def test_make_test_runs_the_lessons_together_on_one_worker_beside_the_tests(pytestconfig, monkeypatch):
    """`make test` is one `pytest -n` run over notebooks/ and tests/: every nbval cell of every
    lesson is one unit of work (the lessons build on one another; each worker is a participant of
    its own), the largest, so it starts first; each test is a unit of its own."""
    import conftest

    monkeypatch.setattr(pytestconfig.option, "dist", "load", raising=False)
    monkeypatch.setattr(pytestconfig.option, "tx", ["2*popen"], raising=False)
    scheduler = conftest.pytest_xdist_make_scheduler(pytestconfig, None)
    ids = [
        "tests/test_names.py::test_a",
        "notebooks/00_setup_and_secrets.ipynb::Cell 0",
        "tests/test_names.py::test_b[x]",
        "notebooks/00_setup_and_secrets.ipynb::Cell 1",
        "notebooks/04_cleanup.ipynb::Cell 0",
    ]
    scopes = [scheduler._split_scope(nodeid) for nodeid in ids]
    assert scopes[1] == scopes[3] == scopes[4] != scopes[0]
    assert scopes[0] != scopes[2] and scopes[0] == ids[0]
    monkeypatch.setattr(pytestconfig.option, "dist", "loadfile")
    assert conftest.pytest_xdist_make_scheduler(pytestconfig, None) is None  # asked for another: given it
    recipe = (REPO / "Makefile").read_text().split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "-n auto" in recipe and "$(NBVAL) notebooks tests" in recipe
