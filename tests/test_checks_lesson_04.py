"""Lesson 04's self-check against the wrong answers a learner plausibly gives.

The exercise is run as a learner meets it in a shared account (a workshop's, an instructor's with
other work in it), seen by participant ws-10 under least privilege (policies/participant-policy.json):
lesson 03's table and another table of ws-10's, both tagged; a look-alike named like ws-10's but
made by hand, untagged; one named like ws-10's that refuses ws-10; ws-100's table, whose name starts
with "ws-10" too; and a table of no one's. Tables the policy does not grant answer DescribeTable and
ListTagsOfResource with AccessDeniedException, as AWS does.

Each wrong answer is the code a learner might type into the exercise cell, run in a namespace that
holds what lesson 04's cells above define (``is_ours``, ``PREFIX``), then checked: the check must say
"Not yet" with a hint, and a "wrong:" line that names the mistake. "skipped" is the cell not run.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import boto3
import nbformat
import pytest
from support import assert_not_yet, in_process_moto, use_moto
from test_lesson04_rules import lesson_definitions, tut_for

from helpers import exercises
from helpers.names import Names
from helpers.runner import NOTEBOOK_DIR
from tools.student import strip_solution

SHARED = "ws-10"
SHARED_TABLES = {  # name: (tags, refuses ws-10)
    "ws-10-users": (Names(SHARED, "123456789012", "us-east-1").tags(), False),  # lesson 03's table
    "ws-10-archive": (Names(SHARED, "123456789012", "us-east-1").tags(), False),  # another of ws-10's
    "ws-10-copy": ([], False),  # a look-alike: ws-10's name, made by hand, untagged
    "ws-10-locked": (Names(SHARED, "123456789012", "us-east-1").tags(), True),  # named like ws-10's, refused
    "ws-100-users": (Names("ws-100", "123456789012", "us-east-1").tags(), True),  # ws-100's: starts with ws-10
    "billing-reports": ([], True),  # no one's
}
SHARED_MINE = ["ws-10-archive", "ws-10-users"]


def said(capsys) -> str:
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def moto_url():
    with in_process_moto() as url:
        yield url


@pytest.fixture
def shared_account(moto_url, monkeypatch):
    """The tables above, and a default boto3 session whose DynamoDB calls on a refused table answer as
    AWS does for a table the policy does not grant. Yields the names of the refused tables asked about."""
    use_moto(monkeypatch, moto_url)
    ddb = boto3.session.Session().client("dynamodb")
    for name, (tag_list, _) in SHARED_TABLES.items():
        extra = {"Tags": tag_list} if tag_list else {}
        ddb.create_table(
            TableName=name,
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
            **extra,
        )
    refused = {name for name, (_, denied) in SHARED_TABLES.items() if denied}
    asked = []

    def deny(params, model, **_):
        body = json.loads(params.get("body") or b"{}")
        name = body.get("TableName") or body.get("ResourceArn", "").rsplit("/", 1)[-1]
        if name not in refused:
            return None
        asked.append(name)
        message = f"User: arn:aws:iam::123456789012:user/tutorial-{SHARED} is not authorized to perform: "
        message += f"dynamodb:{model.name} on resource: arn:aws:dynamodb:us-east-1:123456789012:table/{name}"
        error = {"Error": {"Code": "AccessDeniedException", "Message": message}, "ResponseMetadata": {}}
        return SimpleNamespace(status_code=400, headers={}, content=b""), error

    session = boto3.Session()
    for operation in ("DescribeTable", "ListTagsOfResource"):
        session.events.register(f"before-call.dynamodb.{operation}", deny)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    yield asked
    for name in SHARED_TABLES:
        ddb.delete_table(TableName=name)


def lesson_04_exercise() -> str:
    """The code of lesson 04's exercise cell, solution included."""
    nb = nbformat.read(NOTEBOOK_DIR / "04_cleanup.ipynb", as_version=4)
    [cell] = [c for c in nb.cells if "exercise" in c.metadata.get("tags", []) and "my_tables" in c.source]
    return cell.source


def run_cell(code: str) -> dict:
    """Run exercise-cell code in a namespace holding what lesson 04 defines above it, for ws-10."""
    ns = lesson_definitions(tut=tut_for(SHARED))
    ns["TABLE"] = Names(SHARED, "123456789012", "us-east-1").table
    try:
        exec(compile(code, "04_cleanup.ipynb", "exec"), ns)  # noqa: S102
    except Exception:  # noqa: BLE001, S110 - a learner's cell that raised: Jupyter goes on to the check
        pass
    return ns


NAMES_IN_THE_REGION = """
import boto3

ddb = boto3.client("dynamodb")
names = [n for page in ddb.get_paginator("list_tables").paginate() for n in page["TableNames"]]
"""

# wrong answer -> (the exercise cell's code, words of the "wrong:" lines that name the mistake)
WRONG: dict[str, tuple[str, tuple[str, ...]]] = {
    "skipped": ("", ("`my_tables` is not set yet",)),
    "my_tables = [TABLE]": ("my_tables = [TABLE]", ("my_tables lacks ws-10-archive", "written in by hand")),
    "the name prefix only, ignoring the tags": (
        NAMES_IN_THE_REGION + 'my_tables = [n for n in names if n.startswith(PREFIX + "-")]',
        ("also names ws-10-copy: its name starts with ws-10-, but it does not carry your tags",),
    ),
    "the prefix without its hyphen": (
        NAMES_IN_THE_REGION + "my_tables = [n for n in names if n.startswith(PREFIX)]",
        ("also names ws-100-users, which is not yours: its name does not start with ws-10-",),
    ),
    "every table in the region": (
        NAMES_IN_THE_REGION + "my_tables = names",
        ("also names billing-reports, which is not yours",),
    ),
    "an empty list": ("my_tables = []", ("my_tables lacks ws-10-archive, ws-10-users",)),
    "the student copy as handed out": (
        strip_solution(lesson_04_exercise(), "my_tables"),
        ("`my_tables` is not set yet",),
    ),
}


@pytest.mark.parametrize("answer", list(WRONG))
def test_tables_found_by_tags_refuses_a_wrong_answer(answer, shared_account, capsys):
    code, mistakes = WRONG[answer]
    ns = run_cell(code)
    said(capsys)
    exercises.check_tables_found_by_tags(SHARED, ns=ns)
    assert_not_yet(said(capsys), *mistakes)


def test_the_lessons_solution_finds_exactly_yours_in_a_shared_account(shared_account, capsys):
    """It never asks about another participant's table, skips a refused one with a note, takes
    neither the untagged look-alike nor ws-100's table, and the check says so."""
    ns = run_cell(lesson_04_exercise())
    assert sorted(ns["my_tables"]) == SHARED_MINE
    assert "ws-10-locked: access denied, so not yours: skipped" in said(capsys)
    assert set(shared_account) == {"ws-10-locked"}  # ws-100's and no one's tables were never asked about
    exercises.check_tables_found_by_tags(SHARED, ns=ns)
    assert said(capsys) == (
        "Right: 2 tables carry your tags: ws-10-archive, ws-10-users.\n"
        "  note: ws-10-locked refused you (AccessDeniedException): not yours, skipped\n"
    )


WRONG_ANSWERS: dict[str, list[str]] = {"check_tables_found_by_tags": list(WRONG)}
