"""The self-checks of the "Your turn" exercises (helpers.exercises), against plain moto.

Each check is tried as a learner meets it: before any answer, with a typical wrong answer, and with
a right one. Before and wrong must say "Not yet" with a hint, never raise; right must say "Right".
(check_older_than needs PostgreSQL: the student-copy tests run it in lesson 02.) The committed
notebooks must show every check passing against the solutions.
"""

from __future__ import annotations

from decimal import Decimal
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


def test_colleague_rule(aws, capsys):
    ec2 = boto3.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName=f"{PREFIX}-sg-{id(ec2)}", Description="t", VpcId=vpc)["GroupId"]

    def allow(cidr):
        ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": cidr}]}],
        )

    exercises.check_colleague_rule(group, "203.0.113.25")
    assert_not_yet(said(capsys), "no rule lets 203.0.113.25/32 reach port 5432")
    allow("203.0.113.0/24")
    exercises.check_colleague_rule(group, "203.0.113.25")
    assert_not_yet(said(capsys), "203.0.113.0/24 (256 addresses)")
    allow("203.0.113.25/32")
    exercises.check_colleague_rule(group, "203.0.113.25")
    assert_not_yet(said(capsys), "right: 203.0.113.25/32 may reach port 5432", "256 addresses")
    ec2.revoke_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}
        ],
    )
    exercises.check_colleague_rule(group, "203.0.113.25")
    assert said(capsys).startswith("Right: 203.0.113.25/32 may reach port 5432")


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
        assert_not_yet(said(capsys), "also names ws-bob-users, which do not carry your tags")
        exercises.check_tables_found_by_tags(PREFIX, ns={"my_tables": []})
        assert_not_yet(said(capsys), "my_tables lacks ws-alice-users")
        exercises.check_tables_found_by_tags(PREFIX, ns={"my_tables": ["ws-alice-users"]})
        assert said(capsys) == "Right: 1 table carries your tags: ws-alice-users.\n"
    finally:
        ddb.delete_table(TableName="ws-bob-users")


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
