"""Maintenance of the notebooks themselves: navigation links and committed outputs.

``python -m tools.notebooks nav``      rewrites the previous/next links in every lesson
``python -m tools.notebooks refresh``  re-executes lessons in place (local backend), so the
                                         committed outputs are exactly what a learner sees

Why generated: hand-written "next lesson" links rot as soon as a lesson is renamed
or inserted, and outputs pasted by hand drift from what the code prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from helpers.runner import NOTEBOOK_DIR, kernel_config, lesson_notebooks

NAV_TAG = "nav"

# The committed outputs always show this prefix, shaped like a generated one. Without it a
# refresh from another checkout would rewrite every resource name in every lesson, and the
# diff of a real change would drown in them.
OUTPUT_PREFIX = "ds-yphh1g"


def title(nb) -> str:
    """The text of the first ``# `` heading, without the leading lesson number."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "Untitled"


def nav_markdown(paths: list[Path], index: int, titles: list[str]) -> str:
    parts = []
    if index > 0:
        parts.append(f"[< {titles[index - 1]}]({paths[index - 1].name})")
    parts.append("[Series index](../README.md#the-lessons)")
    if index + 1 < len(paths):
        parts.append(f"[{titles[index + 1]} >]({paths[index + 1].name})")
    return " | ".join(parts)


def update_nav(paths: list[Path] | None = None) -> list[Path]:
    """Rewrite every cell tagged ``nav``; return the notebooks that changed."""
    import nbformat

    paths = paths or lesson_notebooks()
    books = [nbformat.read(p, as_version=4) for p in paths]
    titles = [title(nb) for nb in books]
    changed = []
    for i, (path, nb) in enumerate(zip(paths, books)):
        text = nav_markdown(paths, i, titles)
        dirty = False
        for cell in nb.cells:
            if NAV_TAG in cell.get("metadata", {}).get("tags", []) and cell.source != text:
                cell.source = text
                dirty = True
        if dirty:
            nbformat.write(nb, path)
            changed.append(path)
    return changed


def refresh(paths: list[Path], timeout: int = 900) -> None:
    """Execute notebooks in place, cell by cell, as a learner would in JupyterLab."""
    import os

    import nbformat
    from nbclient import NotebookClient

    from helpers.local import stack
    from helpers.settings import load_settings

    os.environ["TUTORIAL_PREFIX"] = OUTPUT_PREFIX  # the kernels inherit it
    settings = load_settings()
    if not settings.is_local:
        sys.exit("Committed outputs are made on the local backend: unset TUTORIAL_BACKEND=aws.")
    stack.up(settings)
    for path in paths:
        print(f"executing {path.name} ...", flush=True)
        nb = nbformat.read(path, as_version=4)
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            record_timing=False,
            extra_arguments=["--IPKernelApp.log_level=ERROR"],  # no "unencrypted TCP" warning per kernel
            resources={"metadata": {"path": str(path.parent)}},
            config=kernel_config(),
        )
        client.execute()
        nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.notebooks", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("nav")
    ref = sub.add_parser("refresh")
    ref.add_argument("only", nargs="*")
    args = parser.parse_args(argv)
    if args.command == "nav":
        for path in update_nav():
            print(f"updated {path.name}")
        return 0
    paths = lesson_notebooks(NOTEBOOK_DIR, args.only or None)
    update_nav()
    refresh(paths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
