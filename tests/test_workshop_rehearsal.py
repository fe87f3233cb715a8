"""A workshop seat rehearsed: the whole series as a participant who holds only the participant
policy, against an emulator that authorises like AWS (helpers/local/iam_enforcement.py), and
one participant refused on another's resources in every service the lessons use.
"""

from __future__ import annotations

import json
import os
import urllib.request

import boto3
import pytest
from support import error_code, free_port

from helpers import cleanup, workshop
from helpers.local import iam_enforcement, stack
from helpers.runner import NOTEBOOK_DIR, lesson_notebooks, run_notebooks
from helpers.settings import load_settings

PARTICIPANTS = ["ws-01", "ws-02"]


@pytest.fixture(scope="module")
def emulator():
    port = free_port()
    proc = stack.spawn_moto(port, env={**os.environ, "TUTORIAL_AWS_IAM": "off", "TUTORIAL_AWS_LIFECYCLE_PACE": "0.5"})
    url = f"http://127.0.0.1:{port}"
    stack.wait_until_healthy(proc, url)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def switch(url: str, on: bool) -> dict:
    request = urllib.request.Request(
        url + iam_enforcement.CONTROL_PATH, data=json.dumps({"enforce": on}).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the local emulator
        return json.loads(response.read())


@pytest.fixture(scope="module")
def seats(local_stack, emulator, tmp_path_factory):
    """Two participants created by the kit (enforcement off, as an administrator), their keys."""
    folder = tmp_path_factory.mktemp("workshop")
    before = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = emulator
    try:
        settings = load_settings()
        original = workshop.Workshop.folder
        workshop.Workshop.folder = staticmethod(lambda s: folder)
        iam = boto3.client("iam", endpoint_url=emulator, region_name=settings.region)
        workshop.create(settings, iam, "123456789012", PARTICIPANTS, yes=True, log=lambda _: None)
        keys = {prefix: workshop.seat_keys(settings, prefix) for prefix in PARTICIPANTS}
        yield settings, keys
        workshop.Workshop.folder = original
    finally:
        switch(emulator, False)
        if before is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = before  # the session's own emulator, for the tests after these


def as_participant(keys: tuple[str, str], url: str, service: str):
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=keys[0], aws_secret_access_key=keys[1]
    )


def test_enforcement_is_switched_at_run_time(emulator):
    assert switch(emulator, True) == {"enforce": True}
    assert switch(emulator, False) == {"enforce": False}


@pytest.mark.timeout(900)
def test_the_whole_series_passes_as_a_participant_holding_only_the_policy(seats, emulator, monkeypatch, tmp_path):
    settings, keys = seats
    monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)
    monkeypatch.setenv("TUTORIAL_PREFIX", "ws-01")
    monkeypatch.setenv("TUTORIAL_LOCAL_CREDENTIALS", "own")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", keys["ws-01"][0])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", keys["ws-01"][1])
    switch(emulator, True)
    try:
        results = run_notebooks(lesson_notebooks(NOTEBOOK_DIR), tmp_path, progress=False, log=lambda _: None)
        failures = [f"{r.notebook}: {r.detail}" for r in results if r.status != "ok"]
        assert not failures, failures
        boto3.DEFAULT_SESSION = None  # forget the credentials this process found earlier
        left = cleanup.find(load_settings(), log=lambda _: None)  # as the participant, under the policy
        assert left == [] and left.complete
    finally:
        switch(emulator, False)
        boto3.DEFAULT_SESSION = None


def test_a_participant_is_refused_on_another_participants_resources(seats, emulator):
    settings, keys = seats
    ec2_b, rds_b, ddb_b = (as_participant(keys["ws-02"], emulator, s) for s in ("ec2", "rds", "dynamodb"))
    switch(emulator, True)
    try:
        vpc = ec2_b.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        tags = [{"Key": "tutorial", "Value": "aws-storage-for-data-science"}, {"Key": "participant", "Value": "ws-02"}]
        group = ec2_b.create_security_group(
            GroupName="ws-02-postgres-sg",
            Description="b's",
            VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
        )["GroupId"]
        ddb_b.create_table(
            TableName="ws-02-users",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=tags,
        )
        instance = rds_b.create_db_instance(
            DBInstanceIdentifier="ws-02-postgres", VpcSecurityGroupIds=[group], Tags=tags, **workshop.LESSON_02_DB
        )["DBInstance"]
        ec2_a, rds_a, ddb_a, sm_a = (
            as_participant(keys["ws-01"], emulator, s) for s in ("ec2", "rds", "dynamodb", "secretsmanager")
        )
        refused = {"AccessDenied", "AccessDeniedException", "403", "UnauthorizedOperation"}
        assert error_code(lambda: ddb_a.describe_table(TableName="ws-02-users")) in refused
        assert error_code(lambda: ddb_a.delete_table(TableName="ws-02-users")) in refused
        assert error_code(lambda: ddb_a.put_item(TableName="ws-02-users", Item={"id": {"N": "1"}})) in refused
        assert error_code(lambda: ec2_a.delete_security_group(GroupId=group)) in refused
        assert (
            error_code(lambda: rds_a.delete_db_instance(DBInstanceIdentifier="ws-02-postgres", SkipFinalSnapshot=True))
            in refused
        )
        secret = instance["MasterUserSecret"]["SecretArn"]
        assert error_code(lambda: sm_a.get_secret_value(SecretId=secret)) in refused
        # ...and impersonating someone else's tag does not open a door either
        a_tags = [
            {"Key": "tutorial", "Value": "aws-storage-for-data-science"},
            {"Key": "participant", "Value": "ws-02"},
        ]
        assert (
            error_code(
                lambda: ec2_a.create_security_group(
                    GroupName="ws-01-x",
                    Description="x",
                    VpcId=vpc,
                    TagSpecifications=[{"ResourceType": "security-group", "Tags": a_tags}],
                )
            )
            in refused
        )
        # while the owner reaches all of it
        assert error_code(lambda: ddb_b.describe_table(TableName="ws-02-users")) is None
        assert (
            error_code(
                lambda: as_participant(keys["ws-02"], emulator, "secretsmanager").get_secret_value(SecretId=secret)
            )
            is None
        )
    finally:
        switch(emulator, False)
        os.environ["AWS_ENDPOINT_URL"] = emulator
        cleanup.clean(load_settings(), yes=True, participants=PARTICIPANTS, log=lambda _: None)
