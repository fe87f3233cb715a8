"""Student copies (tools.student): the lessons without the exercises' solutions.

What must hold: a copy is a valid notebook that Jupyter opens; it differs from the lesson only in
the exercise cells (solution replaced by the placeholder) and in the outputs of exercise and
self-check cells (cleared); run as a learner would, every self-check answers "Not yet" with a hint
and nothing raises, and once the solutions are typed back in, every self-check answers "Right".
"""

from __future__ import annotations

import nbformat
import pytest

from helpers.runner import NOTEBOOK_DIR, lesson_notebooks
from tools import student

LESSONS = lesson_notebooks()
WITH_EXERCISES = ["00_setup_and_secrets", "01_s3", "02_rds_postgres", "03_dynamodb", "04_cleanup"]


def tagged(cell, tag):
    return tag in cell.metadata.get("tags", [])


@pytest.fixture(scope="module")
def copies(tmp_path_factory):
    out = tmp_path_factory.mktemp("student")
    assert student.main(["--out", str(out)]) == 0
    return out


def test_lessons_01_to_03_have_two_or_three_exercises_and_00_04_one():
    counts = {p.stem: len(student.exercise_pairs(nbformat.read(p, as_version=4))) for p in LESSONS}
    assert counts["00_setup_and_secrets"] == 1 and counts["04_cleanup"] == 1
    assert all(2 <= counts[name] <= 3 for name in ("01_s3", "02_rds_postgres", "03_dynamodb")), counts


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_a_student_copy_is_the_lesson_without_its_solutions(path, copies):
    original = nbformat.read(path, as_version=4)
    copy = nbformat.read(copies / path.name, as_version=4)
    nbformat.validate(copy)
    assert copy.metadata == original.metadata
    assert len(copy.cells) == len(original.cells)
    for before, after in zip(original.cells, copy.cells):
        assert after.metadata == before.metadata and after.cell_type == before.cell_type
        if tagged(before, student.EXERCISE_TAG):
            assert student.PLACEHOLDER in after.source
            assert student.BEGIN not in after.source and student.END not in after.source
            for solution in student.solutions(before.source):
                assert solution.strip() and solution.strip() not in after.source
            assert after.outputs == [] and after.execution_count is None
            assert student.answered(after.source, student.solutions(before.source)) == "\n".join(
                line for line in before.source.splitlines() if not student._MARKER.match(line)
            )
        elif tagged(before, student.CHECK_TAG):
            assert after.source == before.source
            assert after.outputs == [] and after.execution_count is None
        else:
            assert after == before


@pytest.mark.parametrize("name", WITH_EXERCISES)
def test_jupyter_opens_a_student_copy_as_a_valid_notebook(name, copies):
    """JupyterLab loads notebooks through the Jupyter server's contents API, which validates them."""
    from jupyter_server.services.contents.filemanager import FileContentsManager

    model = FileContentsManager(root_dir=str(copies)).get(f"{name}.ipynb", content=True)
    assert model["type"] == "notebook"
    assert model.get("message") is None, model["message"]  # set when validation fails
    assert any(tagged(c, student.EXERCISE_TAG) for c in model["content"].cells)


def test_the_placeholder_keeps_a_function_valid_python():
    source = 'def f(age):\n    """Doc."""\n    ### BEGIN SOLUTION\n    return age\n    ### END SOLUTION\n\n\nf(1)'
    stripped = student.strip_solution(source)
    compile(stripped, "cell", "exec")
    assert "    # YOUR CODE HERE\n    pass" in stripped
    typed_in = student.answered(stripped, student.solutions(source))
    assert typed_in == 'def f(age):\n    """Doc."""\n    return age\n\n\nf(1)'


@pytest.mark.parametrize(
    ("cells", "complaint"),
    [
        ([("x = 1\n### BEGIN SOLUTION\nx = 2", ["exercise"]), ("check()", ["self-check"])], "without ### END"),
        ([("x = 1", ["exercise"]), ("check()", ["self-check"])], "without a ### BEGIN"),
        ([("### BEGIN SOLUTION\nx = 2\n### END SOLUTION", ["exercise"]), ("print(x)", [])], "followed by"),
        ([("### BEGIN SOLUTION\nx = 2\n### END SOLUTION", [])], "would leak"),
    ],
)
def test_bad_markup_is_refused_with_a_reason(cells, complaint):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s, metadata={"tags": t}) for s, t in cells])
    with pytest.raises(student.MarkupError, match=complaint):
        student.student_copy(nb)


def test_student_copies_go_to_a_git_ignored_folder():
    ignored = (NOTEBOOK_DIR.parent / ".gitignore").read_text().splitlines()
    assert "student/" in ignored
    assert student.DEFAULT_OUT == NOTEBOOK_DIR.parent / "student"


def self_checks(path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [
        "".join(out.get("text", "") for out in cell.outputs) for cell in nb.cells if tagged(cell, student.CHECK_TAG)
    ]


@pytest.mark.timeout(1500)
def test_before_an_answer_every_check_says_not_yet_and_with_the_solutions_right(room):
    """The session's workshop room (conftest.py ``room``) has a seat that runs the student copies as
    a learner who has typed nothing yet (``python -m helpers run 00 01 02 03 04 --notebooks-dir
    <copies>``), and seats that run the lessons with their solutions (twice and proof). A lesson
    with its solutions is exactly a student copy with the solutions typed back in
    (test_a_student_copy_is_the_lesson_without_its_solutions checks ``student.answered`` gives
    back the lesson's source, bar the marker comments), so those seats are the answered run."""
    (learner,) = [run for run in room.seats if run.seat.kind == "student"]
    assert [(nb, status) for nb, status, _ in learner.lessons] == [(name, "ok") for name in WITH_EXERCISES], (
        learner.failures
    )
    for name in WITH_EXERCISES:
        checks = self_checks(learner.output_dir / f"{name}.ipynb")
        assert checks, f"{name}: no self-check ran"
        for text in checks:
            assert text.startswith("Not yet.\n") and "\nHint: " in text, f"{name}:\n{text}"
            assert "Traceback" not in text
    last = nbformat.read(learner.output_dir / "04_cleanup.ipynb", as_version=4).cells
    assert "Nothing of the series is left" in "".join(o.get("text", "") for c in last for o in c.get("outputs", []))

    answered = [run for run in room.seats if run.seat.kind in ("run", "twice", "proof")]
    assert answered
    for run in answered:
        for name in WITH_EXERCISES:
            checks = self_checks(run.output_dir / f"{name}.ipynb")
            assert checks, f"{run.seat.prefix} {name}: no self-check ran"
            for text in checks:
                assert text.startswith("Right: "), f"{run.seat.prefix} {name}:\n{text}"
