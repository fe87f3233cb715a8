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
  where AWS says AccessDeniedException;
* policy variables are not filled: ``${aws:PrincipalTag/participant}-*``, the workshop policy's
  prefix, is compared as written, so a participant is refused even on their own bucket.
So moto alone proves nothing about the participant policy. The launcher's
helpers/local/iam_enforcement.py decides the way AWS does for the calls of the series
(tests/test_iam_enforcement.py); tests/test_workshop_rehearsal.py runs the whole series under
the policy with it.
"""

from __future__ import annotations

import ast
import json
import re

import boto3
import nbformat
import pytest
from support import aws_like_emulator, error_code, in_process_moto

from helpers import cleanup, workshop
from helpers.errors import TutorialError
from helpers.names import Names
from helpers.runner import NOTEBOOK_DIR

ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def moto_url():
    with aws_like_emulator() as url:
        yield url


@pytest.fixture(scope="module")
def plain_moto():
    """moto as shipped, in this process: what moto itself enforces, with its settings switched here."""
    with in_process_moto() as url:
        yield url


def settings_at(url: str, monkeypatch, tmp_path):
    """Settings pointing at the emulator at ``url`` (emptied), with the workshop's files under tmp_path."""
    import urllib.request

    from helpers.settings import load_settings

    urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=60)
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    settings = load_settings()
    monkeypatch.setattr(workshop.Workshop, "folder", staticmethod(lambda s: tmp_path / "workshop"))
    return settings


@pytest.fixture
def aws(local_stack, moto_url, monkeypatch, tmp_path):
    """Settings pointing at the private emulator (emptied), with the workshop's files under tmp_path."""
    return settings_at(moto_url, monkeypatch, tmp_path)


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
    assert "database/ws_07_lake" in text and "table/ws_07_lake/*" in text
    assert "ws-08" not in text


def test_the_workshop_policy_names_the_prefix_by_the_callers_tag():
    """One document for the whole room: the prefix is the policy variable IAM fills from the
    calling user's ``participant`` tag, lesson 06's Glue database the one from its ``glue_database``
    tag, and only those are left unfilled."""
    text = json.dumps(workshop.render_policy(None, "eu-west-1", ACCOUNT))
    assert "${aws:PrincipalTag/participant}-*" in text
    assert "database/${aws:PrincipalTag/glue_database}" in text
    assert set(re.findall(r"\$\{[^}]*\}", text)) == {
        "${aws:PrincipalTag/participant}",
        "${aws:PrincipalTag/glue_database}",
    }
    assert "eu-west-1" in text and ACCOUNT in text


def longest_region() -> str:
    from helpers.settings import KNOWN_REGIONS

    return max(KNOWN_REGIONS, key=len)


def test_the_policy_fits_a_managed_policy_with_room_to_spare():
    """IAM's limits: 6,144 characters for a managed policy, 2,048 for all of a user's inline
    policies together, white space not counted. The rendered policy, in the longest region and (for
    a learner's own copy) with the longest prefix, uses at most seven eighths of the managed limit
    (lesson 06's Glue and Athena statements took it past three quarters): room for a fix, while a
    new lesson's statements would call for a second managed policy on the group (ten may be
    attached); it could never have been a user's inline policy."""
    from helpers.local.aws_limits import MANAGED_POLICY_CHARS, USER_INLINE_POLICY_CHARS, policy_chars

    shared = policy_chars(workshop.render_policy(None, longest_region(), ACCOUNT))
    own = policy_chars(workshop.render_policy("a" + "-b" * 11 + "c", longest_region(), ACCOUNT))  # 24 characters
    assert max(shared, own) <= MANAGED_POLICY_CHARS * 7 // 8, (shared, own)
    assert shared > USER_INLINE_POLICY_CHARS  # why it is a managed policy on a group, not inline


def test_lesson_06s_glue_database_and_workgroup_are_each_participants_own():
    """ws-10's user carries glue_database=ws_10_lake; the policy grants that database, its tables and
    the ws-10-* workgroups, never ws-100's (whose names extend ws-10's), never another database than
    Athena's ``default`` (read or created, as Athena requires), and DeleteDatabase only with every
    table below it (https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html).
    Not the shared ``primary`` workgroup: everyone's queries there would be everyone's to read
    (https://docs.aws.amazon.com/athena/latest/ug/example-policies-workgroup.html); lesson 06 makes
    ``<prefix>-lake``."""
    from helpers.local.iam_enforcement import decide

    policy = workshop.render_policy(None, "us-east-1", ACCOUNT)
    tags = {t["Key"]: t["Value"] for t in workshop._tags("w", "ws-10")}
    me = {f"aws:PrincipalTag/{k}": v for k, v in tags.items()}
    assert me["aws:PrincipalTag/glue_database"] == "ws_10_lake"
    glue = f"arn:aws:glue:us-east-1:{ACCOUNT}:"
    athena = f"arn:aws:athena:us-east-1:{ACCOUNT}:workgroup/"
    allowed = [
        ("glue:CreateDatabase", glue + "database/ws_10_lake"),
        ("glue:DeleteDatabase", glue + "table/ws_10_lake/*"),
        ("glue:GetPartitions", glue + "table/ws_10_lake/trips"),
        ("glue:GetDatabase", glue + "database/default"),
        ("athena:StartQueryExecution", athena + "ws-10-lake"),
        ("athena:DeleteWorkGroup", athena + "ws-10-lake"),
    ]
    refused = [
        ("glue:GetDatabase", glue + "database/ws_100_lake"),
        ("glue:DeleteDatabase", glue + "database/default"),
        ("glue:CreateTable", glue + "table/default/trips"),
        ("glue:GetDatabases", glue + "database/*"),
        ("athena:StartQueryExecution", athena + "ws-100-lake"),
        ("athena:GetQueryResults", athena + "ws-100-lake"),
        ("athena:StartQueryExecution", athena + "primary"),
        ("athena:GetQueryResults", athena + "primary"),
        ("athena:TagResource", athena + "primary"),
    ]
    for action, resource in allowed:
        assert decide([policy], action, resource, me) == "allow", (action, resource)
    for action, resource in refused:
        assert decide([policy], action, resource, me) != "allow", (action, resource)
    untagged = {"aws:PrincipalTag/participant": "ws-10"}  # a user made before lesson 06: no database
    assert decide([policy], "glue:CreateDatabase", glue + "database/ws_10_lake", untagged) != "allow"


def test_tags_go_on_a_security_group_only_as_it_is_created():
    """ec2:CreateTags is allowed only with ec2:CreateAction=CreateSecurityGroup, so a participant
    cannot tag an existing group (someone else's, or nobody's) as theirs and then open or delete it
    (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html)."""
    from helpers.local.iam_enforcement import decide

    policy = workshop.render_policy(None, "us-east-1", ACCOUNT)
    me = {"aws:PrincipalTag/participant": "ws-01"}
    group = f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/sg-0123456789abcdef0"
    claim = {**me, "aws:RequestTag/participant": "ws-01"}
    assert decide([policy], "ec2:CreateTags", group, {**claim, "aws:ResourceTag/participant": "ws-02"}) != "allow"
    assert decide([policy], "ec2:CreateTags", group, claim) != "allow"  # a group with no tags
    created = {**claim, "ec2:CreateAction": "CreateSecurityGroup"}
    assert decide([policy], "ec2:CreateTags", f"arn:aws:ec2:us-east-1:{ACCOUNT}:security-group/*", created) == "allow"


def test_the_readme_lists_what_the_policy_allows():
    """The README's IAM paragraph for a learner on their own account is the policy's own summary
    (regenerate it with workshop.policy_summary() when the policy changes)."""
    readme = (NOTEBOOK_DIR.parent / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- policy-summary:start -->\n", 1)[1].split("<!-- policy-summary:end -->", 1)[0]
    assert block.strip() == workshop.policy_summary(), workshop.policy_summary()
    for needed in ("kms:DescribeKey", "secretsmanager:CreateSecret", "rds!db-*", "iam:CreateServiceLinkedRole"):
        assert needed in block
    assert "python -m helpers policy" in readme


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
        # Athena's tagging actions apply to workgroups, data catalogs and capacity reservations;
        # parliament names the two kinds the statement leaves out, which is the point: workgroups only.
        (
            "RESOURCE_MISMATCH",
            json.dumps(
                [
                    {"action": action, "required_format": f"arn:*:athena:*:*:{kind}/*"}
                    for action in ("athena:TagResource", "athena:ListTagsForResource")
                    for kind in ("capacity-reservation", "datacatalog")
                ]
            ),
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
    again = workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02"], yes=True)
    assert again.participants == record.participants == ["ws-01", "ws-02"]
    assert len(iam.list_access_keys(UserName="tutorial-ws-01")["AccessKeyMetadata"]) == 1  # no second key


def test_each_user_is_tagged_in_the_group_that_holds_the_one_managed_policy(aws, moto_url):
    """No inline user policy (IAM's 2,048-character limit per user is what a real room hit)."""
    iam = client("iam", moto_url)
    record = workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02"], yes=True, workshop_id="ws-test")
    [attached] = iam.list_attached_group_policies(GroupName=record.group)["AttachedPolicies"]
    assert attached["PolicyArn"] == record.policy_arn
    version = iam.get_policy(PolicyArn=record.policy_arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=record.policy_arn, VersionId=version)["PolicyVersion"]["Document"]
    assert document == workshop.render_policy(None, aws.region, ACCOUNT)
    members = {u["UserName"] for u in iam.get_group(GroupName=record.group)["Users"]}
    assert members == {"tutorial-ws-01", "tutorial-ws-02"}
    for prefix in ("ws-01", "ws-02"):
        user = f"tutorial-{prefix}"
        assert iam.list_user_policies(UserName=user)["PolicyNames"] == []
        tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user)["Tags"]}
        assert tags["participant"] == prefix and tags["workshop"] == "ws-test"
    assert workshop.Workshop.load(aws) == record  # what sweep will read


def test_create_again_brings_the_policy_up_to_date_within_iams_five_versions(aws, moto_url, monkeypatch):
    """A changed policy becomes the new default version; IAM keeps at most five, so the oldest
    spare one goes first (https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html)."""
    iam = client("iam", moto_url)
    record = workshop.create(aws, iam, ACCOUNT, ["ws-01"], yes=True, workshop_id="ws-test", log=lambda _: None)
    rendered = workshop.render_policy
    for n in range(6):
        changed = rendered(None, aws.region, ACCOUNT)
        changed["Statement"][0]["Sid"] = f"Edition{n}"
        monkeypatch.setattr(workshop, "render_policy", lambda *a, changed=changed, **k: changed)
        workshop.create(aws, iam, ACCOUNT, ["ws-01"], yes=True, log=lambda _: None)
        versions = iam.list_policy_versions(PolicyArn=record.policy_arn)["Versions"]
        assert len(versions) <= 5
        default = next(v["VersionId"] for v in versions if v["IsDefaultVersion"])
        document = iam.get_policy_version(PolicyArn=record.policy_arn, VersionId=default)["PolicyVersion"]["Document"]
        assert document == changed
    assert len(iam.list_access_keys(UserName="tutorial-ws-01")["AccessKeyMetadata"]) == 1


def fail_on(iam, operation: str, code: str, when=lambda params: True) -> None:
    """Make one IAM operation answer ``code`` (as AWS would, e.g. at a quota), for this client only."""
    from botocore.exceptions import ClientError

    def refuse(params, **_):
        if when(params):
            raise ClientError({"Error": {"Code": code, "Message": f"refused by the test: {code}"}}, operation)

    iam.meta.events.register(f"before-parameter-build.iam.{operation}", refuse)


def test_a_create_that_fails_half_way_leaves_every_user_it_made_on_record(aws, moto_url):
    """The second participant's key cannot be made: the user exists already, so the record must
    name it, and the sweep finds and deletes it."""
    iam = client("iam", moto_url)
    fail_on(iam, "CreateAccessKey", "LimitExceeded", when=lambda p: p["UserName"] == "tutorial-ws-02")
    with pytest.raises(Exception, match="LimitExceeded"):
        workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02", "ws-03"], yes=True, workshop_id="ws-test")
    record = workshop.Workshop.load(aws)
    assert record is not None and record.participants == ["ws-01", "ws-02"]
    assert record.group and record.policy_arn
    assert workshop.delete_users(client("iam", moto_url), record, yes=True, log=lambda _: None) == []
    assert iam.list_users()["Users"] == [] and iam.list_groups()["Groups"] == []
    assert iam.list_policies(Scope="Local")["Policies"] == []


def test_create_again_from_another_checkout_never_adds_a_key(aws, moto_url, monkeypatch, tmp_path):
    """IAM allows two keys per user. From a checkout without the seats' .env files, `create` adds no
    key and says what to do; --rotate-keys replaces the key (and the old one stops working)."""
    iam = client("iam", moto_url)
    workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02"], yes=True, workshop_id="ws-test")
    first = workshop.seat_keys(aws, "ws-01")[0]
    elsewhere = tmp_path / "other-checkout"
    monkeypatch.setattr(workshop.Workshop, "folder", staticmethod(lambda s: elsewhere))
    for _ in range(3):
        with pytest.raises(TutorialError, match="rotate-keys") as refused:
            workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02"], yes=True, workshop_id="ws-test", log=lambda _: None)
        assert "ws-01, ws-02" in str(refused.value)
        assert [k["AccessKeyId"] for k in iam.list_access_keys(UserName="tutorial-ws-01")["AccessKeyMetadata"]] == [
            first
        ]
    assert not (elsewhere / "ws-01.env").exists()
    workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02"], yes=True, rotate_keys=True, log=lambda _: None)
    [now] = iam.list_access_keys(UserName="tutorial-ws-01")["AccessKeyMetadata"]
    assert now["AccessKeyId"] == workshop.seat_keys(aws, "ws-01")[0] != first


def test_a_user_left_without_a_key_gets_one(aws, moto_url):
    iam = client("iam", moto_url)
    workshop.create(aws, iam, ACCOUNT, ["ws-01"], yes=True, workshop_id="ws-test")
    [key] = iam.list_access_keys(UserName="tutorial-ws-01")["AccessKeyMetadata"]
    iam.delete_access_key(UserName="tutorial-ws-01", AccessKeyId=key["AccessKeyId"])
    workshop.create(aws, iam, ACCOUNT, ["ws-01"], yes=True, log=lambda _: None)
    [new] = iam.list_access_keys(UserName="tutorial-ws-01")["AccessKeyMetadata"]
    assert new["AccessKeyId"] == workshop.seat_keys(aws, "ws-01")[0] != key["AccessKeyId"]


def test_create_never_adopts_another_workshops_user(aws, moto_url, monkeypatch, tmp_path):
    iam = client("iam", moto_url)
    iam.create_user(UserName="tutorial-ws-02", Tags=[{"Key": "workshop", "Value": "last-week"}])
    with pytest.raises(TutorialError, match="last-week"):
        workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02"], yes=True, workshop_id="ws-test")
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["tutorial-ws-02"]  # nothing was made
    assert workshop.Workshop.load(aws) is None


# --------------------------------------------------------------------------- what moto enforces


@pytest.fixture
def enforced(local_stack, plain_moto, monkeypatch, tmp_path):
    """Two participants created, then moto's own IAM enforcement switched on (plain moto, in this process)."""
    from moto import settings as moto_settings

    aws = settings_at(plain_moto, monkeypatch, tmp_path)
    iam = client("iam", plain_moto)
    workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02"], yes=True)
    keys = {prefix: workshop.seat_keys(aws, prefix) for prefix in ("ws-01", "ws-02")}
    before = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield keys
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = before


def test_what_moto_does_not_do_fill_policy_variables(enforced, plain_moto):
    """Pinned so that a moto upgrade that fills them shows up here: plain moto compares
    ``arn:aws:s3:::${aws:PrincipalTag/participant}-*`` as written, so even a participant's own
    bucket is refused; the launcher's enforcement fills it (tests/test_iam_enforcement.py)."""
    s3_a = client("s3", plain_moto, *enforced["ws-01"])
    mine = Names("ws-01", ACCOUNT, "us-east-1").bucket
    assert error_code(lambda: s3_a.create_bucket(Bucket=mine)) == "AccessDenied"
    assert error_code(lambda: s3_a.list_buckets()) is None  # a Resource "*" statement does apply


def test_unknown_or_wrong_keys_are_refused(enforced, plain_moto):
    key, secret = enforced["ws-01"]
    assert error_code(lambda: client("sts", plain_moto, "AKIAIOSFODNN7EXAMPLE", secret).get_caller_identity()) in {
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
    }
    wrong_secret = client("sts", plain_moto, key, secret + "x")
    assert error_code(lambda: wrong_secret.get_caller_identity()) == "SignatureDoesNotMatch"
    assert error_code(lambda: client("sts", plain_moto, key, secret).get_caller_identity()) is None


def test_what_moto_does_not_enforce_resource_scopes_outside_s3(enforced, plain_moto):
    """Pinned so that a moto upgrade that starts checking them shows up here: today a participant is
    refused even on their own table, because DynamoDB requests are authorised against "*"."""
    ddb = client("dynamodb", plain_moto, *enforced["ws-01"])
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


def add_by_hand(iam, user: str) -> str:
    """What an administrator may attach to a participant's user: a console password, a managed
    policy of their own, a virtual MFA device. Returns that policy's ARN."""
    iam.create_login_profile(UserName=user, Password="Workshop-Pa55word!")  # noqa: S106 - a throwaway emulator
    arn = iam.create_policy(PolicyName="admins-own-readonly", PolicyDocument=json.dumps(READ_ONLY))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=f"{user}-phone")["VirtualMFADevice"]
    iam.enable_mfa_device(
        UserName=user, SerialNumber=device["SerialNumber"], AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    return arn


READ_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
}


def test_sweep_deletes_what_an_administrator_added_and_goes_on_past_a_user_it_cannot_delete(aws, moto_url):
    """ws-01 has a password, a managed policy and an MFA device added by hand; ws-02 cannot be
    deleted (IAM refuses); ws-03 comes after it and must still go, keys and all."""
    iam = client("iam", moto_url)
    record = workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02", "ws-03"], yes=True, workshop_id="ws-test")
    admins_policy = add_by_hand(iam, "tutorial-ws-01")
    fail_on(iam, "DeleteUser", "DeleteConflict", when=lambda p: p["UserName"] == "tutorial-ws-02")
    lines: list[str] = []
    left = workshop.delete_users(iam, record, yes=True, log=lines.append)
    assert len(left) == 1 and "tutorial-ws-02" in left[0] and "DeleteConflict" in left[0], left
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["tutorial-ws-02"]
    assert iam.list_access_keys(UserName="tutorial-ws-02")["AccessKeyMetadata"] == []  # its keys went first
    assert iam.list_virtual_mfa_devices()["VirtualMFADevices"] == []
    assert iam.get_policy(PolicyArn=admins_policy)["Policy"]["AttachmentCount"] == 0  # detached, not deleted
    assert iam.list_groups()["Groups"] == []
    assert [p["Arn"] for p in iam.list_policies(Scope="Local")["Policies"]] == [admins_policy]
    assert any(line.startswith("NOT deleted") and "tutorial-ws-02" in line for line in lines)


def test_the_sweep_command_ends_non_zero_and_names_what_it_left(aws, moto_url, monkeypatch, capsys):
    from helpers import aws as aws_module
    from helpers.__main__ import main

    monkeypatch.setattr("helpers.__main__.load_settings", lambda *a, **k: aws)
    iam = client("iam", moto_url)
    workshop.create(aws, iam, ACCOUNT, ["ws-01", "ws-02"], yes=True, workshop_id="ws-test", log=lambda _: None)
    made = aws_module.client

    def with_a_refusal(service, settings=None, **kwargs):
        found = made(service, settings, **kwargs)
        if service == "iam":
            fail_on(found, "DeleteUser", "DeleteConflict", when=lambda p: p["UserName"] == "tutorial-ws-01")
        return found

    monkeypatch.setattr(aws_module, "client", with_a_refusal)
    assert main(["workshop", "sweep", "--yes"]) == 1
    out = capsys.readouterr().out
    assert "NOT clean" in out and "left: iam user tutorial-ws-01: DeleteConflict" in out
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["tutorial-ws-01"]


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
    assert iam.list_users()["Users"] == [] and iam.list_groups()["Groups"] == []


def test_the_policy_command_prints_the_learners_own_policy(aws, moto_url, monkeypatch, capsys):
    """`python -m helpers policy`: the JSON on stdout (the learner's prefix written in, their region
    and account), and how to create and attach it on stderr."""
    from helpers.__main__ import main

    monkeypatch.setattr("helpers.__main__.load_settings", lambda *a, **k: aws)
    assert main(["policy"]) == 0
    out, err = capsys.readouterr()
    policy = json.loads(out)
    assert policy == workshop.render_policy(aws.prefix, aws.region, ACCOUNT)
    assert f"{aws.prefix}-*" in out and f":{aws.region}:{ACCOUNT}:" in out and "${" not in out
    assert "aws iam create-policy" in err and "file://" in err and "attach-user-policy" in err
    iam = client("iam", moto_url)  # and IAM takes it as it is
    iam.create_policy(PolicyName="mine", PolicyDocument=out)


def test_the_room_status_shows_who_reached_lesson_06():
    """A Glue database or workgroup alive means the participant got to the bonus lesson 06."""
    assert workshop.progress([cleanup.BUCKET, cleanup.GLUE_DATABASE]) == "lesson 06 or later"
    assert workshop.progress([cleanup.WORKGROUP]) == "lesson 06 or later"
    assert workshop.progress([cleanup.BUCKET, cleanup.TABLE]) == "lesson 03 or later"
