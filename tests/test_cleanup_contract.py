"""Cleanup against AWS's own answers, replayed with botocore's Stubber (no server needed).

moto forgives what AWS refuses, so the error paths that matter on a real account are
played here exactly as AWS answers them: an instance "already being deleted", one stuck
in ``deleting``, an RDS-managed secret that Secrets Manager will not delete, a security
group still in use, a throttled listing, a service the identity may not use. Each client
is a real boto3 client wrapped in a Stubber; every test ends by checking that each
expected call was made (``assert_no_pending_responses``), so a call that cleanup stops
making fails the test as surely as an unexpected one.
"""

from __future__ import annotations

import time
import zlib
from types import SimpleNamespace

import boto3
import pytest
from botocore.stub import Stubber

from helpers import cleanup, regions
from helpers.names import PARTICIPANT_TAG_KEY, SERIES_TAG_KEY, SERIES_TAG_VALUE, athena_workgroup, glue_database
from helpers.settings import Settings

REGION = "us-east-1"
ACCOUNT = "123456789012"
PREFIX = "ds-abc123"


def tags_of(prefix: str) -> list[dict[str, str]]:
    return [{"Key": SERIES_TAG_KEY, "Value": SERIES_TAG_VALUE}, {"Key": PARTICIPANT_TAG_KEY, "Value": prefix}]


TAGS = tags_of(PREFIX)
# Short waits whose number of looks is fixed: 0.25 s every 0.125 s is three looks.
FAST = cleanup.Patience(
    db_timeout=0.25, db_poll=0.125, group_timeout=0.25, group_poll=0.125, secret_grace=0, secret_poll=0
)


class Stubs:
    """A stubbed boto3 client per (service, region), handed to cleanup through :class:`cleanup.Clients`."""

    def __init__(self) -> None:
        self.clients: dict[tuple[str, str], object] = {}
        self.stubbers: dict[tuple[str, str], Stubber] = {}
        self.made: list[tuple[str, str]] = []
        self.account_answered = False  # cleanup asks STS for the account once per Clients

    def factory(self, service: str, region: str):
        self.made.append((service, region))
        return self._client(service, region)

    def _client(self, service: str, region: str):
        key = (service, region)
        if key not in self.clients:
            client = boto3.client(
                service, region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
            )
            self.stubbers[key] = Stubber(client)
            self.stubbers[key].activate()
            self.clients[key] = client
        return self.clients[key]

    def __call__(self, service: str, region: str = REGION) -> Stubber:
        self._client(service, region)
        return self.stubbers[(service, region)]

    def assert_no_pending_responses(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


@pytest.fixture
def stubs():
    return Stubs()


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Settings of the aws backend: the target these answers come from."""
    return Settings(backend="aws", region=REGION, prefix=PREFIX, state_dir=tmp_path)


def clients_of(stubs: Stubs, settings: Settings) -> cleanup.Clients:
    return cleanup.Clients(settings, factory=stubs.factory)


# --------------------------------------------------------------------------- AWS's answers


def names(region: str = REGION, prefix: str = PREFIX) -> SimpleNamespace:
    """The names AWS would show for ``prefix``'s resources (ids made distinct per prefix)."""
    db = f"{prefix}-postgres"
    digits = f"{zlib.crc32(prefix.encode()):08x}"
    secret = f"rds!db-{digits}-0000-1111-2222-333344445555"
    return SimpleNamespace(
        bucket=f"{prefix}-0badcafe-data",
        table=f"{prefix}-users",
        table_arn=f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{prefix}-users",
        db=db,
        db_arn=f"arn:aws:rds:{region}:{ACCOUNT}:db:{db}",
        secret=secret,
        secret_arn=f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{secret}-AbCdEf",
        group=f"{prefix}-postgres-sg",
        group_id=f"sg-0{digits}abcdef0",
        database=glue_database(prefix),
        database_arn=f"arn:aws:glue:{region}:{ACCOUNT}:database/{glue_database(prefix)}",
        workgroup=athena_workgroup(prefix),
        workgroup_arn=f"arn:aws:athena:{region}:{ACCOUNT}:workgroup/{athena_workgroup(prefix)}",
    )


def error(stubber: Stubber, method: str, code: str, message: str = "", status: int = 400, params=None) -> None:
    stubber.add_client_error(
        method, service_error_code=code, service_message=message, http_status_code=status, expected_params=params
    )


def expect_buckets(stubs: Stubs, region: str = REGION, *, present: bool = True) -> None:
    n = names(region)
    buckets = [{"Name": n.bucket, "BucketRegion": region}] if present else []
    stubs("s3", region).add_response("list_buckets", {"Buckets": buckets}, {"BucketRegion": region})
    if present:
        stubs("s3", region).add_response("get_bucket_tagging", {"TagSet": TAGS}, {"Bucket": n.bucket})


def expect_tables(stubs: Stubs, region: str = REGION, *, present: bool = True) -> None:
    n = names(region)
    ddb = stubs("dynamodb", region)
    ddb.add_response("list_tables", {"TableNames": [n.table] if present else []}, {})
    if present:
        table = {"TableName": n.table, "TableArn": n.table_arn}
        ddb.add_response("describe_table", {"Table": table}, {"TableName": n.table})
        ddb.add_response("list_tags_of_resource", {"Tags": TAGS}, {"ResourceArn": n.table_arn})


def db_description(region: str = REGION, status: str = "available", prefix: str = PREFIX) -> dict:
    n = names(region, prefix)
    return {
        "DBInstanceIdentifier": n.db,
        "DBInstanceArn": n.db_arn,
        "DBInstanceStatus": status,
        "TagList": tags_of(prefix),
        "MasterUserSecret": {"SecretArn": n.secret_arn, "SecretStatus": "active"},
    }


def expect_dbs(stubs: Stubs, region: str = REGION, *, present: bool = True, status: str = "available") -> None:
    dbs = [db_description(region, status)] if present else []
    stubs("rds", region).add_response("describe_db_instances", {"DBInstances": dbs}, {})


def expect_secrets(stubs: Stubs, region: str = REGION, *, present: bool = True) -> None:
    """RDS's managed secret: tagged by RDS with the instance ARN, not with the series' tags."""
    n = names(region)
    sm = stubs("secretsmanager", region)
    listed = [{"ARN": n.secret_arn, "Name": n.secret, "Tags": [{"Key": cleanup.RDS_SECRET_TAG, "Value": n.db_arn}]}]
    sm.add_response("list_secrets", {"SecretList": listed if present else []}, {})
    if present:
        sm.add_response("describe_secret", {"ARN": n.secret_arn, "Name": n.secret}, {"SecretId": n.secret_arn})


def expect_groups(stubs: Stubs, region: str = REGION, *, present: bool = True) -> None:
    n = names(region)
    groups = [{"GroupName": n.group, "GroupId": n.group_id, "Tags": TAGS}] if present else []
    filters = [{"Name": f"tag:{SERIES_TAG_KEY}", "Values": [SERIES_TAG_VALUE]}]
    stubs("ec2", region).add_response("describe_security_groups", {"SecurityGroups": groups}, {"Filters": filters})


def expect_account(stubs: Stubs, region: str = REGION) -> None:
    if not stubs.account_answered:
        identity = {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/learner", "UserId": "AIDAEXAMPLE"}
        stubs("sts", region).add_response("get_caller_identity", identity, {})
        stubs.account_answered = True


def expect_lake(stubs: Stubs, region: str = REGION, *, present: bool = False, prefix: str = PREFIX) -> None:
    """Lesson 06's Glue database and Athena workgroup, each asked for by its participant's name.

    Glue answers a missing database with EntityNotFoundException
    (https://docs.aws.amazon.com/glue/latest/webapi/API_GetDatabase.html), Athena a missing workgroup
    with InvalidRequestException (https://docs.aws.amazon.com/athena/latest/APIReference/API_GetWorkGroup.html).
    """
    n = names(region, prefix)
    glue, athena = stubs("glue", region), stubs("athena", region)
    if present:
        glue.add_response("get_database", {"Database": {"Name": n.database}}, {"Name": n.database})
        expect_account(stubs, region)
        glue_tags = {t["Key"]: t["Value"] for t in tags_of(prefix)}
        glue.add_response("get_tags", {"Tags": glue_tags}, {"ResourceArn": n.database_arn})
        athena.add_response(
            "get_work_group", {"WorkGroup": {"Name": n.workgroup, "State": "ENABLED"}}, {"WorkGroup": n.workgroup}
        )
        athena.add_response("list_tags_for_resource", {"Tags": tags_of(prefix)}, {"ResourceARN": n.workgroup_arn})
    else:
        missing = f"Database {n.database} not found."
        error(glue, "get_database", "EntityNotFoundException", missing, 400, {"Name": n.database})
        gone = f"WorkGroup {n.workgroup} is not found."
        error(athena, "get_work_group", "InvalidRequestException", gone, 400, {"WorkGroup": n.workgroup})


def expect_find(
    stubs: Stubs,
    region: str = REGION,
    *,
    present: bool = True,
    skip: tuple[str, ...] = (),
    db_status: str = "available",
    lake: bool = False,
) -> None:
    """One listing of every service in ``region``; ``skip`` leaves some to the test; ``lake``:
    lesson 06's database and workgroup exist.

    Each service has its own client and stubber, so only the order within one service matters.
    """
    for service, expect in [
        ("s3", expect_buckets),
        ("dynamodb", expect_tables),
        ("secretsmanager", expect_secrets),
        ("ec2", expect_groups),
    ]:
        if service not in skip:
            expect(stubs, region, present=present)
    if "rds" not in skip:
        expect_dbs(stubs, region, present=present, status=db_status)
    if "lake" not in skip:
        expect_lake(stubs, region, present=present and lake)


def resources(region: str = REGION) -> dict[str, cleanup.Resource]:
    n = names(region)
    return {
        "bucket": cleanup.Resource(cleanup.BUCKET, n.bucket, PREFIX, region=region),
        "table": cleanup.Resource(cleanup.TABLE, n.table, PREFIX, n.table_arn, region),
        "db": cleanup.Resource(cleanup.DB_INSTANCE, n.db, PREFIX, n.db_arn, region, n.secret_arn),
        "secret": cleanup.Resource(cleanup.SECRET, n.secret, PREFIX, n.secret_arn, region, n.db_arn),
        "group": cleanup.Resource(cleanup.SECURITY_GROUP, n.group, PREFIX, n.group_id, region),
        "database": cleanup.Resource(cleanup.GLUE_DATABASE, n.database, PREFIX, region=region),
        "workgroup": cleanup.Resource(cleanup.WORKGROUP, n.workgroup, PREFIX, n.workgroup_arn, region),
    }


def expect_lake_deleted(stubs: Stubs, region: str = REGION) -> None:
    n = names(region)
    recursive = {"WorkGroup": n.workgroup, "RecursiveDeleteOption": True}
    stubs("athena", region).add_response("delete_work_group", {}, recursive)
    stubs("glue", region).add_response("delete_database", {}, {"Name": n.database})


def expect_bucket_deleted(stubs: Stubs, region: str = REGION) -> None:
    s3, bucket = stubs("s3", region), names(region).bucket
    s3.add_response("list_multipart_uploads", {}, {"Bucket": bucket})
    s3.add_response("list_object_versions", {}, {"Bucket": bucket})
    s3.add_response("delete_bucket", {}, {"Bucket": bucket})


def expect_table_deleted(stubs: Stubs, region: str = REGION) -> None:
    ddb, table = stubs("dynamodb", region), names(region).table
    ddb.add_response("delete_table", {"TableDescription": {"TableName": table}}, {"TableName": table})
    error(ddb, "describe_table", "ResourceNotFoundException", "Requested resource not found", 400, {"TableName": table})


DELETE_DB = {"SkipFinalSnapshot": True, "DeleteAutomatedBackups": True}


def expect_db_deletion_started(stubs: Stubs, region: str = REGION) -> None:
    n = names(region)
    stubs("rds", region).add_response(
        "delete_db_instance",
        {"DBInstance": {"DBInstanceIdentifier": n.db, "DBInstanceStatus": "deleting"}},
        {"DBInstanceIdentifier": n.db, **DELETE_DB},
    )


def expect_db_status(stubs: Stubs, status: str | None, region: str = REGION) -> None:
    """One DescribeDBInstances of the instance: its status, or RDS's "not found" once it is gone."""
    n = names(region)
    params = {"DBInstanceIdentifier": n.db}
    if status is None:
        error(
            stubs("rds", region),
            "describe_db_instances",
            "DBInstanceNotFound",
            f"DBInstance {n.db} not found.",
            404,
            params,
        )
    else:
        stubs("rds", region).add_response(
            "describe_db_instances", {"DBInstances": [db_description(region, status)]}, params
        )


def expect_secret_gone(stubs: Stubs, region: str = REGION) -> None:
    n = names(region)
    error(
        stubs("secretsmanager", region),
        "describe_secret",
        "ResourceNotFoundException",
        "Secrets Manager can't find the specified secret.",
        400,
        {"SecretId": n.secret_arn},
    )


def expect_group_deleted(stubs: Stubs, region: str = REGION) -> None:
    stubs("ec2", region).add_response("delete_security_group", {}, {"GroupId": names(region).group_id})


def failed_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("FAILED")]


# --------------------------------------------------------------------------- the happy path


def test_clean_deletes_everything_in_order_with_the_calls_aws_expects(stubs, settings):
    expect_find(stubs, lake=True)
    expect_db_deletion_started(stubs)
    expect_lake_deleted(stubs)
    expect_bucket_deleted(stubs)
    expect_table_deleted(stubs)
    expect_db_status(stubs, None)
    expect_secret_gone(stubs)  # RDS took its secret with the instance: no DeleteSecret
    expect_group_deleted(stubs)
    expect_find(stubs, present=False)
    lines: list[str] = []
    left = cleanup.clean(
        settings, yes=True, log=lines.append, regions=[REGION], clients=clients_of(stubs, settings), patience=FAST
    )
    assert left == [] and left.complete
    assert failed_lines(lines) == []
    deleted = [line.split()[1:3] for line in lines if line.startswith("deleted")]
    assert ["athena", "workgroup"] in deleted and ["glue", "database"] in deleted
    assert "Searched regions: us-east-1" in lines[-1]
    stubs.assert_no_pending_responses()


# --------------------------------------------------------------------------- RDS: already being deleted


def test_already_being_deleted_answer_is_not_a_failure(stubs):
    n = names()
    error(
        stubs("rds"),
        "delete_db_instance",
        "InvalidDBInstanceState",
        f"Instance {n.db} is already being deleted.",
        400,
        {"DBInstanceIdentifier": n.db, **DELETE_DB},
    )
    assert cleanup.start_db_deletion(stubs.factory("rds", REGION), n.db) is False
    stubs.assert_no_pending_responses()


def test_invalid_state_with_another_message_is_checked_against_the_status(stubs):
    n = names()
    rds = stubs("rds")
    error(rds, "delete_db_instance", "InvalidDBInstanceState", "DB instance is not in the available state.")
    expect_db_status(stubs, "deleting")
    assert cleanup.start_db_deletion(stubs.factory("rds", REGION), n.db) is False
    # The same code for an instance still being created is a real refusal.
    error(rds, "delete_db_instance", "InvalidDBInstanceState", "DB instance is not in the available state.")
    expect_db_status(stubs, "creating")
    with pytest.raises(Exception, match="InvalidDBInstanceState"):
        cleanup.start_db_deletion(stubs.factory("rds", REGION), n.db)
    stubs.assert_no_pending_responses()


def test_clean_yes_waits_for_an_instance_already_being_deleted(stubs, settings):
    n = names()
    expect_find(stubs, db_status="deleting")
    error(
        stubs("rds"),
        "delete_db_instance",
        "InvalidDBInstanceState",
        f"Instance {n.db} is already being deleted.",
        400,
        {"DBInstanceIdentifier": n.db, **DELETE_DB},
    )
    expect_bucket_deleted(stubs)
    expect_table_deleted(stubs)
    expect_db_status(stubs, "deleting")
    expect_db_status(stubs, None)
    expect_secret_gone(stubs)
    expect_group_deleted(stubs)
    expect_find(stubs, present=False)
    lines: list[str] = []
    left = cleanup.clean(
        settings, yes=True, log=lines.append, regions=[REGION], clients=clients_of(stubs, settings), patience=FAST
    )
    assert left == [] and left.complete
    assert failed_lines(lines) == []
    assert any("already being deleted" in line for line in lines)
    stubs.assert_no_pending_responses()


# --------------------------------------------------------------------------- RDS: stuck in deleting


def test_an_instance_stuck_in_deleting_is_reported_and_nothing_hangs(stubs, settings):
    r = resources()
    expect_db_deletion_started(stubs)
    for _ in range(3):  # FAST looks three times
        expect_db_status(stubs, "deleting")
    expect_db_status(stubs, "deleting")  # the secret's instance still exists: its secret is left to RDS
    error(
        stubs("ec2"),
        "delete_security_group",
        "DependencyViolation",
        f"resource {r['group'].ident} has a dependent object",
        400,
        {"GroupId": r["group"].ident},
    )
    lines: list[str] = []
    start = time.monotonic()
    failed = cleanup.delete_all(
        [r["db"], r["secret"], r["group"]], settings, lines.append, clients=clients_of(stubs, settings), patience=FAST
    )
    assert time.monotonic() - start < 5
    assert failed == [r["db"], r["secret"], r["group"]]
    [db_line] = [line for line in lines if line.startswith(f"FAILED        {r['db'].label}:")]
    assert "still 'deleting'" in db_line and "python -m helpers status" in db_line
    assert any(line.startswith("left to RDS") and r["secret"].name in line for line in lines)
    stubs.assert_no_pending_responses()  # and no DeleteSecret was attempted: it was not stubbed


# --------------------------------------------------------------------------- RDS-managed secrets


def test_managed_secret_is_never_deleted_while_its_instance_exists(stubs, settings):
    r = resources()
    expect_db_status(stubs, "available")
    lines: list[str] = []
    failed = cleanup.delete_all(
        [r["secret"]], settings, lines.append, clients=clients_of(stubs, settings), patience=FAST
    )
    assert failed == [r["secret"]]
    assert any(line.startswith("left to RDS") and r["db"].name in line for line in lines)
    stubs.assert_no_pending_responses()


def test_managed_secret_refusal_is_reported_not_raised(stubs, settings):
    """RDS already says the instance is gone, Secrets Manager still says RDS uses the secret."""
    r = resources()
    n = names()
    expect_db_status(stubs, None)
    sm = stubs("secretsmanager")
    sm.add_response("describe_secret", {"ARN": n.secret_arn, "Name": n.secret}, {"SecretId": n.secret_arn})
    error(
        sm,
        "delete_secret",
        "InvalidRequestException",
        "You can't delete secret because it's managed by rds and in use.",
        400,
        {"SecretId": n.secret_arn, "ForceDeleteWithoutRecovery": True},
    )
    expect_group_deleted(stubs)
    lines: list[str] = []
    failed = cleanup.delete_all(
        [r["secret"], r["group"]], settings, lines.append, clients=clients_of(stubs, settings), patience=FAST
    )
    assert failed == [r["secret"]]
    [line] = failed_lines(lines)
    assert "refused" in line and "RDS manages it" in line and "managed by rds" in line
    assert f"deleted       {r['group'].label}" in lines
    stubs.assert_no_pending_responses()


def test_managed_secret_that_outlived_its_instance_is_deleted_after_a_grace(stubs, settings):
    r = resources()
    n = names()
    expect_db_status(stubs, None)
    sm = stubs("secretsmanager")
    for _ in range(3):  # still there at each of the three looks of the grace period
        sm.add_response("describe_secret", {"ARN": n.secret_arn, "Name": n.secret}, {"SecretId": n.secret_arn})
    sm.add_response(
        "delete_secret", {"ARN": n.secret_arn}, {"SecretId": n.secret_arn, "ForceDeleteWithoutRecovery": True}
    )
    patience = cleanup.Patience(0, 0, 0, 0, secret_grace=0.25, secret_poll=0.125)
    lines: list[str] = []
    failed = cleanup.delete_all(
        [r["secret"]], settings, lines.append, clients=clients_of(stubs, settings), patience=patience
    )
    assert failed == []
    assert any("outlived" in line for line in lines)
    stubs.assert_no_pending_responses()


def test_secret_scheduled_for_deletion_counts_as_gone(stubs, settings):
    r = resources()
    n = names()
    expect_db_status(stubs, None)
    stubs("secretsmanager").add_response(
        "describe_secret",
        {"ARN": n.secret_arn, "Name": n.secret, "DeletedDate": "2026-11-27T10:00:00Z"},
        {"SecretId": n.secret_arn},
    )
    lines: list[str] = []
    assert (
        cleanup.delete_all([r["secret"]], settings, lines.append, clients=clients_of(stubs, settings), patience=FAST)
        == []
    )
    stubs.assert_no_pending_responses()


def test_a_secret_with_the_series_own_tags_is_deleted_directly(stubs, settings):
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{PREFIX}-notes-AbCdEf"
    secret = cleanup.Resource(cleanup.SECRET, f"{PREFIX}-notes", PREFIX, arn, REGION)
    stubs("secretsmanager").add_response(
        "delete_secret", {"ARN": arn}, {"SecretId": arn, "ForceDeleteWithoutRecovery": True}
    )
    assert (
        cleanup.delete_all([secret], settings, lambda _: None, clients=clients_of(stubs, settings), patience=FAST) == []
    )
    stubs.assert_no_pending_responses()


def test_a_listed_secret_already_deleted_is_not_reported_as_left(stubs):
    """ListSecrets lags by minutes on AWS; DescribeSecret is what says whether it still exists."""
    n = names()
    instance = resources()["db"]
    sm = stubs("secretsmanager")
    listed = [{"ARN": n.secret_arn, "Name": n.secret, "Tags": [{"Key": cleanup.RDS_SECRET_TAG, "Value": n.db_arn}]}]
    sm.add_response("list_secrets", {"SecretList": listed}, {})
    error(sm, "describe_secret", "ResourceNotFoundException", "not found", 400, {"SecretId": n.secret_arn})
    assert cleanup.find_secrets(stubs.factory("secretsmanager", REGION), {PREFIX}, REGION, [instance]) == []
    # And a managed secret ListSecrets does not show yet is found through its instance.
    sm.add_response("list_secrets", {"SecretList": []}, {})
    sm.add_response("describe_secret", {"ARN": n.secret_arn, "Name": n.secret}, {"SecretId": n.secret_arn})
    [found] = cleanup.find_secrets(stubs.factory("secretsmanager", REGION), {PREFIX}, REGION, [instance])
    assert (found.name, found.link, found.region) == (n.secret, n.db_arn, REGION)
    stubs.assert_no_pending_responses()


# --------------------------------------------------------------------------- security groups


def test_security_group_in_use_is_retried_until_released(stubs, settings):
    group_id = names().group_id
    ec2 = stubs("ec2")
    for _ in range(2):
        error(ec2, "delete_security_group", "DependencyViolation", "has a dependent object", 400, {"GroupId": group_id})
    ec2.add_response("delete_security_group", {}, {"GroupId": group_id})
    cleanup.delete_security_group(stubs.factory("ec2", REGION), group_id, settings, patience=0.25, poll=0.125)
    stubs.assert_no_pending_responses()


def test_security_group_refusal_other_than_in_use_is_not_retried(stubs, settings):
    group_id = names().group_id
    error(stubs("ec2"), "delete_security_group", "UnauthorizedOperation", "not authorized", 403, {"GroupId": group_id})
    with pytest.raises(Exception, match="UnauthorizedOperation"):
        cleanup.delete_security_group(stubs.factory("ec2", REGION), group_id, settings, patience=10, poll=0.125)
    stubs.assert_no_pending_responses()


def test_patience_follows_the_local_lifecycle_pace(settings):
    local = Settings(backend="local", region=REGION, prefix=PREFIX, state_dir=settings.state_dir)
    slow = cleanup.Patience.for_settings(Settings(**{**vars(local), "lifecycle_pace": 3.0}))
    assert (slow.group_timeout, slow.group_poll, slow.db_poll) == (30.0, 0.5, 0.5)
    fast = cleanup.Patience.for_settings(Settings(**{**vars(local), "lifecycle_pace": 0.1}))
    assert fast.group_timeout == 5.0
    off = cleanup.Patience.for_settings(Settings(**{**vars(local), "lifecycle": False, "lifecycle_pace": 30.0}))
    assert off.group_timeout == 5.0 and off.secret_grace == 0
    aws = cleanup.Patience.for_settings(settings)
    assert aws.group_timeout == 15 * 60 and aws.db_timeout == 30 * 60


# --------------------------------------------------------------------------- listing faults


def test_throttled_listing_is_reported_and_the_other_services_still_listed(stubs, settings):
    """botocore's standard retry mode retries throttling itself (helpers.aws.HELPER_CONFIG); what still
    reaches cleanup is reported as an incomplete search rather than retried again."""
    expect_find(stubs, skip=("dynamodb",))
    error(stubs("dynamodb"), "list_tables", "ThrottlingException", "Rate exceeded", 400, {})
    lines: list[str] = []
    found = cleanup.find(settings, log=lines.append, regions=[REGION], clients=clients_of(stubs, settings))
    assert {r.kind for r in found} == {cleanup.BUCKET, cleanup.DB_INSTANCE, cleanup.SECRET, cleanup.SECURITY_GROUP}
    assert not found.complete
    assert any("dynamodb tables in us-east-1" in line and "throttling" in line for line in lines)
    assert "Incomplete" in cleanup.listing(found)
    stubs.assert_no_pending_responses()


def test_access_denied_on_one_service_does_not_stop_the_others(stubs, settings):
    denied = ("AccessDeniedException", "User: arn:aws:iam::123456789012:user/learner is not authorized", 400, {})
    expect_find(stubs, skip=("dynamodb",))
    error(stubs("dynamodb"), "list_tables", *denied)
    expect_db_deletion_started(stubs)
    expect_bucket_deleted(stubs)
    expect_db_status(stubs, None)
    expect_secret_gone(stubs)
    expect_group_deleted(stubs)
    expect_find(stubs, present=False, skip=("dynamodb",))
    error(stubs("dynamodb"), "list_tables", *denied)
    lines: list[str] = []
    left = cleanup.clean(
        settings, yes=True, log=lines.append, regions=[REGION], clients=clients_of(stubs, settings), patience=FAST
    )
    assert left == [] and not left.complete  # nothing found is left, but the tables could not be checked
    deleted = [line for line in lines if line.startswith("deleted")]
    assert len(deleted) == 4  # bucket, instance, group, and the secret RDS took with its instance
    assert any("(by RDS" in line for line in deleted)
    denials = [line for line in lines if line.startswith("could not list dynamodb tables")]
    assert len(denials) == 2 and "access denied (AccessDeniedException) for ListTables" in denials[0]
    stubs.assert_no_pending_responses()


def test_a_bucket_whose_tags_cannot_be_read_makes_the_listing_incomplete(stubs, settings):
    """Skipping it silently would turn "access denied" into "nothing found"."""
    n = names()
    stubs("s3").add_response("list_buckets", {"Buckets": [{"Name": n.bucket}]}, {"BucketRegion": REGION})
    error(stubs("s3"), "get_bucket_tagging", "AccessDenied", "Access Denied", 403, {"Bucket": n.bucket})
    expect_find(stubs, skip=("s3",))
    lines: list[str] = []
    found = cleanup.find(settings, log=lines.append, regions=[REGION], clients=clients_of(stubs, settings))
    assert not found.complete and cleanup.BUCKET not in {r.kind for r in found}
    assert any(n.bucket in line and "GetBucketTagging" in line for line in lines)
    stubs.assert_no_pending_responses()


def test_one_failed_deletion_never_skips_the_others(stubs, settings):
    r = resources()
    error(stubs("s3"), "list_multipart_uploads", "AccessDenied", "Access Denied", 403, {"Bucket": r["bucket"].name})
    expect_db_deletion_started(stubs)
    expect_lake_deleted(stubs)
    expect_table_deleted(stubs)
    expect_db_status(stubs, None)
    expect_secret_gone(stubs)
    expect_group_deleted(stubs)
    lines: list[str] = []
    failed = cleanup.delete_all(
        list(r.values()), settings, lines.append, clients=clients_of(stubs, settings), patience=FAST
    )
    assert failed == [r["bucket"]]
    [line] = failed_lines(lines)
    assert r["bucket"].name in line and "access denied (AccessDenied)" in line
    stubs.assert_no_pending_responses()


def test_failed_instance_deletion_is_reported_and_the_rest_goes_on(stubs, settings):
    r = resources()
    n = names()
    error(
        stubs("rds"),
        "delete_db_instance",
        "InvalidDBInstanceState",
        "DB instance is not in the available state.",
        400,
        {"DBInstanceIdentifier": n.db, **DELETE_DB},
    )
    expect_db_status(stubs, "creating")  # why the state was invalid: not a deletion under way
    expect_bucket_deleted(stubs)
    expect_db_status(stubs, "creating")  # the secret's instance still exists
    error(stubs("ec2"), "delete_security_group", "DependencyViolation", "in use", 400, {"GroupId": n.group_id})
    lines: list[str] = []
    failed = cleanup.delete_all(
        [r["bucket"], r["db"], r["secret"], r["group"]],
        settings,
        lines.append,
        clients=clients_of(stubs, settings),
        patience=FAST,
    )
    assert failed == [r["db"], r["secret"], r["group"]]
    assert f"deleted       {r['bucket'].label}" in lines
    stubs.assert_no_pending_responses()


# --------------------------------------------------------------------------- regions


def test_find_searches_every_region_and_says_which(stubs, settings):
    expect_find(stubs, REGION, present=False)
    expect_find(stubs, "eu-west-1")
    found = cleanup.find(
        settings, log=lambda _: None, regions=["eu-west-1", REGION], clients=clients_of(stubs, settings)
    )
    assert {r.region for r in found} == {"eu-west-1"} and len(found) == 5
    assert found.regions == ["eu-west-1", REGION]
    table = cleanup.listing(found)
    assert table.splitlines()[0].split() == ["type", "name", "participant", "region", "billable", "on", "AWS"]
    assert table.splitlines()[-1] == "Searched regions: eu-west-1, us-east-1"
    assert "eu-west-1" in table.splitlines()[2]
    empty = cleanup.listing(cleanup.Found([], ["us-east-1"]))
    assert empty == "Nothing of the series was found.\nSearched regions: us-east-1"
    stubs.assert_no_pending_responses()


def test_clients_are_built_once_per_service_and_region(stubs, settings):
    expect_find(stubs, present=False)
    expect_find(stubs, present=False)
    clients = clients_of(stubs, settings)
    for _ in range(2):
        cleanup.find(settings, log=lambda _: None, regions=[REGION], clients=clients)
    services = ("s3", "dynamodb", "rds", "secretsmanager", "ec2", "glue", "athena")
    assert sorted(stubs.made) == sorted({(s, REGION) for s in services})
    stubs.assert_no_pending_responses()


def test_all_regions_asks_ec2_for_the_enabled_regions(stubs, settings):
    enabled = [{"RegionName": "eu-west-1"}, {"RegionName": "us-east-1"}, {"RegionName": "ap-south-1"}]
    stubs("ec2").add_response("describe_regions", {"Regions": enabled}, {})  # no AllRegions: enabled ones only
    searched = cleanup.regions_to_search(settings, clients_of(stubs, settings), all_regions=True, log=lambda _: None)
    assert searched == ["ap-south-1", "eu-west-1", "us-east-1"]
    stubs.assert_no_pending_responses()


def test_regions_used_are_remembered_once_each(settings):
    assert regions.used(settings) == [REGION]
    for region in ("eu-west-1", "eu-west-1", "ap-south-1"):
        regions.remember(Settings(**{**vars(settings), "region": region}))
    regions.remember(settings)
    path = settings.state_dir / "regions"
    assert path.read_text().splitlines() == ["eu-west-1", "ap-south-1", REGION]
    path.write_text(path.read_text() + "\nnot a region\n")
    assert regions.used(settings) == ["ap-south-1", "eu-west-1", REGION]


def test_cli_clean_passes_all_regions_and_fails_on_an_incomplete_search(monkeypatch):
    from helpers import __main__ as cli

    calls = []

    def fake_clean(settings, **kwargs):
        calls.append(kwargs)
        return cleanup.Found([], [REGION], ["could not list dynamodb tables in us-east-1: denied"])

    monkeypatch.setattr(cleanup, "clean", fake_clean)
    monkeypatch.setattr(cli, "reach_backend", lambda settings: True)
    assert cli.main(["clean", "--yes", "--all-participants", "--all-regions"]) == 1
    assert calls[0]["all_regions"] is True and calls[0]["all_participants"] is True


# --------------------------------------------------------------------------- ws-10 and ws-100 in one account


def expect_pair_listing(stubs: Stubs, mine: str, other: str, *, mine_present: bool = True) -> None:
    """One listing by ``mine`` of an account that also holds ``other``'s resources (whose names extend it).

    Only ``mine``'s bucket, table and secret get a tag or describe call stubbed: a call about
    ``other``'s would find no stubbed answer, and the search would be incomplete.
    """
    a, b = names(prefix=mine), names(prefix=other)
    s3, ddb, rds = stubs("s3"), stubs("dynamodb"), stubs("rds")
    buckets = [{"Name": b.bucket, "BucketRegion": REGION}] + (
        [{"Name": a.bucket, "BucketRegion": REGION}] if mine_present else []
    )
    s3.add_response("list_buckets", {"Buckets": buckets}, {"BucketRegion": REGION})
    if mine_present:
        s3.add_response("get_bucket_tagging", {"TagSet": tags_of(mine)}, {"Bucket": a.bucket})
    ddb.add_response("list_tables", {"TableNames": ([a.table] if mine_present else []) + [b.table]}, {})
    if mine_present:
        ddb.add_response(
            "describe_table", {"Table": {"TableName": a.table, "TableArn": a.table_arn}}, {"TableName": a.table}
        )
        ddb.add_response("list_tags_of_resource", {"Tags": tags_of(mine)}, {"ResourceArn": a.table_arn})
    dbs = [db_description(prefix=other)] + ([db_description(prefix=mine)] if mine_present else [])
    rds.add_response("describe_db_instances", {"DBInstances": dbs}, {})
    sm = stubs("secretsmanager")
    managed = [(b, True)] + ([(a, True)] if mine_present else [])
    listed = [
        {"ARN": n.secret_arn, "Name": n.secret, "Tags": [{"Key": cleanup.RDS_SECRET_TAG, "Value": n.db_arn}]}
        for n, _ in managed
    ]
    sm.add_response("list_secrets", {"SecretList": listed}, {})
    if mine_present:
        sm.add_response("describe_secret", {"ARN": a.secret_arn, "Name": a.secret}, {"SecretId": a.secret_arn})
    groups = [{"GroupName": b.group, "GroupId": b.group_id, "Tags": tags_of(other)}]
    if mine_present:
        groups.append({"GroupName": a.group, "GroupId": a.group_id, "Tags": tags_of(mine)})
    filters = [{"Name": f"tag:{SERIES_TAG_KEY}", "Values": [SERIES_TAG_VALUE]}]
    stubs("ec2").add_response("describe_security_groups", {"SecurityGroups": groups}, {"Filters": filters})
    expect_lake(stubs, present=mine_present, prefix=mine)  # by its exact name: ws_100_lake is never asked about


def test_ws_10_never_reads_the_tags_of_ws_100s_resources(stubs, tmp_path):
    """Under the participant policy, ws-100's bucket and table answer AccessDenied to ws-10: asking at
    all would make ws-10's search incomplete. The name check (prefix AND hyphen) keeps them out."""
    settings = Settings(backend="aws", region=REGION, prefix="ws-10", state_dir=tmp_path)
    expect_pair_listing(stubs, "ws-10", "ws-100")
    lines: list[str] = []
    found = cleanup.find(settings, log=lines.append, regions=[REGION], clients=clients_of(stubs, settings))
    assert found.complete, lines
    assert {r.participant for r in found} == {"ws-10"}
    assert {r.kind for r in found} == {
        cleanup.BUCKET,
        cleanup.TABLE,
        cleanup.DB_INSTANCE,
        cleanup.SECRET,
        cleanup.SECURITY_GROUP,
        cleanup.GLUE_DATABASE,
        cleanup.WORKGROUP,
    }
    assert not any("ws-100" in r.name or "ws_100" in r.name for r in found)
    stubs.assert_no_pending_responses()


def test_ws_10_clean_yes_deletes_its_own_and_nothing_of_ws_100(stubs, tmp_path):
    settings = Settings(backend="aws", region=REGION, prefix="ws-10", state_dir=tmp_path)
    a = names(prefix="ws-10")
    expect_pair_listing(stubs, "ws-10", "ws-100")
    stubs("rds").add_response(
        "delete_db_instance",
        {"DBInstance": {"DBInstanceIdentifier": a.db, "DBInstanceStatus": "deleting"}},
        {"DBInstanceIdentifier": a.db, **DELETE_DB},
    )
    s3 = stubs("s3")
    s3.add_response("list_multipart_uploads", {}, {"Bucket": a.bucket})
    s3.add_response("list_object_versions", {}, {"Bucket": a.bucket})
    s3.add_response("delete_bucket", {}, {"Bucket": a.bucket})
    ddb = stubs("dynamodb")
    ddb.add_response("delete_table", {"TableDescription": {"TableName": a.table}}, {"TableName": a.table})
    error(ddb, "describe_table", "ResourceNotFoundException", "not found", 400, {"TableName": a.table})
    error(stubs("rds"), "describe_db_instances", "DBInstanceNotFound", "gone", 404, {"DBInstanceIdentifier": a.db})
    error(
        stubs("secretsmanager"), "describe_secret", "ResourceNotFoundException", "gone", 400, {"SecretId": a.secret_arn}
    )
    stubs("ec2").add_response("delete_security_group", {}, {"GroupId": a.group_id})
    recursive = {"WorkGroup": a.workgroup, "RecursiveDeleteOption": True}
    stubs("athena").add_response("delete_work_group", {}, recursive)
    stubs("glue").add_response("delete_database", {}, {"Name": a.database})
    expect_pair_listing(stubs, "ws-10", "ws-100", mine_present=False)
    lines: list[str] = []
    left = cleanup.clean(
        settings, yes=True, log=lines.append, regions=[REGION], clients=clients_of(stubs, settings), patience=FAST
    )
    assert left == [] and left.complete, lines
    deleted = [line for line in lines if line.startswith("deleted")]
    assert len(deleted) == 7 and not any("ws-100" in line or "ws_100" in line for line in deleted)
    stubs.assert_no_pending_responses()  # and no call named a resource of ws-100: none was stubbed


# --------------------------------------------------------------------------- one resource refused, the rest stands


DENIED = ("AccessDeniedException", "User: arn:aws:iam::123456789012:user/ws-10 is not authorized", 400)


def test_a_table_that_may_not_be_described_is_reported_and_the_callers_own_is_still_cleaned(stubs, tmp_path):
    """ws-10-b (a prefix extending ws-10 with its hyphen, or a table someone made by hand) passes the
    name check, and least privilege refuses to describe it. That one table is reported; ws-10's own
    table in the same listing is still found and deleted."""
    settings = Settings(backend="aws", region=REGION, prefix="ws-10", state_dir=tmp_path)
    a = names(prefix="ws-10")
    ddb = stubs("dynamodb")
    for present in (True, False):
        ddb.add_response("list_tables", {"TableNames": ["ws-10-b-users"] + ([a.table] if present else [])}, {})
        error(ddb, "describe_table", *DENIED, {"TableName": "ws-10-b-users"})
        if present:
            ddb.add_response(
                "describe_table", {"Table": {"TableName": a.table, "TableArn": a.table_arn}}, {"TableName": a.table}
            )
            ddb.add_response("list_tags_of_resource", {"Tags": tags_of("ws-10")}, {"ResourceArn": a.table_arn})
            ddb.add_response("delete_table", {"TableDescription": {"TableName": a.table}}, {"TableName": a.table})
            error(ddb, "describe_table", "ResourceNotFoundException", "not found", 400, {"TableName": a.table})
    for service, method, answer in [
        ("s3", "list_buckets", {"Buckets": []}),
        ("rds", "describe_db_instances", {"DBInstances": []}),
        ("secretsmanager", "list_secrets", {"SecretList": []}),
        ("ec2", "describe_security_groups", {"SecurityGroups": []}),
    ]:
        for _ in range(2):
            stubs(service).add_response(method, answer)
    for _ in range(2):
        expect_lake(stubs, prefix="ws-10")
    lines: list[str] = []
    left = cleanup.clean(
        settings, yes=True, log=lines.append, regions=[REGION], clients=clients_of(stubs, settings), patience=FAST
    )
    assert f"deleted       {cleanup.TABLE} {a.table} ({REGION})" in lines
    assert left == [] and not left.complete  # the refused table could not be checked, and says so
    [problem] = set(left.problems)
    assert "ws-10-b-users" in problem and "skipped" in problem and "DescribeTable" in problem
    assert "could not read the tags of dynamodb table ws-10-b-users" in cleanup.listing(left)
    stubs.assert_no_pending_responses()


def test_a_refused_bucket_or_instance_or_secret_skips_only_itself(stubs, settings):
    """The same rule for every finder that asks about one resource: S3's tags, RDS's tags, a secret."""
    n = names()
    other_bucket, other_db = f"{PREFIX}-scratch", f"{PREFIX}-scratch-db"
    s3 = stubs("s3")
    s3.add_response(
        "list_buckets",
        {"Buckets": [{"Name": other_bucket, "BucketRegion": REGION}, {"Name": n.bucket, "BucketRegion": REGION}]},
        {"BucketRegion": REGION},
    )
    error(s3, "get_bucket_tagging", "AccessDenied", "Access Denied", 403, {"Bucket": other_bucket})
    s3.add_response("get_bucket_tagging", {"TagSet": TAGS}, {"Bucket": n.bucket})
    other_arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{other_db}"
    untagged = {"DBInstanceIdentifier": other_db, "DBInstanceArn": other_arn, "DBInstanceStatus": "available"}
    rds = stubs("rds")
    rds.add_response("describe_db_instances", {"DBInstances": [untagged, db_description()]}, {})
    error(rds, "list_tags_for_resource", "AccessDenied", "not authorized", 403, {"ResourceName": other_arn})
    sm = stubs("secretsmanager")
    listed = [{"ARN": n.secret_arn, "Name": n.secret, "Tags": [{"Key": cleanup.RDS_SECRET_TAG, "Value": n.db_arn}]}]
    sm.add_response("list_secrets", {"SecretList": listed}, {})
    error(sm, "describe_secret", "AccessDeniedException", "not authorized", 400, {"SecretId": n.secret_arn})
    expect_find(stubs, skip=("s3", "rds", "secretsmanager"))
    lines: list[str] = []
    found = cleanup.find(settings, log=lines.append, regions=[REGION], clients=clients_of(stubs, settings))
    assert {r.name for r in found} == {n.bucket, n.db, n.table, n.group}
    assert len(found.problems) == 3
    for name, operation in [
        (other_bucket, "GetBucketTagging"),
        (other_db, "ListTagsForResource"),
        (n.secret_arn, "DescribeSecret"),
    ]:
        assert any(name in p and operation in p for p in found.problems), (name, found.problems)
    stubs.assert_no_pending_responses()


# --------------------------------------------------------------------------- lesson 06: Glue and Athena


def test_a_refused_glue_database_is_reported_and_the_rest_still_listed(stubs, settings):
    """GetDatabase refused (an identity without the lesson 06 statements): reported, the listing
    incomplete, and the workgroup and every other service still listed."""
    n = names()
    expect_find(stubs, skip=("lake",))
    error(stubs("glue"), "get_database", *DENIED, {"Name": n.database})
    gone = f"WorkGroup {n.workgroup} is not found."
    error(stubs("athena"), "get_work_group", "InvalidRequestException", gone, 400, {"WorkGroup": n.workgroup})
    lines: list[str] = []
    found = cleanup.find(settings, log=lines.append, regions=[REGION], clients=clients_of(stubs, settings))
    assert len(found) == 5 and not found.complete
    [problem] = found.problems
    assert n.database in problem and "GetDatabase" in problem
    stubs.assert_no_pending_responses()


def test_a_workgroup_gone_before_its_deletion_is_not_a_failure(stubs, settings):
    r = resources()
    recursive = {"WorkGroup": r["workgroup"].name, "RecursiveDeleteOption": True}
    gone = f"WorkGroup {r['workgroup'].name} is not found."
    error(stubs("athena"), "delete_work_group", "InvalidRequestException", gone, 400, recursive)
    error(
        stubs("glue"),
        "delete_database",
        "EntityNotFoundException",
        "Database not found.",
        400,
        {"Name": r["database"].name},
    )
    lines: list[str] = []
    failed = cleanup.delete_all(
        [r["workgroup"], r["database"]], settings, lines.append, clients=clients_of(stubs, settings), patience=FAST
    )
    assert failed == [] and failed_lines(lines) == []
    assert f"already gone  {r['database'].label}" in lines
    stubs.assert_no_pending_responses()


def test_an_instructor_lists_the_catalog_and_keeps_only_databases_named_for_their_tag(stubs, settings):
    """All participants: GetDatabases and ListWorkGroups (paged), tags read only of ``*_lake``
    databases and non-primary workgroups; ``sales_lake`` carries ws-10's tags under a name that is
    nobody's database, and ``ws-10-adhoc`` has no tags: neither is the series'."""
    a, b = names(prefix="ws-10"), names(prefix="ws-100")
    expect_find(stubs, skip=("lake",), present=False)
    glue, athena = stubs("glue"), stubs("athena")
    first = {"DatabaseList": [{"Name": "default"}, {"Name": a.database}], "NextToken": "page-2"}
    glue.add_response("get_databases", first, {})
    glue.add_response(
        "get_databases", {"DatabaseList": [{"Name": "sales_lake"}, {"Name": b.database}]}, {"NextToken": "page-2"}
    )
    expect_account(stubs)
    as_glue = {p: {t["Key"]: t["Value"] for t in tags_of(p)} for p in ("ws-10", "ws-100")}
    glue.add_response("get_tags", {"Tags": as_glue["ws-10"]}, {"ResourceArn": a.database_arn})
    sales = f"arn:aws:glue:{REGION}:{ACCOUNT}:database/sales_lake"
    glue.add_response("get_tags", {"Tags": as_glue["ws-10"]}, {"ResourceArn": sales})
    glue.add_response("get_tags", {"Tags": as_glue["ws-100"]}, {"ResourceArn": b.database_arn})
    groups = [{"Name": "primary"}, {"Name": a.workgroup}, {"Name": "ws-10-adhoc"}]
    athena.add_response("list_work_groups", {"WorkGroups": groups, "NextToken": "more"}, {})
    athena.add_response("list_work_groups", {"WorkGroups": [{"Name": b.workgroup}]}, {"NextToken": "more"})
    athena.add_response("list_tags_for_resource", {"Tags": tags_of("ws-10")}, {"ResourceARN": a.workgroup_arn})
    adhoc = f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/ws-10-adhoc"
    athena.add_response("list_tags_for_resource", {"Tags": []}, {"ResourceARN": adhoc})
    athena.add_response("list_tags_for_resource", {"Tags": tags_of("ws-100")}, {"ResourceARN": b.workgroup_arn})
    found = cleanup.find(
        settings, all_participants=True, log=lambda _: None, regions=[REGION], clients=clients_of(stubs, settings)
    )
    assert found.complete
    assert {(r.kind, r.name, r.participant) for r in found} == {
        (cleanup.GLUE_DATABASE, a.database, "ws-10"),
        (cleanup.GLUE_DATABASE, b.database, "ws-100"),
        (cleanup.WORKGROUP, a.workgroup, "ws-10"),
        (cleanup.WORKGROUP, b.workgroup, "ws-100"),
    }
    stubs.assert_no_pending_responses()
