"""Lesson 06's self-check against the wrong answers a learner plausibly gives.

The lesson's own cells run first (the notebook's code, not a copy: fewer rows, a fake ``tut``
instead of the setup cell), against the stack's emulator with its Athena engine, in a process of
this module's own. Each wrong answer is then the exercise cell's set-up lines followed by the
learner's code instead of the solution; the check must say "Not yet" with a hint and a "wrong:"
line that names the mistake, and the notebook's solution must say "Right". "skipped" is the
exercise cell not run at all.
"""

from __future__ import annotations

import os
from types import SimpleNamespace

import nbformat
import pytest
from support import assert_not_yet, emulator_process, use_moto

from helpers import exercises
from helpers.names import Names
from helpers.runner import NOTEBOOK_DIR

LESSON = NOTEBOOK_DIR / "06_data_lake.ipynb"
SOLUTION = "### BEGIN SOLUTION"
ROWS = 20_000  # the lesson's parameter, smaller: every month still has card trips rated 5
PREFIX = "ds-check6"
CHECK = "check_one_partition_query"


def cells() -> list[nbformat.NotebookNode]:
    return nbformat.read(LESSON, as_version=4).cells


def exercise_index() -> int:
    (index,) = [i for i, c in enumerate(cells()) if "exercise" in c.metadata.get("tags", [])]
    return index


def set_up() -> str:
    """The exercise cell's lines before the solution."""
    return cells()[exercise_index()].source.split(SOLUTION)[0]


def solution() -> str:
    return cells()[exercise_index()].source


def check_call(ns: dict) -> None:
    """The lesson's self-check cell, run in the lesson's namespace as the notebook runs it."""
    source = cells()[exercise_index() + 1].source
    assert CHECK in source
    exec(source, ns)  # noqa: S102 - the lesson's own cell


@pytest.fixture(scope="module")
def lesson_ns():
    """What lesson 06's cells define before its exercise, run against an emulator of our own."""
    with pytest.MonkeyPatch.context() as mp, emulator_process(dict(os.environ)) as url:
        use_moto(mp, url)
        mp.setenv("MPLBACKEND", "Agg")
        names = Names(PREFIX, "123456789012", "us-east-1")
        ns: dict = {"tut": SimpleNamespace(names=names, region="us-east-1", tags=names.tags())}
        for cell in cells()[: exercise_index()]:
            if cell.cell_type != "code" or "tut = setup()" in cell.source:
                continue
            exec(cell.source, ns)  # noqa: S102 - the lesson's own cells
            if "parameters" in cell.metadata.get("tags", []):
                ns["ROWS"] = ROWS
        yield ns


@pytest.fixture
def ns(lesson_ns, capsys) -> dict:
    fresh = dict(lesson_ns)
    capsys.readouterr()
    return fresh


def answer_with(ns: dict, code: str | None, capsys) -> str:
    if code is not None:
        exec(set_up() + code, ns)  # noqa: S102 - the learner's cell
    capsys.readouterr()
    check_call(ns)
    return capsys.readouterr().out


def query(where: str, then: str = "my_answer = int(rows[1]['Data'][0]['VarCharValue'])\n") -> str:
    return (
        f'mine = run_query("SELECT count(*) AS trips FROM trips WHERE {where}")\n'
        "my_query_id = mine['QueryExecutionId']\n"
        "rows = athena.get_query_results(QueryExecutionId=my_query_id)['ResultSet']['Rows']\n" + then
    )


CARD_5 = "payment = 'card' AND rating = 5"
MARCH = "year = 2024 AND month = 3"
WRONG: dict[str, tuple[str | None, str]] = {
    "skipped": (None, "`my_query_id` is not set yet"),
    "a filter on pickup_at reads every partition": (
        query(
            f"pickup_at >= TIMESTAMP '2024-03-01 00:00:00' AND pickup_at < TIMESTAMP '2024-04-01 00:00:00' AND {CARD_5}"
        ),
        "it read other partitions too",
    ),
    "the right count of the wrong partition": (
        query(f"year = 2024 AND month = 4 AND {CARD_5}"),
        "2024-04, not for March 2024",
    ),
    "every payment, not only card": (query(f"{MARCH} AND rating = 5"), "not the number of card trips rated 5"),
    "a number typed in, not the query's": (
        query(f"{MARCH} AND {CARD_5}", "my_answer = int(rows[1]['Data'][0]['VarCharValue']) + 1\n"),
        "but your query returned",
    ),
    "the number left as text": (
        query(f"{MARCH} AND {CARD_5}", "my_answer = rows[1]['Data'][0]['VarCharValue']\n"),
        "a str, not an int",
    ),
    "a query that fails": (
        'mine = run_query("SELECT count(*) FROM trip WHERE year = 2024")\nmy_query_id = mine["QueryExecutionId"]\n'
        "my_answer = 0\n",
        "the query failed",
    ),
}
WRONG_ANSWERS = {CHECK: sorted(WRONG)}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("answer", sorted(WRONG))
def test_one_partition_check_refuses(answer, ns, capsys):
    code, mistake = WRONG[answer]
    assert_not_yet(answer_with(ns, code, capsys), mistake)


@pytest.mark.timeout(600)
def test_the_lessons_query_is_right(ns, capsys):
    said = answer_with(ns, solution().split(SOLUTION)[1], capsys)
    assert said.startswith("Right: your query read only the March 2024 partition"), said


def test_the_question_is_the_one_the_lesson_asks():
    """The check's question (LAKE_QUESTION) is the exercise's text, so the two cannot drift apart."""
    text = cells()[exercise_index() - 1].source
    assert "**card**" in text and "**March 2024**" in text and "**rating of 5**" in text
    assert exercises.LAKE_QUESTION == {"year": 2024, "month": 3, "payment": "card", "rating": 5}


def clean_up_cell() -> str:
    (source,) = [c.source for c in cells() if c.cell_type == "code" and "delete_work_group" in c.source]
    return source


@pytest.mark.timeout(300)
def test_the_lessons_clean_up_keeps_lesson_01s_files_and_deletes_all_it_made(lesson_ns, capsys):
    """Defined last: it deletes what the module's other tests query. Lesson 06 runs after lesson 04,
    so it deletes what it made; when lesson 01's bucket was there first (a learner who runs 06
    before 04), lesson 01's files stay and only the lake's and Athena's objects go."""
    ns = dict(lesson_ns)
    s3, bucket = ns["s3"], ns["BUCKET"]
    s3.put_object(Bucket=bucket, Key="csv/file1.csv", Body=b"name,age\nabe,31\n")
    ns["created_bucket"] = False  # as if lesson 01 had made it
    exec(clean_up_cell(), ns)  # noqa: S102 - the lesson's own cell
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["csv/file1.csv"]
    assert ns["WORKGROUP"] not in [w["Name"] for w in ns["athena"].list_work_groups()["WorkGroups"]]
    assert ns["DATABASE"] not in [d["Name"] for d in ns["glue"].get_databases()["DatabaseList"]]
    said = capsys.readouterr().out
    assert "deleted workgroup" in said and "objects under" in said


def test_the_clean_up_deletes_the_bucket_when_the_lesson_made_it(lesson_ns):
    import boto3

    s3 = lesson_ns["s3"]
    bucket = f"{PREFIX}-made-by-06"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="lake/trips.csv", Body=b"x")
    athena, glue = boto3.client("athena", region_name="us-east-1"), boto3.client("glue", region_name="us-east-1")
    athena.create_work_group(Name=f"{PREFIX}-again", Configuration={})
    glue.create_database(DatabaseInput={"Name": "ds_check6_again"})
    ns = {
        **lesson_ns,
        "BUCKET": bucket,
        "created_bucket": True,
        "WORKGROUP": f"{PREFIX}-again",
        "DATABASE": "ds_check6_again",
        "athena": athena,
        "glue": glue,
        "con": SimpleNamespace(close=lambda: None),
    }
    exec(clean_up_cell(), ns)  # noqa: S102 - the lesson's own cell
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
