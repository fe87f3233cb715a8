"""Deep dives fold exactly, in JupyterLab and on the site; recall answers are folded and readable.

JupyterLab collapses a heading marked ``jp-MarkdownHeadingCollapsed`` down to the next heading of
its level or above; the site (tools.site as a Sphinx extension) folds a "Deep dive" section the
same way. So the lesson's structure decides what a workshop skips: these tests hold it to the
conventions (a run of deep-dive cells opens with a collapsed "Deep dive" heading and is closed by
a core heading), and check the site check's reading of a page (tools.site_check.lesson_problems)
on made-up pages. The page itself is checked in Chromium by ``make site-check``.
"""

from __future__ import annotations

import json

import pytest

from tools import site, site_check


def md(source: str, *tags: str, collapsed: bool = False) -> dict:
    meta: dict = {"tags": list(tags)}
    if collapsed:
        meta["jp-MarkdownHeadingCollapsed"] = True
    return {"cell_type": "markdown", "metadata": meta, "source": source}


def code(source: str, *tags: str) -> dict:
    return {"cell_type": "code", "metadata": {"tags": list(tags)}, "source": source, "outputs": []}


DEEP = "deep-dive"


def test_a_deep_dive_closed_by_a_core_heading_folds_exactly():
    cells = [
        md("# Title"),
        md("## Deep dive: more", DEEP, collapsed=True),
        code("x = 1", DEEP),
        md("### Deep dive: even more", DEEP, collapsed=True),
        md("## Back to the core"),
        md("[next](01.ipynb)", "nav"),
    ]
    assert site.deep_dive_problems(cells) == []
    assert site.deep_dive_runs(cells) == [(1, 4)]


@pytest.mark.parametrize(
    ("cells", "complaint"),
    [
        ([md("## Core"), code("x = 1", DEEP), md("## Next")], "cell 1: a deep dive must open with"),
        ([md("## Deep dive: a", DEEP), md("plain core text"), md("## Next")], "cell 1: a core cell right after"),
        ([md("## Deep dive: a", DEEP), md("### Your turn"), code("x", "exercise")], "cell 1: a core cell right after"),
        ([md("## Deep dive: a", DEEP), md("### Deep dive: b", DEEP), md("### Core")], "level 2 or above"),
    ],
)
def test_a_core_cell_a_collapsed_deep_dive_would_hide_is_named(cells, complaint):
    (problem,) = site.deep_dive_problems(cells)
    assert problem.startswith(complaint) or complaint in problem, problem


def test_the_site_build_refuses_a_deep_dive_that_would_hide_core_cells():
    nb = {"cells": [md("## Deep dive: a", DEEP), md("### Your turn")], "metadata": {}, "nbformat": 4}
    with pytest.raises(site.SiteError, match="x.ipynb: cell 1: a core cell right after the deep dive of cell 0"):
        site.prepare_notebook(nb, "x.ipynb", {})


@pytest.mark.parametrize("path", site.lessons(), ids=lambda p: p.stem)
def test_every_deep_dive_of_the_lessons_folds_exactly_and_starts_collapsed(path):
    cells = json.loads(path.read_text())["cells"]
    assert site.deep_dive_problems(cells) == []
    for index, cell in enumerate(cells):
        found = site.heading(cell)
        if found and found[1].startswith(site.DEEP_DIVE_TITLE):
            assert DEEP in cell["metadata"].get("tags", []), f"cell {index}: a deep-dive heading without the tag"
            assert cell["metadata"].get("jp-MarkdownHeadingCollapsed") is True, f"cell {index}: not collapsed"


# ---------------------------------------------------------------------- what the site check reads on a page

LESSON = {
    "cells": [
        md("# Title"),
        md("## Deep dive: the `us-east-1` trap", DEEP, collapsed=True),
        md("Buckets in us-east-1 need no LocationConstraint at all.", DEEP),
        code("print(location)", DEEP),
        md("## Check your understanding", "recall"),
        md("<details><summary>Answers</summary>\n\n1. Because names are global.\n\n</details>", "recall-answers"),
    ]
}


def page(**overrides) -> dict:
    dive = {
        "deepDive": True,
        "open": False,
        "summary": "Read the deep dive",
        "heading": "Deep dive: the us-east-1 trap#",
        "text": "Read the deep dive Buckets in us-east-1 need no LocationConstraint at all. print(location)",
    }
    answers = {
        "deepDive": False,
        "open": False,
        "summary": "Answers",
        "heading": "",
        "text": "Answers 1. Because names are global.",
    }
    dive.update(overrides.get("dive", {}))
    answers.update(overrides.get("answers", {}))
    return {"details": [d for d in (dive, answers) if not overrides.get("drop") == d["summary"]]}


def test_a_page_with_its_deep_dive_and_answers_folded_and_readable_passes():
    assert site_check.lesson_problems(LESSON, page()) == []


@pytest.mark.parametrize(
    ("facts", "complaint"),
    [
        (page(drop="Read the deep dive"), "is not folded in a <details class=deep-dive>"),
        (page(dive={"open": True}), "is open on arrival"),
        (page(dive={"text": "Read the deep dive print(location)"}), "deep-dive cell 2: its text is not in a folded"),
        (page(drop="Answers"), "the recall answers are not folded"),
        (page(answers={"open": True}), "recall answers are open on arrival"),
        (page(answers={"text": "Answers"}), "recall answers: text missing"),
    ],
)
def test_the_site_check_names_what_is_missing_on_a_lesson_page(facts, complaint):
    found = site_check.lesson_problems(LESSON, facts)
    assert any(complaint in f for f in found), found


def test_a_lesson_without_recall_answers_fails_the_site_check():
    lesson = {"cells": LESSON["cells"][:4]}
    assert site_check.lesson_problems(lesson, page(drop="Answers")) == [
        "no recall answers: the lesson needs a markdown cell tagged 'recall-answers'"
    ]
