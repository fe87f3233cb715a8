"""The self-checks of the "Your turn" exercises (helpers.exercises), against plain moto.

Each check is tried as a learner meets it: before any answer, with a typical wrong answer, and with
a right one. Before and wrong must say "Not yet" with a hint, never raise; right must say "Right".
(Lesson 02's checks, and the wrong answers each must refuse, are in test_checks_lesson_02.py.) The committed
notebooks must show every check passing against the solutions.
"""

from __future__ import annotations

import json
from decimal import Decimal
from types import SimpleNamespace
from urllib.request import Request, urlopen

import boto3
import nbformat
import pytest
from botocore.config import Config
from support import in_process_moto

from helpers import exercises
from helpers.names import Names
from helpers.runner import NOTEBOOK_DIR

PREFIX = "ws-alice"
NAMES = Names(prefix=PREFIX, account_id="123456789012", region="us-east-1")


@pytest.fixture(scope="module")
def moto_url():
    with in_process_moto() as url:
        yield url


@pytest.fixture
def aws(moto_url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def said(capsys) -> str:
    return capsys.readouterr().out


def assert_not_yet(text: str, *fragments: str) -> None:
    assert text.startswith("Not yet."), text
    assert "\nHint: " in text, text
    assert "Traceback" not in text
    for fragment in fragments:
        assert fragment in text, text


@pytest.fixture
def bucket(aws):
    s3 = boto3.client("s3")
    name = f"{PREFIX}-exercises-{id(s3) % 10_000}"
    s3.create_bucket(Bucket=name)
    return name


def test_python_upload(bucket, tmp_path, capsys):
    project = tmp_path / "project"
    (project / "utils").mkdir(parents=True)
    for name in ("clean.py", "utils/io.py", "notes.txt"):
        (project / name).write_text("x\n")
    s3 = boto3.client("s3")

    exercises.check_python_upload(bucket, project, "code/")
    assert_not_yet(said(capsys), "there is nothing under")

    for name in ("clean.py", "utils/io.py", "notes.txt"):  # no filters: everything went up
        s3.put_object(Bucket=bucket, Key=f"code/{name}", Body=b"x\n")
    exercises.check_python_upload(bucket, project, "code/")
    assert_not_yet(said(capsys), "right: code/ holds clean.py, utils/io.py", "also holds notes.txt", "--exclude")

    s3.delete_object(Bucket=bucket, Key="code/notes.txt")
    exercises.check_python_upload(bucket, project, "code/")
    assert said(capsys) == "Right: code/ holds exactly the .py files: clean.py, utils/io.py.\n"


def test_presigned_upload(bucket, capsys):
    key, message = "incoming/note.txt", "hello\n"
    exercises.check_presigned_upload(bucket, key, message, ns={})
    assert_not_yet(said(capsys), "`put_url` is not set yet")

    signer = boto3.client("s3", config=Config(signature_version="s3v4"))
    put_url = signer.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    exercises.check_presigned_upload(bucket, key, message, ns={"put_url": put_url})
    assert_not_yet(said(capsys), "right: put_url is a presigned link", f"there is no object {key}")

    request = Request(put_url, data=message.encode(), method="PUT", headers={"Content-Type": "text/plain"})
    with urlopen(request, timeout=10) as response:
        assert response.status == 200
    exercises.check_presigned_upload(bucket, key, message, ns={"put_url": put_url})
    assert said(capsys).startswith("Right: ")


@pytest.fixture
def table(aws):
    ddb = boto3.client("dynamodb")
    name = NAMES.table
    ddb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=NAMES.tags(),
    )
    yield boto3.resource("dynamodb").Table(name)
    ddb.delete_table(TableName=name)


def test_update_only_existing(table, capsys):
    table.put_item(Item={"id": 456, "first_name": "fireball", "is_wizard": True})
    exercises.check_update_only_existing(table.name, "house", "gryffindor")
    assert_not_yet(said(capsys), "user 456 has no house = gryffindor yet", "right: there is still no user 999")

    for user_id in (456, 999):  # no condition: 999 is created
        table.update_item(
            Key={"id": user_id}, UpdateExpression="SET house = :h", ExpressionAttributeValues={":h": "gryffindor"}
        )
    exercises.check_update_only_existing(table.name, "house", "gryffindor")
    assert_not_yet(said(capsys), "a new item 999 was created")

    table.delete_item(Key={"id": 999})
    exercises.check_update_only_existing(table.name, "house", "gryffindor")
    assert said(capsys).startswith("Right: user 456 has house = gryffindor")


def test_exact_decimals(table, capsys):
    measured = {"id": 2001, "first_name": "ada", "height_m": 1.65, "scores": [9.5, 7.25]}
    exercises.check_exact_decimals(table.name, measured)
    assert_not_yet(said(capsys), "there is no item 2001")

    table.put_item(Item={"id": 2001, "first_name": "ada", "height_m": Decimal("1.6"), "scores": []})
    exercises.check_exact_decimals(table.name, measured)
    assert_not_yet(said(capsys), "height_m is Decimal('1.6'), expected Decimal('1.65')", "right: first_name is ada")

    from helpers.dynamo import decimals

    table.put_item(Item=decimals(measured))
    exercises.check_exact_decimals(table.name, measured)
    assert said(capsys) == "Right: item 2001 is stored, every number exactly as written.\n"


def test_tables_found_by_tags(table, capsys):
    ddb = boto3.client("dynamodb")
    ddb.create_table(  # same series, another participant: not ours
        TableName="ws-bob-users",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=Names(prefix="ws-bob", account_id="123456789012", region="us-east-1").tags(),
    )
    try:
        exercises.check_tables_found_by_tags(PREFIX, ns={"my_tables": None})
        assert_not_yet(said(capsys), "`my_tables` is not set yet")
        exercises.check_tables_found_by_tags(PREFIX, ns={"my_tables": ["ws-alice-users", "ws-bob-users"]})
        assert_not_yet(said(capsys), "also names ws-bob-users, which is not yours")
        exercises.check_tables_found_by_tags(PREFIX, ns={"my_tables": []})
        assert_not_yet(said(capsys), "my_tables lacks ws-alice-users")
        exercises.check_tables_found_by_tags(PREFIX, ns={"my_tables": ["ws-alice-users"]})
        assert said(capsys) == "Right: 1 table carries your tags: ws-alice-users.\n"
    finally:
        ddb.delete_table(TableName="ws-bob-users")


# A shared account as ws-10 meets it in lesson 04: under least privilege (policies/participant-policy.json)
# another participant's tables and no one's refuse DescribeTable with AccessDeniedException, and so may
# one named like yours that an administrator keeps out of your reach.
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


@pytest.fixture
def shared_account(aws, monkeypatch):
    """The tables above, and a default boto3 session whose DynamoDB calls on a refused table answer as
    AWS does for a table the policy does not grant."""
    ddb = boto3.client("dynamodb")
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


def lesson_04_solution() -> str:
    """The code of lesson 04's exercise cell, solution included."""
    nb = nbformat.read(NOTEBOOK_DIR / "04_cleanup.ipynb", as_version=4)
    [cell] = [c for c in nb.cells if "exercise" in c.metadata.get("tags", []) and "my_tables" in c.source]
    return cell.source


def test_lesson_04_solution_finds_exactly_yours_in_a_shared_account(shared_account, capsys):
    """It never asks about another participant's table, skips a refused one with a note, and takes
    neither the untagged look-alike nor ws-100's table."""
    from test_lesson04_rules import lesson_definitions, tut_for

    namespace = lesson_definitions(tut=tut_for(SHARED))
    exec(compile(lesson_04_solution(), "04_cleanup.ipynb", "exec"), namespace)  # noqa: S102
    assert sorted(namespace["my_tables"]) == SHARED_MINE
    assert "ws-10-locked: access denied, so not yours: skipped" in said(capsys)
    assert set(shared_account) == {"ws-10-locked"}  # ws-100's and no one's tables were never asked about


def test_tables_found_by_tags_in_a_shared_account(shared_account, capsys):
    """Wrong answers a learner gives in a shared account are refused, each with what is wrong."""
    check = exercises.check_tables_found_by_tags
    check(SHARED, ns={"my_tables": ["ws-10-users"]})  # my_tables = [TABLE]: written in, not found
    assert_not_yet(said(capsys), "my_tables lacks ws-10-archive", "lesson 03's table written in by hand")

    named_like_mine = sorted(n for n in SHARED_TABLES if n.startswith(SHARED + "-"))  # ignoring the tags
    check(SHARED, ns={"my_tables": named_like_mine})
    text = said(capsys)
    assert_not_yet(text, "also names ws-10-copy: its name starts with ws-10-, but it does not carry your tags")
    assert "also names ws-10-locked, which refuses you (AccessDeniedException)" in text

    check(SHARED, ns={"my_tables": sorted(n for n in SHARED_TABLES if n.startswith(SHARED))})  # no hyphen
    assert_not_yet(said(capsys), "also names ws-100-users, which is not yours: its name does not start with ws-10-")

    check(SHARED, ns={"my_tables": SHARED_MINE})
    assert said(capsys) == (
        "Right: 2 tables carry your tags: ws-10-archive, ws-10-users.\n"
        "  note: ws-10-locked refused you (AccessDeniedException): not yours, skipped\n"
    )


def test_env_file_loaded(tmp_path, monkeypatch, capsys):
    from dotenv import load_dotenv

    env = tmp_path / ".env"
    env.write_text("TUTORIAL_EXERCISE_REGION=eu-west-1\nTUTORIAL_EXERCISE_SUFFIX=raw\n")
    exported = {"TUTORIAL_EXERCISE_REGION": "us-east-2"}
    monkeypatch.setenv("TUTORIAL_EXERCISE_REGION", "us-east-2")
    monkeypatch.delenv("TUTORIAL_EXERCISE_SUFFIX", raising=False)

    exercises.check_env_file_loaded(env, exported)
    assert_not_yet(said(capsys), "TUTORIAL_EXERCISE_SUFFIX is not set: the file was not loaded")
    load_dotenv(env, override=True)
    exercises.check_env_file_loaded(env, exported)
    assert_not_yet(said(capsys), "the file overrode the value exported before (us-east-2)")
    monkeypatch.setenv("TUTORIAL_EXERCISE_REGION", "us-east-2")
    exercises.check_env_file_loaded(env, exported)
    assert said(capsys).startswith("Right: ")


def test_a_check_that_cannot_finish_says_so_without_a_traceback(aws, tmp_path, capsys):
    exercises.check_python_upload("ws-alice-no-such-bucket", tmp_path, "code/")
    assert_not_yet(said(capsys), "the check could not finish: NoSuchBucket", "--include")


def test_every_committed_self_check_shows_the_solution_passing():
    checks = 0
    for path in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if "self-check" in cell.metadata.get("tags", []):
                checks += 1
                text = "".join(out.get("text", "") for out in cell.get("outputs", []))
                assert text.startswith("Right: "), f"{path.name}: {cell.source}\n{text}"
    assert checks >= 8
