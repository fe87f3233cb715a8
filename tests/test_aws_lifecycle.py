"""The local emulator behaves like AWS where the lessons depend on it (helpers/local/aws_lifecycle.py).

Each behaviour is checked twice against one launcher process (``python -m helpers.local.moto_server``):
with the lifecycle on, the emulator answers as the cited AWS document says; switched off
through its control endpoint, moto's instant answer comes back. So every test here fails
when its behaviour is missing, and the switch is proven to switch.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from support import create_postgres_instance, emulator_process

from helpers.local import aws_lifecycle, stack
from helpers.local.moto_server import lifecycle_from_env

PACE = 1.0  # seconds per status: long enough to observe on a busy machine, short enough for a test


@pytest.fixture(scope="module")
def emulator():
    env = {**os.environ, "TUTORIAL_AWS_LIFECYCLE": "on", "TUTORIAL_AWS_LIFECYCLE_PACE": str(PACE)}
    with emulator_process(env) as url:
        yield url


@pytest.fixture(params=["on", "off"])
def aws(request, emulator):
    """(clients factory, lifecycle on?) with the emulator emptied and switched as the test asks."""
    urllib.request.urlopen(urllib.request.Request(f"{emulator}/moto-api/reset", method="POST"), timeout=10)
    on = request.param == "on"
    assert stack.set_lifecycle(emulator, on, PACE) == {"enabled": on, "pace": PACE}

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=emulator,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    yield client, on
    stack.set_lifecycle(emulator, True, PACE)


def _code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def _create_db(client, backups: int = 0) -> tuple[dict, str]:
    ec2, rds = client("ec2"), client("rds")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName="db-sg", Description="test", VpcId=vpc)["GroupId"]
    created = create_postgres_instance(rds, "db1", BackupRetentionPeriod=backups, VpcSecurityGroupIds=[group])
    return created, group


def _statuses(rds, instance: str, until: str, timeout: float = 10) -> list[str]:
    """Every distinct status describe_db_instances shows, until ``until`` (or the instance is gone)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = rds.describe_db_instances(DBInstanceIdentifier=instance)["DBInstances"][0]["DBInstanceStatus"]
        except ClientError as exc:
            assert _code(exc) == "DBInstanceNotFound"
            status = "(gone)"
        if not seen or seen[-1] != status:
            seen.append(status)
        if status == until:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"{instance} never reached {until}: {seen}")


def test_a_new_db_instance_is_creating_without_an_endpoint_then_available(aws):
    client, on = aws
    created, _ = _create_db(client)
    if on:
        assert created["DBInstanceStatus"] == "creating"
        assert "Endpoint" not in created
        assert _statuses(client("rds"), "db1", "available") == ["creating", "available"]
    else:
        assert created["DBInstanceStatus"] == "available"
    assert "Endpoint" in client("rds").describe_db_instances(DBInstanceIdentifier="db1")["DBInstances"][0]


def test_backing_up_appears_only_when_backups_are_on(aws):
    """The create call's own answer is the first status seen: on a busy machine the first
    describe came after `creating` had already passed."""
    client, on = aws
    created, _ = _create_db(client, backups=1)
    seen = _statuses(client("rds"), "db1", "available")
    first = created["DBInstanceStatus"]
    seen = seen if seen[0] == first else [first, *seen]
    assert seen == (["creating", "backing-up", "available"] if on else ["available"])


def test_a_deleted_instance_is_deleting_and_a_second_delete_is_refused(aws):
    client, on = aws
    _create_db(client)
    rds = client("rds")
    _statuses(rds, "db1", "available")
    first = rds.delete_db_instance(DBInstanceIdentifier="db1", SkipFinalSnapshot=True)["DBInstance"]
    assert first["DBInstanceStatus"] == "deleting"
    if on:
        with pytest.raises(ClientError) as caught:
            rds.delete_db_instance(DBInstanceIdentifier="db1", SkipFinalSnapshot=True)
        assert _code(caught.value) == "InvalidDBInstanceState"
        assert "is already being deleted" in caught.value.response["Error"]["Message"]
        assert _statuses(rds, "db1", "(gone)") == ["deleting", "(gone)"]
    else:
        with pytest.raises(ClientError) as caught:
            rds.describe_db_instances(DBInstanceIdentifier="db1")
        assert _code(caught.value) == "DBInstanceNotFound"


def test_delete_without_a_final_snapshot_decision_is_refused_as_on_aws(aws):
    client, on = aws
    _create_db(client)
    if not on:
        pytest.skip("moto's own rule applies when the lifecycle is off")
    with pytest.raises(ClientError) as caught:
        client("rds").delete_db_instance(DBInstanceIdentifier="db1")
    assert _code(caught.value) == "InvalidParameterCombination"


def test_a_security_group_in_use_refuses_deletion_until_the_interface_is_released(aws):
    client, on = aws
    _, group = _create_db(client)
    ec2, rds = client("ec2"), client("rds")
    if not on:
        ec2.delete_security_group(GroupId=group)  # moto forgives it
        return
    with pytest.raises(ClientError) as caught:
        ec2.delete_security_group(GroupId=group)
    assert _code(caught.value) == "DependencyViolation"
    rds.delete_db_instance(DBInstanceIdentifier="db1", SkipFinalSnapshot=True)
    _statuses(rds, "db1", "(gone)")
    with pytest.raises(ClientError) as caught:  # the instance is gone, its interface lingers
        ec2.delete_security_group(GroupId=group)
    assert _code(caught.value) == "DependencyViolation"
    time.sleep(PACE + 0.2)
    ec2.delete_security_group(GroupId=group)


def test_the_rds_managed_secret_cannot_be_deleted_and_goes_with_its_instance(aws):
    client, on = aws
    created, _ = _create_db(client)
    sm, rds = client("secretsmanager"), client("rds")
    arn = created["MasterUserSecret"]["SecretArn"]
    if not on:
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)  # moto forgives it
        return
    with pytest.raises(ClientError) as caught:
        sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    assert _code(caught.value) == "InvalidRequestException"
    rds.delete_db_instance(DBInstanceIdentifier="db1", SkipFinalSnapshot=True)
    sm.describe_secret(SecretId=arn)  # still there while the instance is deleting
    _statuses(rds, "db1", "(gone)")
    with pytest.raises(ClientError) as caught:
        sm.describe_secret(SecretId=arn)
    assert _code(caught.value) == "ResourceNotFoundException"


def _create_table(ddb):
    return ddb.create_table(
        TableName="users",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )["TableDescription"]


def test_a_new_table_is_creating_and_refuses_items_until_active(aws):
    client, on = aws
    ddb = client("dynamodb")
    created = _create_table(ddb)
    if on:
        assert created["TableStatus"] == "CREATING"
        with pytest.raises(ClientError) as caught:
            ddb.put_item(TableName="users", Item={"id": {"N": "1"}})
        assert _code(caught.value) == "ResourceNotFoundException"
        with pytest.raises(ClientError) as caught:  # deleting a CREATING table: ResourceInUseException
            ddb.delete_table(TableName="users")
        assert _code(caught.value) == "ResourceInUseException"
    else:
        assert created["TableStatus"] == "ACTIVE"
    ddb.get_waiter("table_exists").wait(TableName="users", WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    ddb.put_item(TableName="users", Item={"id": {"N": "1"}})


def test_a_deleted_table_is_deleting_and_its_name_is_not_free_meanwhile(aws):
    client, on = aws
    ddb = client("dynamodb")
    _create_table(ddb)
    ddb.get_waiter("table_exists").wait(TableName="users", WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    deleted = ddb.delete_table(TableName="users")["TableDescription"]
    if on:
        assert deleted["TableStatus"] == "DELETING"
        assert ddb.describe_table(TableName="users")["Table"]["TableStatus"] == "DELETING"
        assert ddb.delete_table(TableName="users")["TableDescription"]["TableStatus"] == "DELETING"  # no error
        with pytest.raises(ClientError) as caught:
            _create_table(ddb)
        assert _code(caught.value) == "ResourceInUseException"
        ddb.get_waiter("table_not_exists").wait(TableName="users", WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    _create_table(ddb)  # the name is free once the table is gone


def test_an_expired_presigned_link_is_refused(aws):
    client, on = aws
    s3 = client("s3")
    s3.create_bucket(Bucket="lifecycle-test-bucket")
    s3.put_object(Bucket="lifecycle-test-bucket", Key="k.txt", Body=b"hello")
    params = {"Bucket": "lifecycle-test-bucket", "Key": "k.txt"}
    v4 = boto3.client(
        "s3",
        endpoint_url=s3.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(signature_version="s3v4"),
    )
    links = [signer.generate_presigned_url("get_object", Params=params, ExpiresIn=1) for signer in (s3, v4)]
    for link in links:
        assert urllib.request.urlopen(link, timeout=5).read() == b"hello"
    time.sleep(2.1)
    for link in links:
        if on:
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(link, timeout=5)
            body = caught.value.read().decode()
            assert caught.value.code == 403
            assert "<Code>AccessDenied</Code>" in body and "Request has expired" in body
        else:
            assert urllib.request.urlopen(link, timeout=5).read() == b"hello"


def test_expiry_parsing_reads_both_signature_versions():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    v4 = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T115958Z&X-Amz-Expires=1&X-Amz-Signature=x"
    assert aws_lifecycle.expired_presigned_request(v4, now) is not None
    assert aws_lifecycle.expired_presigned_request(v4.replace("X-Amz-Expires=1", "X-Amz-Expires=3600"), now) is None
    epoch = int((now - timedelta(seconds=5)).timestamp())
    assert aws_lifecycle.expired_presigned_request(f"AWSAccessKeyId=a&Signature=s&Expires={epoch}", now)
    assert aws_lifecycle.expired_presigned_request(f"AWSAccessKeyId=a&Signature=s&Expires={epoch + 60}", now) is None
    assert aws_lifecycle.expired_presigned_request("prefix=a&Expires=notanumber", now) is None
    assert aws_lifecycle.expired_presigned_request("", now) is None


def test_the_launcher_reads_its_switches_from_the_environment():
    assert lifecycle_from_env({}) == (True, 2.0)
    assert lifecycle_from_env({"TUTORIAL_AWS_LIFECYCLE": "off", "TUTORIAL_AWS_LIFECYCLE_PACE": "0.5"}) == (False, 0.5)
    assert lifecycle_from_env({"TUTORIAL_AWS_LIFECYCLE_PACE": "soon"}) == (True, 2.0)


def test_the_stack_passes_the_settings_to_the_emulator(monkeypatch):
    from helpers.settings import load_settings

    monkeypatch.setenv("TUTORIAL_AWS_LIFECYCLE", "off")
    monkeypatch.setenv("TUTORIAL_AWS_LIFECYCLE_PACE", "0.25")
    settings = load_settings()
    assert (settings.lifecycle, settings.lifecycle_pace) == (False, 0.25)
    assert stack._lifecycle_env(settings) == {"TUTORIAL_AWS_LIFECYCLE": "off", "TUTORIAL_AWS_LIFECYCLE_PACE": "0.25"}
    monkeypatch.setenv("TUTORIAL_AWS_LIFECYCLE", "sometimes")
    with pytest.raises(Exception, match="neither on nor off"):
        load_settings()
