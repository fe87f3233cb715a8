"""Lesson 03's self-checks against the wrong answers a learner plausibly gives.

Each wrong answer is the code a learner might type into the exercise cell, run as the notebook
would run it (after the lines the cell gives, in a namespace holding what the cells above defined;
a cell that raises stops there, as in Jupyter), then checked: the check must say "Not yet" with a
hint, and its "wrong:" line must name the mistake. The notebook's own solution, and another right
answer, must say "Right". "skipped" is the exercise cell not run at all.

Against plain moto (a DynamoDB of this module's own), with the users table as lesson 03 leaves it
before its exercises: users 123 and 456 (fireball, a wizard).
"""

from __future__ import annotations

from decimal import Decimal

import boto3
import nbformat
import pytest
from support import assert_not_yet, in_process_moto, use_moto

from helpers import exercises
from helpers.dynamo import decimals, pretty
from helpers.runner import NOTEBOOK_DIR
from tools.student import strip_solution

LESSON = NOTEBOOK_DIR / "03_dynamodb.ipynb"


def exercise_cell(needle: str) -> tuple[str, str]:
    """Lesson 03's exercise cell that holds ``needle``: (the lines it gives the learner, the solution)."""
    cells = [
        cell.source
        for cell in nbformat.read(LESSON, as_version=4).cells
        if "exercise" in cell.metadata.get("tags", []) and needle in cell.source
    ]
    assert len(cells) == 1, f"{len(cells)} exercise cells of {LESSON.name} hold {needle!r}"
    given = "\n".join(line for line in cells[0].split("### BEGIN SOLUTION")[0].splitlines())
    return given, cells[0]


def said(capsys) -> str:
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def moto_url():
    with in_process_moto() as url:
        yield url


@pytest.fixture
def users(moto_url, monkeypatch, request):
    """Lesson 03's users table before the exercises, in a DynamoDB of this module's own."""
    use_moto(monkeypatch, moto_url)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a default session that sees this module's moto
    ddb = boto3.client("dynamodb")
    name = f"ws-alice-users-{abs(hash(request.node.name)) % 10**8}"
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    table = boto3.resource("dynamodb").Table(name)
    table.put_item(Item={"id": 123, "first_name": "matt", "last_name": "sosna"})
    table.put_item(Item={"id": 456, "first_name": "fireball", "is_wizard": True})
    yield table
    ddb.delete_table(TableName=name)


def run_cell(code: str, users) -> dict:
    """Run exercise-cell code as the notebook would, in a namespace like the notebook's; return it."""
    ns = {"users": users, "TABLE": users.name, "decimals": decimals, "pretty": pretty, "Decimal": Decimal}
    try:
        exec(compile(code, "03_dynamodb.ipynb", "exec"), ns)  # noqa: S102
    except Exception:  # noqa: BLE001, S110 - a learner's cell that raised: Jupyter goes on to the check
        pass
    return ns


# -- an update only for users who exist ------------------------------------------------------------


def set_house(body: str, *, calls: tuple[int, ...] = (456, 999)) -> str:
    """Exercise-cell code: ``set_house`` with ``body`` (indented by 4), then the calls the cell makes."""
    given, _ = exercise_cell("def set_house")
    lines = [given.split("def set_house")[0], "def set_house(user_id, house):"]
    lines += ["    " + line for line in body.strip("\n").splitlines()]
    lines += [f"print({uid}, set_house({uid}, 'gryffindor'))" for uid in calls]
    return "\n".join(lines) + "\n"


UPSERT = """
users.update_item(
    Key={"id": user_id}, UpdateExpression="SET house = :h", ExpressionAttributeValues={":h": house}
)
return True
"""
GET_THEN_UPDATE = """
if "Item" not in users.get_item(Key={"id": user_id}, ConsistentRead=True):
    return False  # checked first: the user exists ... or did, a moment ago
users.update_item(
    Key={"id": user_id}, UpdateExpression="SET house = :h", ExpressionAttributeValues={":h": house}
)
return True
"""
NOT_CAUGHT = """
users.update_item(
    Key={"id": user_id},
    UpdateExpression="SET house = :h",
    ConditionExpression="attribute_exists(id)",
    ExpressionAttributeValues={":h": house},
)
return True
"""
PUT_REPLACES = """
try:
    users.put_item(Item={"id": user_id, "house": house}, ConditionExpression="attribute_exists(id)")
    return True
except users.meta.client.exceptions.ConditionalCheckFailedException:
    return False
"""
GET_THEN_CONDITIONAL_UPDATE = """
import boto3
import botocore.exceptions

if "Item" not in users.get_item(Key={"id": user_id}):
    return False
try:
    boto3.client("dynamodb").update_item(  # a client of its own: the check sees it too
        TableName=users.name,
        Key={"id": {"N": str(user_id)}},
        UpdateExpression="SET house = :h",
        ConditionExpression="attribute_exists(id)",
        ExpressionAttributeValues={":h": {"S": house}},
    )
except botocore.exceptions.ClientError as exc:
    if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
        raise
    return False
return True
"""

# wrong answer -> (the exercise cell's code, words of the "wrong:" line that name the mistake)
UPDATE_WRONG: dict[str, tuple[str, str]] = {
    "skipped": ("", "`set_house` is not set yet"),
    "get_item, then update_item": (set_house(GET_THEN_UPDATE), "a get_item first is a race"),
    "never tried 999 (an upsert)": (set_house(UPSERT, calls=(456,)), "created user 999, who did not exist"),
    "an upsert, tried on 999 too": (set_house(UPSERT), "a new item 999 was created"),
    "the refusal not caught": (set_house(NOT_CAUGHT), "raised ConditionalCheckFailedException"),
    "put_item replaces the item": (set_house(PUT_REPLACES), "user 456 lost attributes it had"),
    "defined but never called for 456": (set_house(PUT_REPLACES, calls=()), "user 456 has no house yet"),
    "the student copy as handed out": (
        strip_solution(exercise_cell("def set_house")[1], "set_house"),
        "user 456 has no house yet",
    ),
}
UPDATE_RIGHT = {
    "the lesson's solution": lambda: exercise_cell("def set_house")[1],
    "a get_item first, then a conditional update": lambda: set_house(GET_THEN_CONDITIONAL_UPDATE),
}


@pytest.mark.parametrize("answer", list(UPDATE_WRONG))
def test_update_only_existing_refuses_a_wrong_answer(answer, users, capsys):
    code, mistake = UPDATE_WRONG[answer]
    ns = run_cell(code, users)
    said(capsys)
    exercises.check_update_only_existing(users.name, ns=ns)
    assert_not_yet(said(capsys), mistake)


@pytest.mark.parametrize("answer", list(UPDATE_RIGHT))
def test_update_only_existing_takes_a_right_answer(answer, users, capsys):
    ns = run_cell(UPDATE_RIGHT[answer](), users)
    said(capsys)
    exercises.check_update_only_existing(users.name, ns=ns)
    assert said(capsys) == (
        "Right: user 456 has house = gryffindor; set_house refuses a missing user, even one deleted meanwhile.\n"
    )
    # what the check tried leaves the table as the learner left it
    assert users.get_item(Key={"id": exercises.MISSING_USER}).get("Item") is None
    assert users.get_item(Key={"id": exercises.VANISHING_USER}).get("Item") is None


def test_update_check_leaves_no_hook_behind(users, capsys):
    """After the race the check staged, writes of the vanishing user are plain writes again."""
    ns = run_cell(UPDATE_RIGHT["the lesson's solution"](), users)
    exercises.check_update_only_existing(users.name, ns=ns)
    users.put_item(Item={"id": exercises.VANISHING_USER, "first_name": "neville"})
    users.update_item(
        Key={"id": exercises.VANISHING_USER},
        UpdateExpression="SET house = :h",
        ExpressionAttributeValues={":h": "gryffindor"},
    )
    assert users.get_item(Key={"id": exercises.VANISHING_USER})["Item"]["first_name"] == "neville"


# -- floats from the outside world ---------------------------------------------------------------------


def store(code: str) -> str:
    """Exercise-cell code: the lines the cell gives (``measured``), then ``code``."""
    given, _ = exercise_cell("measured")
    return given + "\n" + code


DECIMALS_WRONG: dict[str, tuple[str, str]] = {
    "skipped": ("", "`measured` is not set yet"),
    "the floats as they are": (store("users.put_item(Item=measured)"), "boto3 refuses a float (TypeError)"),
    "a string": (
        store('users.put_item(Item={**measured, "height_m": "1.65", "scores": [Decimal("9.5"), Decimal("7.25")]})'),
        "height_m is the text '1.65' (type S), not a number",
    ),
    "Decimal(float)": (
        store(
            "users.put_item(Item={k: [Decimal(x) for x in v] if isinstance(v, list) else "
            "Decimal(v) if isinstance(v, float) else v for k, v in measured.items()})"
        ),
        "a Decimal made from a float (decimal.Inexact",
    ),
    "rounded to whole numbers": (
        store(
            "users.put_item(Item={k: [round(x) for x in v] if isinstance(v, list) else "
            "round(v) if isinstance(v, float) else v for k, v in measured.items()})"
        ),
        "height_m is 2, not 1.65: a number must arrive exactly as written",
    ),
    "the student copy as handed out": (strip_solution(exercise_cell("measured")[1], "measured"), "no item 2001"),
}
DECIMALS_RIGHT = {
    "the lesson's solution": lambda: exercise_cell("measured")[1],
    "json with parse_float": lambda: store(
        "import json\nusers.put_item(Item=json.loads(json.dumps(measured), parse_float=Decimal))"
    ),
}


@pytest.mark.parametrize("answer", list(DECIMALS_WRONG))
def test_exact_decimals_refuses_a_wrong_answer(answer, users, capsys):
    code, mistake = DECIMALS_WRONG[answer]
    ns = run_cell(code, users)
    said(capsys)
    exercises.check_exact_decimals(users.name, ns=ns)
    assert_not_yet(said(capsys), mistake)


@pytest.mark.parametrize("answer", list(DECIMALS_RIGHT))
def test_exact_decimals_takes_a_right_answer(answer, users, capsys):
    ns = run_cell(DECIMALS_RIGHT[answer](), users)
    said(capsys)
    exercises.check_exact_decimals(users.name, ns=ns)
    assert said(capsys) == "Right: item 2001 is stored, every number exactly as written.\n"


WRONG_ANSWERS: dict[str, list[str]] = {
    "check_update_only_existing": list(UPDATE_WRONG),
    "check_exact_decimals": list(DECIMALS_WRONG),
}
