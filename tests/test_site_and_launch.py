"""The site build's preparation, the launch configurations (Binder, devcontainer), the workflows'
permissions and pins, and the Makefile's setup and lab recipes.

The site itself is built and checked in a browser by `make site-check` (.ci/run), in the site's
own environment; these tests need only the lessons' one.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tools import site

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _png_cell(cell_id: str, **meta) -> dict:
    return {
        "cell_type": "code",
        "id": cell_id,
        "metadata": meta,
        "source": "plt.show()",
        "execution_count": 1,
        "outputs": [
            {"output_type": "display_data", "data": {"image/png": "iVBOR", "text/plain": "<Figure>"}, "metadata": {}},
            {"output_type": "display_data", "data": {}, "metadata": {}},  # a live wait's leftover
        ],
    }


def _nb(*cells) -> dict:
    nav = {"cell_type": "markdown", "id": "n1", "metadata": {"tags": ["nav"]}, "source": "[Series index](../README.md)"}
    return {"cells": [nav, *cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_site_drops_nav_cells_and_empty_displays_and_adds_alt_text():
    nb = _nb(_png_cell("p1"))
    out = site.prepare_notebook(nb, "x.ipynb", {"p1": "A bar chart."})
    assert [c["id"] for c in out["cells"]] == ["p1"]
    assert out["cells"][0]["metadata"]["mystnb"]["image"]["alt"] == "A bar chart."
    assert [o["data"] for o in out["cells"][0]["outputs"]] == [{"image/png": "iVBOR", "text/plain": "<Figure>"}]
    assert nb["cells"][0]["metadata"]["tags"] == ["nav"] and len(nb["cells"]) == 2  # the input is untouched


def test_site_prefers_the_cells_own_alt_text():
    cell = _png_cell("p1", mystnb={"image": {"alt": "Own text."}})
    out = site.prepare_notebook(_nb(cell), "x.ipynb", {})
    assert out["cells"][1 - 1]["metadata"]["mystnb"]["image"]["alt"] == "Own text."


def test_site_refuses_a_plot_without_alt_text_and_stale_entries():
    with pytest.raises(site.SiteError, match="without alt text in cells p1"):
        site.prepare_notebook(_nb(_png_cell("p1")), "x.ipynb", {})
    with pytest.raises(site.SiteError, match="names cells with no plot: gone"):
        site.prepare_notebook(_nb(_png_cell("p1")), "x.ipynb", {"p1": "A chart.", "gone": "Old."})


def test_every_plot_of_the_series_has_alt_text(tmp_path):
    """The real notebooks prepare without error: every plot described, every lesson a page."""
    site.prepare(tmp_path / "src")
    pages = sorted(p.name for p in (tmp_path / "src" / "notebooks").glob("*.ipynb"))
    assert pages == [p.name for p in site.lessons()]
    index = (tmp_path / "src" / "index.md").read_text()
    assert index.startswith((ROOT / "README.md").read_text()[:200])
    for path in (tmp_path / "src" / "notebooks").glob("*.ipynb"):
        nb = json.loads(path.read_text())
        assert not any("nav" in c["metadata"].get("tags", []) for c in nb["cells"])


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_read_only_by_default_and_actions_pinned_to_commits(path):
    text = path.read_text()
    flow = yaml.safe_load(text)
    assert flow["permissions"]["contents"] == "read", "top-level permissions: contents: read"
    assert set(flow["permissions"]) <= {"contents", "id-token"}
    uses = re.findall(r"uses:\s*(\S+)(.*)", text)
    assert uses
    for action, comment in uses:
        assert PINNED.match(action), f"{action}: pin it to a full commit SHA"
        assert re.search(r"#\s*v\d+(\.\d+)*", comment), f"{action}: say the version in a comment"


def test_only_the_jobs_that_need_more_get_more():
    proof = yaml.safe_load((ROOT / ".github/workflows/aws-proof.yml").read_text())
    assert proof["permissions"] == {"contents": "read", "id-token": "write"}  # OIDC role for AWS
    pages = yaml.safe_load((ROOT / ".github/workflows/pages.yml").read_text())
    assert pages["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert "permissions" not in pages["jobs"]["build"]
    steps = " ".join(str(s) for s in pages["jobs"]["build"]["steps"])
    assert "make site" in steps and "make site-check" in steps and "build/site/html" in steps


def test_binder_installs_the_pinned_requirements_with_the_series_python():
    env = yaml.safe_load((ROOT / "binder/environment.yml").read_text())
    root_env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    assert python and python == [d for d in root_env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    post = ROOT / "binder/postBuild"
    assert os.access(post, os.X_OK)
    assert "pip install --no-cache-dir -r requirements.txt" in post.read_text()
    assert "python -m tools.student --keep-existing" in post.read_text()  # learners open the student copies
    subprocess.run(["bash", "-n", str(post)], check=True)


def test_devcontainer_sets_up_with_make_and_uses_the_venv():
    conf = json.loads((ROOT / ".devcontainer/devcontainer.json").read_text())
    assert "python:1-3.11" in conf["image"]
    assert conf["postCreateCommand"] == "make setup && .venv/bin/python -m tools.student --keep-existing"
    assert "student/00_setup_and_secrets.ipynb" in conf["customizations"]["codespaces"]["openFiles"]
    assert conf["customizations"]["vscode"]["settings"]["python.defaultInterpreterPath"].endswith("/.venv/bin/python")


def test_readme_launch_links_open_lesson_00():
    readme = (ROOT / "README.md").read_text()
    binder = re.search(r"\]\((https://mybinder\.org/v2/gh/[^)\s]+)\)", readme)
    assert binder and "urlpath=lab/tree/student/00_setup_and_secrets.ipynb" in binder.group(1)
    assert "https://codespaces.new/" in readme


def _make_n(*args: str) -> str:
    """The recipe make would run; --no-print-directory, since under `make test` (MAKELEVEL 1) make
    would otherwise frame it with "Entering/Leaving directory" lines."""
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return done.stdout


def test_setup_uses_uv_with_pip_as_the_fallback_and_the_same_pins(tmp_path):
    recipe = _make_n("setup", f"VENV={tmp_path}/v")
    uv = re.search(r"pip install [^&;]*uv==(\S+)", recipe)
    assert uv and re.fullmatch(r"\d+\.\d+\.\d+", uv.group(1)), "uv pinned exactly"
    assert f"{tmp_path}/v/bin/uv pip install --quiet --python {tmp_path}/v/bin/python -r requirements.txt" in recipe
    assert f"{tmp_path}/v/bin/python -m pip install --quiet -r requirements.txt" in recipe  # the fallback
    assert f"touch {tmp_path}/v/.installed" in recipe


def test_docs_requirements_pinned_and_apart_from_the_lessons():
    lines = [ln.split("#")[0].strip() for ln in (ROOT / "requirements-docs.txt").read_text().splitlines()]
    pins = [ln for ln in lines if ln]
    assert pins and all(re.fullmatch(r"[\w.\[\]-]+==[\w.]+", p) for p in pins)
    lessons = (ROOT / "requirements.txt").read_text()
    assert "sphinx" not in lessons and "selenium" not in lessons


def test_lab_as_root_adds_allow_root_and_says_so():
    recipe = _make_n("lab")
    assert "tools.student --keep-existing" in recipe and recipe.rstrip().endswith("student/")
    if os.geteuid() == 0:
        assert "jupyter lab --allow-root" in recipe and "running as root" in recipe
    else:
        assert "--allow-root" not in recipe.split("jupyter lab", 1)[1]
