"""The local emulator refuses what AWS refuses (helpers/local/aws_limits.py).

Each refusal is checked against one launcher process (``python -m helpers.local.moto_server``),
twice: with the limits on, the emulator answers with AWS's error code and a message like AWS's;
switched off through ``/moto-api/tutorial/limits``, moto's own answer comes back (moto accepts,
or, where moto already refuses, the test says so). So each test fails when its refusal is
missing, and the switch is proven to switch. S3's version paging is checked the same way: on,
a bucket emptied page by page while paging ends empty; off, moto loses versions.
"""

from __future__ import annotations

import datetime
import json
import os
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest
from botocore.exceptions import ClientError
from support import create_postgres_instance, emulator_process, error_code

from helpers.local import aws_limits
from helpers.local.aws_limits import (
    GROUP_INLINE_POLICY_CHARS,
    MANAGED_POLICY_CHARS,
    ROLE_INLINE_POLICY_CHARS,
    USER_INLINE_POLICY_CHARS,
    policy_chars,
)
from helpers.local.moto_server import limits_from_env

QUOTA = 2  # DB instances per region for this emulator (AWS: 40), from TUTORIAL_AWS_RDS_INSTANCE_QUOTA
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}],
    }
)


def _limits(url: str, **wanted) -> dict:
    request = urllib.request.Request(
        url + aws_limits.CONTROL_PATH,
        data=json.dumps(wanted).encode() if wanted else None,
        headers={"Content-Type": "application/json"},
        method="POST" if wanted else "GET",
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - our own local emulator
        return json.loads(response.read())


@pytest.fixture(scope="module")
def emulator():
    env = {
        **os.environ,
        "TUTORIAL_AWS_LIMITS": "on",
        "TUTORIAL_AWS_RDS_INSTANCE_QUOTA": str(QUOTA),
        "TUTORIAL_AWS_LIFECYCLE": "off",  # the limits alone
    }
    with emulator_process(env) as url:
        yield url


@pytest.fixture(params=["on", "off"])
def aws(request, emulator):
    """(clients factory, limits on?) with the emulator emptied and switched as the test asks."""
    urllib.request.urlopen(urllib.request.Request(f"{emulator}/moto-api/reset", method="POST"), timeout=10)
    on = request.param == "on"
    assert _limits(emulator, enabled=on) == {"enabled": on, "rds_instance_quota": QUOTA}

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=emulator,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )

    yield client, on
    _limits(emulator, enabled=True)


def _refused(call) -> dict:
    """AWS's error for ``call()``, which must fail."""
    with pytest.raises(ClientError) as caught:
        call()
    return {**caught.value.response["Error"], "Status": caught.value.response["ResponseMetadata"]["HTTPStatusCode"]}


def _policy(size: int) -> str:
    """A valid policy document of exactly ``size`` characters as IAM counts them, pretty-printed."""

    def document(sid: str) -> dict:
        return {
            "Version": "2012-10-17",
            "Statement": [{"Sid": sid, "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
        }

    pad = size - policy_chars(document(""))
    assert pad >= 1, "too small for a policy"
    text = json.dumps(document("S" * pad), indent=4)  # the white space is not counted
    assert policy_chars(text) == size
    return text


# --------------------------------------------------------------------------- the count and the switch


def test_policy_chars_does_not_count_white_space():
    compact = '{"Version":"2012-10-17","Statement":[]}'
    assert policy_chars(compact) == len(compact)
    assert policy_chars(json.dumps(json.loads(compact), indent=4)) == len(compact)
    assert policy_chars(json.loads(compact)) == len(compact)


def test_the_switch_and_the_quota_come_from_the_environment():
    assert limits_from_env({}) == (True, aws_limits.RDS_DB_INSTANCES)
    assert limits_from_env({"TUTORIAL_AWS_LIMITS": "off", "TUTORIAL_AWS_RDS_INSTANCE_QUOTA": "3"}) == (False, 3)
    assert limits_from_env({"TUTORIAL_AWS_RDS_INSTANCE_QUOTA": "many"}) == (True, aws_limits.RDS_DB_INSTANCES)


# --------------------------------------------------------------------------- IAM policy sizes


@pytest.mark.parametrize(
    ("kind", "quota"),
    [("user", USER_INLINE_POLICY_CHARS), ("role", ROLE_INLINE_POLICY_CHARS), ("group", GROUP_INLINE_POLICY_CHARS)],
)
def test_inline_policies_together_are_limited_per_user_role_and_group(aws, kind, quota):
    client, on = aws
    iam = client("iam")
    if kind == "user":
        iam.create_user(UserName="p1")
        put = lambda name, text: iam.put_user_policy(UserName="p1", PolicyName=name, PolicyDocument=text)  # noqa: E731
    elif kind == "role":
        iam.create_role(RoleName="p1", AssumeRolePolicyDocument=TRUST)
        put = lambda name, text: iam.put_role_policy(RoleName="p1", PolicyName=name, PolicyDocument=text)  # noqa: E731
    else:
        iam.create_group(GroupName="p1")
        put = lambda name, text: iam.put_group_policy(GroupName="p1", PolicyName=name, PolicyDocument=text)  # noqa: E731
    half = quota // 2
    put("first", _policy(half))
    put("first", _policy(half + 10))  # replaced, not added: still within the quota
    put("second", _policy(quota - half - 10))  # exactly the quota, together
    if on:
        error = _refused(lambda: put("third", _policy(200)))
        assert (error["Code"], error["Status"]) == ("LimitExceeded", 409)
        assert error["Message"] == f"Maximum policy size of {quota} bytes exceeded for {kind} p1"
    else:
        put("third", _policy(200))


def test_a_managed_policy_is_at_most_6144_characters(aws):
    client, on = aws
    iam = client("iam")
    arn = iam.create_policy(PolicyName="fits", PolicyDocument=_policy(MANAGED_POLICY_CHARS))["Policy"]["Arn"]
    too_big = _policy(MANAGED_POLICY_CHARS + 1)
    calls = [
        lambda: iam.create_policy(PolicyName="too-big", PolicyDocument=too_big),
        lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=too_big),
    ]
    for call in calls:
        if on:
            error = _refused(call)
            assert (error["Code"], error["Status"]) == ("LimitExceeded", 409)
            assert error["Message"] == "Cannot exceed quota for PolicySize: 6144"
        else:
            call()


# --------------------------------------------------------------------------- IAM keys and deletions


def test_a_third_access_key_is_refused(aws):
    client, _ = aws
    iam = client("iam")
    iam.create_user(UserName="p1")
    iam.create_access_key(UserName="p1")
    iam.create_access_key(UserName="p1")
    # moto 5.2 refuses this itself, with AWS's code and message; aws_limits adds nothing, on or off.
    error = _refused(lambda: iam.create_access_key(UserName="p1"))
    assert (error["Code"], error["Message"]) == ("LimitExceeded", "Cannot exceed quota for AccessKeysPerUser: 2")


def _certificate() -> str:
    """A self-signed X.509 certificate (PEM), as UploadSigningCertificate requires."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "p1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


SSH_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC3F6L8GJ5v3ZB8bZ5s1bU4gVhX0L9H4f5rJ3m2Y0QXy1Z8s6p p1@example"


def _attach(iam, thing: str) -> None:
    if thing == "login profile":
        iam.create_login_profile(UserName="p1", Password="A-long-enough-passw0rd!")
    elif thing == "access key":
        iam.create_access_key(UserName="p1")
    elif thing == "group membership":
        iam.create_group(GroupName="g1")
        iam.add_user_to_group(GroupName="g1", UserName="p1")
    elif thing == "MFA device":
        serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="p1")["VirtualMFADevice"]["SerialNumber"]
        iam.enable_mfa_device(
            UserName="p1", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
    elif thing == "SSH public key":
        iam.upload_ssh_public_key(UserName="p1", SSHPublicKeyBody=SSH_KEY)
    elif thing == "signing certificate":
        iam.upload_signing_certificate(UserName="p1", CertificateBody=_certificate())
    elif thing == "inline policy":
        iam.put_user_policy(UserName="p1", PolicyName="p", PolicyDocument=_policy(200))
    elif thing == "managed policy":
        arn = iam.create_policy(PolicyName="p", PolicyDocument=_policy(200))["Policy"]["Arn"]
        iam.attach_user_policy(UserName="p1", PolicyArn=arn)


# What moto 5.2 itself answers when the limits are off: None when it deletes the user anyway.
MOTO_DELETES_USER_WITH = {
    "login profile": None,
    "access key": None,
    "group membership": None,
    "MFA device": None,
    "SSH public key": None,
    "signing certificate": None,
    "inline policy": "DeleteConflict",
    "managed policy": "DeleteConflict",
}


@pytest.mark.parametrize("thing", list(MOTO_DELETES_USER_WITH))
def test_delete_user_with_something_attached_is_a_conflict(aws, thing):
    client, on = aws
    iam = client("iam")
    iam.create_user(UserName="p1")
    _attach(iam, thing)
    code = error_code(lambda: iam.delete_user(UserName="p1"))
    assert code == ("DeleteConflict" if on else MOTO_DELETES_USER_WITH[thing])
    if on:
        error = _refused(lambda: iam.delete_user(UserName="p1"))
        assert error["Status"] == 409
        assert error["Message"].startswith("Cannot delete entity, must ")
        assert iam.get_user(UserName="p1")["User"]["UserName"] == "p1"


def test_a_user_with_nothing_attached_is_deleted(aws):
    client, _ = aws
    iam = client("iam")
    iam.create_user(UserName="p1")
    key = iam.create_access_key(UserName="p1")["AccessKey"]["AccessKeyId"]
    iam.delete_access_key(UserName="p1", AccessKeyId=key)
    iam.delete_user(UserName="p1")
    assert error_code(lambda: iam.get_user(UserName="p1")) == "NoSuchEntity"


@pytest.mark.parametrize("thing", ["member", "inline policy", "managed policy"])
def test_delete_group_with_members_or_policies_is_a_conflict(aws, thing):
    client, on = aws
    iam = client("iam")
    iam.create_group(GroupName="g1")
    if thing == "member":
        iam.create_user(UserName="p1")
        iam.add_user_to_group(GroupName="g1", UserName="p1")
    elif thing == "inline policy":
        iam.put_group_policy(GroupName="g1", PolicyName="p", PolicyDocument=_policy(200))
    else:
        arn = iam.create_policy(PolicyName="p", PolicyDocument=_policy(200))["Policy"]["Arn"]
        iam.attach_group_policy(GroupName="g1", PolicyArn=arn)
    assert error_code(lambda: iam.delete_group(GroupName="g1")) == ("DeleteConflict" if on else None)


def test_delete_policy_attached_or_with_versions_is_a_conflict(aws):
    client, on = aws
    iam = client("iam")
    iam.create_group(GroupName="g1")
    attached = iam.create_policy(PolicyName="attached", PolicyDocument=_policy(200))["Policy"]["Arn"]
    iam.attach_group_policy(GroupName="g1", PolicyArn=attached)
    versioned = iam.create_policy(PolicyName="versioned", PolicyDocument=_policy(200))["Policy"]["Arn"]
    iam.create_policy_version(PolicyArn=versioned, PolicyDocument=_policy(300), SetAsDefault=True)
    for arn in (attached, versioned):
        assert error_code(lambda arn=arn: iam.delete_policy(PolicyArn=arn)) == ("DeleteConflict" if on else None)
    if on:  # once detached and down to its default version, each goes
        iam.detach_group_policy(GroupName="g1", PolicyArn=attached)
        iam.delete_policy_version(PolicyArn=versioned, VersionId="v1")
        iam.delete_policy(PolicyArn=attached)
        iam.delete_policy(PolicyArn=versioned)


# --------------------------------------------------------------------------- STS, EC2, RDS


def test_a_session_longer_than_the_role_allows_is_refused(aws):
    client, on = aws
    iam, sts = client("iam"), client("sts")
    default = iam.create_role(RoleName="r1", AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    raised = iam.create_role(RoleName="r2", AssumeRolePolicyDocument=TRUST, MaxSessionDuration=7200)["Role"]["Arn"]
    sts.assume_role(RoleArn=default, RoleSessionName="session", DurationSeconds=3600)
    sts.assume_role(RoleArn=raised, RoleSessionName="session", DurationSeconds=5400)
    calls = [
        lambda: sts.assume_role(RoleArn=default, RoleSessionName="session", DurationSeconds=5400),
        lambda: sts.assume_role_with_web_identity(
            RoleArn=default, RoleSessionName="session", WebIdentityToken="token", DurationSeconds=5400
        ),
        lambda: sts.assume_role(RoleArn=raised, RoleSessionName="session", DurationSeconds=7201),
    ]
    for call in calls:
        if on:
            error = _refused(call)
            assert (error["Code"], error["Status"]) == ("ValidationError", 400)
            assert error["Message"] == "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
        else:
            call()


def test_a_security_group_name_starting_with_sg_is_refused(aws):
    client, on = aws
    ec2 = client("ec2")
    ec2.create_security_group(GroupName="ws-01-db", Description="fine")
    create = lambda: ec2.create_security_group(GroupName="sg-01-db", Description="refused on AWS")  # noqa: E731
    if on:
        error = _refused(create)
        assert error["Code"] == "InvalidParameterValue"
        assert "Group names may not be in the format sg-*" in error["Message"]
    else:
        create()


def test_only_the_regions_a_new_account_has_enabled_are_described(aws):
    """A fresh AWS account has the 17 regions launched before March 20, 2019; the opt-in ones come
    only with AllRegions, as not-opted-in; China's and GovCloud's never (another kind of account)."""
    client, on = aws
    ec2 = client("ec2")
    enabled = {r["RegionName"]: r["OptInStatus"] for r in ec2.describe_regions()["Regions"]}
    every = {r["RegionName"]: r["OptInStatus"] for r in ec2.describe_regions(AllRegions=True)["Regions"]}
    if on:
        assert set(enabled) == aws_limits.DEFAULT_REGIONS and len(enabled) == 17
        assert set(enabled.values()) == {"opt-in-not-required"}
        assert every["af-south-1"] == "not-opted-in" and every["us-east-1"] == "opt-in-not-required"
        assert set(every) > set(enabled)
        assert not [r for r in every if r.startswith(("cn-", "us-gov-"))]
        asked = ec2.describe_regions(RegionNames=["eu-west-1"])["Regions"]
        assert [r["RegionName"] for r in asked] == ["eu-west-1"]
    else:
        assert "cn-north-1" in enabled and "us-gov-west-1" in enabled  # moto's own answer


def test_a_missing_workgroup_is_not_found_and_an_untagged_one_has_no_tags(aws):
    """GetWorkGroup of a missing workgroup: InvalidRequestException (moto: a null workgroup);
    ListTagsForResource of a workgroup without tags: an empty list (moto: "Does Not Exist")."""
    client, on = aws
    athena = client("athena")
    athena.create_work_group(Name="ws-01-lake", Configuration={})
    arn = "arn:aws:athena:us-east-1:123456789012:workgroup/ws-01-lake"
    missing = lambda: athena.get_work_group(WorkGroup="ws-01-gone")  # noqa: E731
    untagged = lambda: athena.list_tags_for_resource(ResourceARN=arn)  # noqa: E731
    assert athena.get_work_group(WorkGroup="ws-01-lake")["WorkGroup"]["Name"] == "ws-01-lake"
    if on:
        error = _refused(missing)
        assert error["Code"] == "InvalidRequestException" and "is not found" in error["Message"]
        assert untagged()["Tags"] == []
        athena.tag_resource(ResourceARN=arn, Tags=[{"Key": "participant", "Value": "ws-01"}])
        assert untagged()["Tags"] == [{"Key": "participant", "Value": "ws-01"}]
    else:
        assert missing().get("WorkGroup") is None
        assert _refused(untagged)["Code"] == "InvalidRequestException"


def test_db_instances_per_region_are_limited(aws, emulator):
    client, on = aws
    rds = client("rds")
    for index in range(QUOTA):
        create_postgres_instance(rds, f"db{index}")
    one_more = lambda: create_postgres_instance(rds, "db-extra")  # noqa: E731
    if on:
        error = _refused(one_more)
        assert (error["Code"], error["Status"]) == ("InstanceQuotaExceeded", 400)
        rds.delete_db_instance(DBInstanceIdentifier="db0", SkipFinalSnapshot=True)
        one_more()  # room again
        assert _limits(emulator, rds_instance_quota=aws_limits.RDS_DB_INSTANCES)["rds_instance_quota"] == 40
        create_postgres_instance(rds, "db-40")  # AWS's own quota leaves room
        _limits(emulator, rds_instance_quota=QUOTA)
    else:
        one_more()


# --------------------------------------------------------------------------- S3 version paging


def _fill(s3, bucket: str, keys: list[str]) -> set[tuple[str, str]]:
    """Put one small object per key (in threads: the emulator answers several at once); their versions."""

    def put(key: str) -> tuple[str, str]:
        return key, s3.put_object(Bucket=bucket, Key=key, Body=b"x").get("VersionId", "null")

    with ThreadPoolExecutor(8) as pool:
        return set(pool.map(put, keys))


def _empty_while_paging(s3, bucket: str, page_size: int) -> list[tuple[str, str]]:
    """Page list_object_versions and delete each page before asking for the next; what was seen."""
    seen: list[tuple[str, str]] = []
    pages = s3.get_paginator("list_object_versions").paginate(Bucket=bucket, PaginationConfig={"PageSize": page_size})
    for page in pages:
        items = [(v["Key"], v["VersionId"]) for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        seen += items
        if items:
            s3.delete_objects(
                Bucket=bucket, Delete={"Objects": [{"Key": k, "VersionId": v} for k, v in items], "Quiet": True}
            )
    return seen


def _versioned_bucket(s3, objects: int, page_size: int) -> set[tuple[str, str]]:
    """A versioned bucket of ``objects`` keys; the key at the first page boundary has three
    versions (the boundary falls among them), and another key ends with a delete marker.
    Returns every (key, version id) the bucket holds, as the calls that made them answered."""
    s3.create_bucket(Bucket="versions")
    s3.put_bucket_versioning(Bucket="versions", VersioningConfiguration={"Status": "Enabled"})
    keys = [f"data/{index:05d}.csv" for index in range(objects)]
    everything = _fill(s3, "versions", keys)
    boundary = keys[page_size - 2]  # its 3 versions hold places page_size-2 .. page_size
    for _ in range(2):
        everything.add((boundary, s3.put_object(Bucket="versions", Key=boundary, Body=b"newer")["VersionId"]))
    everything.add((keys[-3], s3.delete_object(Bucket="versions", Key=keys[-3])["VersionId"]))  # a delete marker
    first = s3.list_object_versions(Bucket="versions", MaxKeys=page_size)
    assert first["NextKeyMarker"] == boundary, "the first page must end inside the boundary key's versions"
    assert len(everything) == objects + 3
    return everything


def test_versions_paged_while_deleted_are_all_seen_and_the_bucket_ends_empty(aws):
    client, on = aws
    s3 = client("s3")
    # Pages of 100 show the paging rule as well as S3's 1,000 do, at a tenth of the requests;
    # cleanup's own test empties 2,500 objects in pages of 1,000 (tests/test_cleanup.py).
    objects, page_size = 250, 100
    everything = _versioned_bucket(s3, objects, page_size)
    seen = _empty_while_paging(s3, "versions", page_size)
    left = s3.list_object_versions(Bucket="versions")
    left = left.get("Versions", []) + left.get("DeleteMarkers", [])
    if on:
        assert sorted(seen) == sorted(everything)
        assert left == []
        s3.delete_bucket(Bucket="versions")
    else:  # moto 5.2 looks the marker up among the versions left, finds none, and stops
        assert len(set(seen)) < len(everything)
        assert left


def test_key_marker_alone_starts_after_that_key(aws):
    client, on = aws
    s3 = client("s3")
    s3.create_bucket(Bucket="versions")
    s3.put_bucket_versioning(Bucket="versions", VersioningConfiguration={"Status": "Enabled"})
    for key in ["a", "b", "b", "c", "d"]:
        s3.put_object(Bucket="versions", Key=key, Body=b"x")
    after_b = [v["Key"] for v in s3.list_object_versions(Bucket="versions", KeyMarker="b").get("Versions", [])]
    for version in s3.list_object_versions(Bucket="versions", Prefix="c")["Versions"]:
        s3.delete_object(Bucket="versions", Key="c", VersionId=version["VersionId"])
    after_gone_c = [v["Key"] for v in s3.list_object_versions(Bucket="versions", KeyMarker="c").get("Versions", [])]
    if on:
        assert (after_b, after_gone_c) == (["c", "d"], ["d"])
    else:  # moto lists b's older version, and skips the first key after a marker that is gone
        assert (after_b, after_gone_c) == (["b", "c", "d"], [])


def test_version_pages_with_a_delimiter_roll_keys_up_once_in_order(aws):
    client, on = aws
    s3 = client("s3")
    s3.create_bucket(Bucket="versions")
    for key in ["a/1", "a/2", "b", "c/1", "c/2/x", "d"]:
        s3.put_object(Bucket="versions", Key=key, Body=b"x")
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket="versions", Delimiter="/", PaginationConfig={"PageSize": 1}
    )
    listed = []
    for page in pages:
        listed += [p["Prefix"] for p in page.get("CommonPrefixes", [])] + [v["Key"] for v in page.get("Versions", [])]
    if on:
        assert listed == ["a/", "b", "c/", "d"]
    else:  # moto lists the same, but its common prefixes out of order
        assert sorted(listed) == ["a/", "b", "c/", "d"] != listed


def test_objects_paged_while_deleted_are_all_seen(aws):
    client, _ = aws
    s3 = client("s3")
    s3.create_bucket(Bucket="objects")
    keys = [f"data/{index:04d}.csv" for index in range(250)]
    _fill(s3, "objects", keys)
    seen = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="objects", PaginationConfig={"PageSize": 100}):
        batch = [item["Key"] for item in page.get("Contents", [])]
        seen += batch
        s3.delete_objects(Bucket="objects", Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True})
    # moto's ListObjectsV2 pages by position already (StartAfter / ContinuationToken), on or off.
    assert seen == keys
    assert s3.list_objects_v2(Bucket="objects")["KeyCount"] == 0
