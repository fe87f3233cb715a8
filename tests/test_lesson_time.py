"""The learner-time model (tools.lesson_time): its arithmetic on small made-up notebooks, and the
workshop target on the real lessons.

The synthetic notebooks are built so each number can be checked by hand against the model in
the tool's docstring; the expected minutes below are that hand arithmetic, not the tool's output.
"""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from tools import lesson_time


def words(n: int) -> str:
    return " ".join(["word"] * n)


def lines(n: int) -> str:
    return "\n".join(f"x{i} = {i}" for i in range(n))


def tagged(cell, *tags: str):
    cell.metadata["tags"] = list(tags)
    return cell


def test_prose_is_read_at_180_words_a_minute_code_inside_markdown_included():
    nb = new_notebook(cells=[new_markdown_cell(words(300)), new_markdown_cell(words(54) + "\n```python\nx = 1\n```")])
    # split on whitespace, the fenced block is 5 more words: ```python, x, =, 1, ```
    total_words = 300 + 54 + 5
    t = lesson_time.estimate(nb, "00_x")
    assert t.core_minutes == pytest.approx(total_words / 180)
    assert t.deep_dive_minutes == 0


def test_a_code_cell_costs_three_quarters_of_a_minute_plus_a_tenth_per_line_beyond_eight():
    nb = new_notebook(cells=[new_code_cell(lines(3)), new_code_cell(lines(8)), new_code_cell(lines(20))])
    # 0.75 + 0.75 + (0.75 + 12 * 0.1)
    assert lesson_time.estimate(nb, "00_x").core_minutes == pytest.approx(0.75 + 0.75 + 1.95)


def test_an_exercise_costs_six_minutes_and_its_self_check_nothing():
    nb = new_notebook(
        cells=[tagged(new_code_cell(lines(30)), "exercise"), tagged(new_code_cell("check(ns)"), "self-check")]
    )
    t = lesson_time.estimate(nb, "00_x")
    assert t.core_minutes == pytest.approx(6)  # the self-check is part of the exercise's six minutes
    assert t.core_exercises == 1 and t.deep_dive_exercises == 0


@pytest.mark.parametrize("tag", ["parameters", "nav", "at-a-glance", "recall-answers"])
def test_cells_with_these_tags_count_as_prose_only(tag):
    nb = new_notebook(cells=[tagged(new_code_cell(words(36) + "\n" * 20), tag)])
    assert lesson_time.estimate(nb, "00_x").core_minutes == pytest.approx(36 / 180)


def test_deep_dive_cells_count_apart_from_the_core_path():
    nb = new_notebook(
        cells=[
            new_markdown_cell(words(180)),
            tagged(new_markdown_cell("## Deep dive: more\n\n" + words(356)), "deep-dive"),
            tagged(new_code_cell(lines(10)), "deep-dive"),
            tagged(new_code_cell("answer = 1"), "exercise", "deep-dive"),
            new_code_cell("print(1)"),
        ]
    )
    t = lesson_time.estimate(nb, "01_x")
    assert t.core_minutes == pytest.approx(1 + 0.75)
    assert t.deep_dive_minutes == pytest.approx((4 + 356) / 180 + (0.75 + 0.2) + 6)
    assert (t.core_exercises, t.deep_dive_exercises) == (0, 1)


@pytest.mark.parametrize(("lesson", "wait"), [("00_a", 0), ("01_b", 0), ("02_c", 10), ("03_d", 0), ("04_e", 5)])
def test_aws_waits_are_reported_per_lesson_and_left_out_of_the_core_path(lesson, wait):
    t = lesson_time.estimate(new_notebook(cells=[new_code_cell("x = 1")]), lesson)
    assert t.aws_wait_minutes == wait
    assert t.core_minutes == pytest.approx(0.75)


def test_the_workshop_total_counts_lessons_00_to_04_and_not_the_bonus(tmp_path):
    for name in ("00_a", "03_b", "05_bonus"):
        nbformat.write(new_notebook(cells=[new_code_cell("x = 1") for _ in range(4)]), tmp_path / f"{name}.ipynb")
    times = lesson_time.estimate_lessons(tmp_path)
    assert [t.lesson for t in times] == ["00_a", "03_b", "05_bonus"]
    assert lesson_time.workshop_core_minutes(times) == pytest.approx(2 * 4 * 0.75)


def test_the_command_prints_a_table_and_the_readme_table(tmp_path, capsys):
    nbformat.write(new_notebook(cells=[tagged(new_code_cell("x = 1"), "exercise")]), tmp_path / "02_db.ipynb")
    assert lesson_time.main(["--notebooks-dir", str(tmp_path)]) == 0
    plain = capsys.readouterr().out
    assert "02_db" in plain and "core path of 00-04: 6 min" in plain
    assert lesson_time.main(["--markdown", "--notebooks-dir", str(tmp_path)]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].startswith("| lesson | core path (min)")
    assert rows[2] == "| 02_db | 6 | 0 | 1 | 10 |"
    assert "| **00-04** | **6** | **0** | **1 + 0** | **10** |" in rows
    # two hours: the core path; half a day: core and deep dives, AWS's wait, a break after 01 and 03
    assert rows.count("| 0:00 | 02_db: core path | 6 |") == 1 and "| 0:06 | end | |" in rows
    assert "| 0:00 | 02_db: core path and deep dives | 6 |" in rows
    assert any(r.startswith("| 0:06 | 02_db: on AWS only, waiting for the new DB instance") for r in rows)
    assert "| 0:16 | end | |" in rows


def test_a_folder_without_lessons_is_an_error_that_says_so(tmp_path, capsys):
    assert lesson_time.main(["--notebooks-dir", str(tmp_path)]) == 1
    assert "No NN_*.ipynb lesson" in capsys.readouterr().err


def test_the_core_path_of_lessons_00_to_04_fits_a_two_hour_workshop():
    times = lesson_time.estimate_lessons()
    assert [t.number for t in times][:5] == list(lesson_time.WORKSHOP_LESSONS)
    core = lesson_time.workshop_core_minutes(times)
    assert core <= lesson_time.WORKSHOP_MINUTES, lesson_time.table(times)


def test_each_lesson_says_at_a_glance_the_minutes_the_tool_prints():
    """A learner reads "Time: about N min" before starting; `--write-readme` writes it."""
    times = lesson_time.estimate_lessons()
    with_glance = 0
    for path in lesson_time.lesson_notebooks():
        nb = nbformat.read(path, as_version=4)
        t = next(t for t in times if t.lesson == path.stem)
        for cell in nb.cells:
            if "at-a-glance" in cell.metadata.get("tags", []):
                assert lesson_time.glance_with_times(cell.source, t) == cell.source, path.name
                with_glance += 1
    assert with_glance == len(times)


def test_glance_minutes_are_rewritten_in_both_forms_and_a_missing_line_is_refused():
    t = lesson_time.LessonTime("01_s3", 26.4, 23.5, 1, 1, 0.0)
    old = "Intro.\n\nTime: about 31 min (core path) + 21 min (deep dives)<br>\nCost: none."
    assert lesson_time.glance_with_times(old, t) == old.replace("31 min", "26 min").replace("21 min", "24 min")
    bonus = "Time: about 40 min; a bonus lesson."
    assert lesson_time.glance_with_times(bonus, t) == "Time: about 26 min; a bonus lesson."
    with pytest.raises(ValueError, match="lacks"):
        lesson_time.glance_with_times("## At a glance\n\nNo time here.", t)


def test_the_readme_shows_what_the_tool_prints_today():
    """The README's lesson-time block and the lesson table's minutes are the tool's; after a lesson
    changes, `python -m tools.lesson_time --write-readme` refreshes them."""
    text = lesson_time.README.read_text()
    assert lesson_time.readme_with_times(text, lesson_time.estimate_lessons()) == text


def test_write_readme_replaces_the_block_and_the_minutes_and_nothing_else():
    times = [lesson_time.LessonTime("01_s3", 30.4, 9.6, 1, 1, 0.0)]
    text = (
        "intro\n| 01 | [S3](x) | learn | 1 + 2 |\n| 07 | [X](y) | b | 3 + 4 |\n"
        "<!-- lesson-time: python -m tools.lesson_time --markdown -->\nold\n<!-- /lesson-time -->\nend\n"
    )
    new = lesson_time.readme_with_times(text, times)
    assert new.startswith("intro\n| 01 | [S3](x) | learn | 30 + 10 |\n| 07 | [X](y) | b | 3 + 4 |\n")
    assert "\n" + lesson_time.readme_block(times) + "\n<!-- /lesson-time -->\nend\n" in new
    with pytest.raises(ValueError, match="lacks the <!-- lesson-time"):
        lesson_time.readme_with_times("no block", times)
