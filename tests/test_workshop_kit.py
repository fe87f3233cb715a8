"""The instructor's kit (helpers/workshop): participants, their policy, create, prepare, status, sweep.

Everything runs against a private in-process moto (plain moto: IAM included), so it never
touches another test's or a developer's resources.

What moto's IAM enforcement checks, found by reading moto.core.authorization and
moto.iam.access_control (5.2) and pinned down by the tests below:
* it starts only after INITIAL_NO_AUTH_ACTION_COUNT requests (here switched at run time);
* the access key must belong to an IAM user and the signature must match (else
  InvalidClientTokenId / SignatureDoesNotMatch);
* the action must be allowed by the user's identity policies (Action / NotAction);
* the Resource element is checked for S3 only (bucket and object ARNs); every other service is
  authorised against the resource "*", so a statement scoped to a table, DB instance or secret
  ARN never matches there, and a participant holding only the policy is refused even on their
  own table;
* a Condition whose keys the request does not supply counts as an explicit deny;
* outside S3 and STS the refusal comes in IAM's XML shape, so a JSON service's client sees "403"
  where AWS says AccessDeniedException.
So moto alone proves cross-participant isolation for S3 only. The launcher's
helpers/local/iam_enforcement.py decides the way AWS does for the calls of the series;
tests/test_workshop_rehearsal.py runs the whole series under the policy with it.
"""

from __future__ import annotations

import ast
import json

import boto3
import nbformat
import pytest
from support import error_code, in_process_moto

from helpers import cleanup, workshop
from helpers.errors import TutorialError
from helpers.names import Names
from helpers.runner import NOTEBOOK_DIR

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def moto_url():
    with in_process_moto() as url:
        yield url


@pytest.fixture
def aws(local_stack, moto_url, monkeypatch, tmp_path):
    """Settings pointing at the private emulator (emptied), with the workshop's files under tmp_path."""
    import urllib.request

    from helpers.settings import load_settings

    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"), timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    settings = load_settings()
    monkeypatch.setattr(workshop.Workshop, "folder", staticmethod(lambda s: tmp_path / "workshop"))
    return settings


def client(service: str, url: str, key: str = "test", secret: str = "test"):
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret
    )


# --------------------------------------------------------------------------- participants and policy


def test_participants_by_count_or_file(tmp_path):
    assert workshop.participant_names(3) == ["ws-01", "ws-02", "ws-03"]
    names = tmp_path / "room.txt"
    names.write_text("# morning group\nws-alice\nws-bob  # late\n\n")
    assert workshop.participant_names(names_file=names) == ["ws-alice", "ws-bob"]


@pytest.mark.parametrize(
    ("lines", "reason"),
    [("ws-alice\nws-alice\n", "twice"), ("ws-al\nws-al-2\n", "would be allowed"), ("Alice\n", "cannot be used")],
)
def test_bad_participant_lists_are_refused_with_a_reason(tmp_path, lines, reason):
    names = tmp_path / "room.txt"
    names.write_text(lines)
    with pytest.raises(TutorialError, match=reason):
        workshop.participant_names(names_file=names)


def test_the_policy_renders_for_one_participant_with_no_placeholder_left():
    policy = workshop.render_policy("ws-07", "eu-west-1", ACCOUNT)
    text = json.dumps(policy)
    assert "${" not in text and "ws-07-*" in text and "eu-west-1" in text
    assert "ws-08" not in text


def test_the_policy_lints_clean_and_names_only_real_actions():
    """parliament (a maintained IAM policy linter with AWS's action catalogue) finds nothing but two
    known, deliberate points."""
    import parliament

    policy = workshop.render_policy("ws-07", "us-east-1", ACCOUNT)
    for action in workshop.policy_actions(policy):
        parliament.expand_action(action)  # raises UnknownActionException for a misspelt action
    findings = {(f.issue, json.dumps(f.detail)) for f in parliament.analyze_policy_string(json.dumps(policy)).findings}
    expected = {
        # Listing every instance (cleanup, status) cannot be limited to a name; a name-scoped
        # statement would still need the list for `python -m helpers status`.
        ("RESOURCE_STAR", json.dumps(["rds:DescribeDBInstances"])),
        # AWS authorises CreateSecurityGroup on the VPC as well as the group; parliament's
        # catalogue predates that.
        (
            "RESOURCE_MISMATCH",
            json.dumps([{"action": "ec2:CreateSecurityGroup", "required_format": "arn:*:ec2:*:*:security-group/*"}]),
        ),
    }
    assert findings == expected


def test_the_proof_policy_names_only_real_actions():
    import parliament

    proof = json.loads((NOTEBOOK_DIR.parent / "policies" / "proof-run-policy.json").read_text())
    for action in workshop.policy_actions(proof):
        parliament.expand_action(action)


# --------------------------------------------------------------------------- create


def test_create_is_a_dry_run_unless_yes(aws, moto_url, capsys):
    iam = client("iam", moto_url)
    workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02"])
    assert iam.list_users()["Users"] == []
    assert "Dry run" in capsys.readouterr().out
    assert not workshop.Workshop.folder(aws).exists()


def test_create_makes_users_keys_and_handouts_and_never_prints_a_key(aws, moto_url, capsys):
    iam = client("iam", moto_url)
    record = workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02"], yes=True, workshop_id="ws-test")
    out = capsys.readouterr().out
    assert {u["UserName"] for u in iam.list_users()["Users"]} == {"tutorial-ws-01", "tutorial-ws-02"}
    folder = workshop.Workshop.folder(aws)
    for prefix in ("ws-01", "ws-02"):
        env = (folder / f"{prefix}.env").read_text()
        secret = next(line.split("=", 1)[1] for line in env.splitlines() if line.startswith("AWS_SECRET_ACCESS_KEY="))
        assert secret and secret not in out
        assert f"TUTORIAL_PREFIX={prefix}" in env
        assert (folder / f"{prefix}.env").stat().st_mode & 0o077 == 0  # readable by the instructor only
        assert prefix in (folder / f"{prefix}-handout.md").read_text()
        document = iam.get_user_policy(UserName=f"tutorial-{prefix}", PolicyName=workshop.POLICY_NAME)
        assert f"{prefix}-*" in json.dumps(document["PolicyDocument"])
    again = workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02"], yes=True)
    assert again.participants == record.participants == ["ws-01", "ws-02"]
    assert len(iam.list_access_keys(UserName="tutorial-ws-01")["AccessKeyMetadata"]) == 1  # no second key


# --------------------------------------------------------------------------- what moto enforces


@pytest.fixture
def enforced(aws, moto_url):
    """Two participants created, then IAM enforcement switched on in the emulator."""
    from moto import settings as moto_settings

    iam = client("iam", moto_url)
    workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02"], yes=True)
    keys = {prefix: workshop.seat_keys(aws, prefix) for prefix in ("ws-01", "ws-02")}
    before = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield keys
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = before


def test_a_participant_reaches_own_buckets_and_is_refused_on_another_participants(enforced, moto_url):
    s3_a = client("s3", moto_url, *enforced["ws-01"])
    mine, theirs = Names("ws-01", ACCOUNT, "us-east-1").bucket, Names("ws-02", ACCOUNT, "us-east-1").bucket
    assert error_code(lambda: s3_a.create_bucket(Bucket=mine)) is None
    assert error_code(lambda: s3_a.put_object(Bucket=mine, Key="test.txt", Body=b"hi")) is None
    s3_b = client("s3", moto_url, *enforced["ws-02"])
    assert error_code(lambda: s3_b.create_bucket(Bucket=theirs)) is None
    assert error_code(lambda: s3_a.get_object(Bucket=theirs, Key="test.txt")) == "AccessDenied"
    assert error_code(lambda: s3_a.put_object(Bucket=theirs, Key="x", Body=b"x")) == "AccessDenied"
    assert error_code(lambda: s3_a.delete_bucket(Bucket=theirs)) == "AccessDenied"
    assert error_code(lambda: s3_a.create_bucket(Bucket="someone-elses-bucket")) == "AccessDenied"


def test_unknown_or_wrong_keys_are_refused(enforced, moto_url):
    key, secret = enforced["ws-01"]
    assert error_code(lambda: client("sts", moto_url, "AKIAIOSFODNN7EXAMPLE", secret).get_caller_identity()) in {
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
    }
    assert (
        error_code(lambda: client("sts", moto_url, key, secret + "x").get_caller_identity()) == "SignatureDoesNotMatch"
    )
    assert error_code(lambda: client("sts", moto_url, key, secret).get_caller_identity()) is None


def test_what_moto_does_not_enforce_resource_scopes_outside_s3(enforced, moto_url):
    """Pinned so that a moto upgrade that starts checking them shows up here: today a participant is
    refused even on their own table, because DynamoDB requests are authorised against "*"."""
    ddb = client("dynamodb", moto_url, *enforced["ws-01"])
    own_table = {
        "TableName": "ws-01-users",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "N"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    # AWS would answer AccessDeniedException; moto sends IAM's XML error to a JSON client, so
    # botocore can only read the HTTP status.
    assert error_code(lambda: ddb.create_table(**own_table)) in {"AccessDeniedException", "403"}
    assert error_code(lambda: ddb.list_tables()) is None  # a Resource "*" statement does apply


# --------------------------------------------------------------------------- prepare, status, sweep


def lesson_02_create_arguments() -> dict:
    """The keyword arguments lesson 02 passes to create_db_instance, as constants (names excluded)."""
    nb = nbformat.read(NOTEBOOK_DIR / "02_rds_postgres.ipynb", as_version=4)
    for cell in nb.cells:
        for node in ast.walk(ast.parse(cell.source)) if cell.cell_type == "code" else []:
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "create_db_instance":
                return {
                    kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if isinstance(kw.value, ast.Constant)
                }
    raise AssertionError("lesson 02 no longer calls create_db_instance")


def test_prepare_starts_what_lesson_02_would_create():
    lesson = lesson_02_create_arguments()
    prepared = {k: v for k, v in workshop.LESSON_02_DB.items() if k != "DBInstanceClass"}
    assert {k: lesson.get(k) for k in prepared} == prepared
    # The class is a parameter in the lesson (DB_INSTANCE_CLASS); its default is the kit's.
    nb = nbformat.read(NOTEBOOK_DIR / "02_rds_postgres.ipynb", as_version=4)
    [parameters] = [c.source for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    defaults = {
        node.target.id if isinstance(node, ast.AnnAssign) else node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(parameters).body
        if isinstance(node, ast.Assign | ast.AnnAssign)
    }
    assert defaults["DB_INSTANCE_CLASS"] == workshop.LESSON_02_DB["DBInstanceClass"]


def test_prepare_status_and_sweep(aws, moto_url, capsys):
    iam, ec2, rds = client("iam", moto_url), client("ec2", moto_url), client("rds", moto_url)
    record = workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02"], yes=True, workshop_id="ws-test")
    assert workshop.prepare(aws, ec2, rds, ACCOUNT) == []  # dry run
    assert rds.describe_db_instances()["DBInstances"] == []
    assert sorted(workshop.prepare(aws, ec2, rds, ACCOUNT, yes=True)) == ["ws-01-postgres", "ws-02-postgres"]
    assert workshop.prepare(aws, ec2, rds, ACCOUNT, yes=True) == []  # ready already: nothing started twice
    found = cleanup.find(aws, record.participants, log=lambda _: None)
    table = workshop.status(aws, found, record)
    assert "ws-01" in table and "lesson 02" in table and "Searched regions: us-east-1" in table
    left = cleanup.clean(aws, yes=True, participants=record.participants, log=lambda _: None)
    assert left == []
    assert workshop.delete_users(iam, record, yes=True) == []
    assert workshop.workshop_users_left(iam, record) == []
    assert iam.list_users()["Users"] == []


def test_the_command_line_walks_through_a_workshop(aws, moto_url, monkeypatch, capsys):
    """`python -m helpers workshop ...` end to end: dry runs change nothing, --yes acts, sweep proves."""
    from helpers.__main__ import main

    monkeypatch.setattr("helpers.settings.load_settings", lambda *a, **k: aws)
    monkeypatch.setattr("helpers.__main__.load_settings", lambda *a, **k: aws)
    iam = client("iam", moto_url)
    assert main(["workshop", "status"]) == 2  # nothing created yet: says so
    assert "workshop create" in capsys.readouterr().err
    assert main(["workshop", "create", "--participants", "2"]) == 0
    assert iam.list_users()["Users"] == []
    assert main(["workshop", "create", "--participants", "2", "--yes"]) == 0
    assert main(["workshop", "prepare", "--yes"]) == 0
    assert main(["workshop", "status"]) == 0
    room = capsys.readouterr().out
    assert "ws-01" in room and "ws-02" in room and "lesson 02" in room
    assert main(["workshop", "sweep"]) == 0  # dry run
    assert len(iam.list_users()["Users"]) == 2
    assert main(["workshop", "sweep", "--yes"]) == 0
    assert "Swept: nothing of the workshop is left" in capsys.readouterr().out
    assert iam.list_users()["Users"] == []
