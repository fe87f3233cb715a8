"""IAM as the emulator enforces it (helpers/local/iam_enforcement.py), for the workshop's design:
one managed policy on a group, naming each participant's prefix as ``${aws:PrincipalTag/participant}``.

The unit tests pin the evaluation rules AWS documents for policy variables
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html); the others
run against an emulator process with enforcement switched on, with seats the kit created, and
prove that participant A still reaches only A's resources, and cannot tag B's security group
(or anyone's) as A's to take it over.
"""

from __future__ import annotations

import json
import os
import urllib.request

import boto3
import pytest
from support import error_code, free_port

from helpers import workshop
from helpers.local import iam_enforcement, stack
from helpers.local.iam_enforcement import decide
from helpers.names import Names

ACCOUNT = "123456789012"
REGION = "us-east-1"
REFUSED = {"AccessDenied", "AccessDeniedException", "403", "UnauthorizedOperation"}

OWN_BUCKETS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "s3:CreateBucket", "Resource": "arn:aws:s3:::${aws:PrincipalTag/participant}-*"},
        {
            "Effect": "Allow",
            "Action": "ec2:CreateSecurityGroup",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestTag/participant": "${aws:PrincipalTag/participant}"}},
        },
    ],
}


# --------------------------------------------------------------------------- policy variables


def test_a_principal_tag_variable_is_filled_from_the_callers_tags():
    me = {"aws:PrincipalTag/participant": "ws-01"}
    assert decide([OWN_BUCKETS], "s3:CreateBucket", "arn:aws:s3:::ws-01-data", me) == "allow"
    assert decide([OWN_BUCKETS], "s3:CreateBucket", "arn:aws:s3:::ws-02-data", me) == "implicit-deny"
    assert decide([OWN_BUCKETS], "s3:CreateBucket", "arn:aws:s3:::ws-01-data", {}) == "implicit-deny"  # no tag


def test_a_variable_in_a_condition_compares_with_the_callers_value():
    me = {"aws:PrincipalTag/participant": "ws-01"}
    group = "arn:aws:ec2:us-east-1:123456789012:security-group/*"
    assert (
        decide([OWN_BUCKETS], "ec2:CreateSecurityGroup", group, {**me, "aws:RequestTag/participant": "ws-01"})
        == "allow"
    )
    assert (
        decide([OWN_BUCKETS], "ec2:CreateSecurityGroup", group, {**me, "aws:RequestTag/participant": "ws-02"})
        != "allow"
    )
    # a caller without the tag matches nothing, not even a request that names no participant
    assert decide([OWN_BUCKETS], "ec2:CreateSecurityGroup", group, {"aws:RequestTag/participant": ""}) != "allow"


def test_a_filled_value_matches_only_itself_and_defaults_apply():
    policy = {
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/${aws:username}/*"},
            {
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::b/${aws:PrincipalTag/team, 'shared'}/*",
            },
        ]
    }
    assert decide([policy], "s3:GetObject", "arn:aws:s3:::b/ann/x", {"aws:username": "ann"}) == "allow"
    assert decide([policy], "s3:GetObject", "arn:aws:s3:::b/bob/x", {"aws:username": "a*"}) != "allow"  # no wildcard
    assert decide([policy], "s3:PutObject", "arn:aws:s3:::b/shared/x", {}) == "allow"


# --------------------------------------------------------------------------- against the emulator


@pytest.fixture(scope="module")
def emulator():
    port = free_port()
    proc = stack.spawn_moto(port, env={**os.environ, "TUTORIAL_AWS_IAM": "off"})
    url = f"http://127.0.0.1:{port}"
    stack.wait_until_healthy(proc, url)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def switch(url: str, on: bool) -> None:
    body = json.dumps({"enforce": on}).encode()
    request = urllib.request.Request(url + iam_enforcement.CONTROL_PATH, data=body, method="POST")
    urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 - the local emulator


def as_key(keys: tuple[str, str], url: str, service: str):
    return boto3.client(
        service, endpoint_url=url, region_name=REGION, aws_access_key_id=keys[0], aws_secret_access_key=keys[1]
    )


def admin(url: str, service: str):
    return as_key(("test", "test"), url, service)


SERIES = {"Key": "tutorial", "Value": "aws-storage-for-data-science"}
# The participant policy's tagging statement before ec2:CreateAction was required.
OLD_TAGGING = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "ec2:CreateTags",
            "Resource": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/*",
            "Condition": {"StringEquals": {"aws:RequestTag/participant": "${aws:PrincipalTag/participant}"}},
        }
    ],
}


@pytest.fixture(scope="module")
def seats(local_stack, emulator, tmp_path_factory):
    """Seats ws-01, ws-02 and ws-03 made by the kit (ws-03's participant tag then removed by an
    administrator); ws-02's security group and a decoy group that belongs to nobody."""
    from helpers.settings import load_settings

    folder = tmp_path_factory.mktemp("workshop")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_ENDPOINT_URL", emulator)
        patch.setattr(workshop.Workshop, "folder", staticmethod(lambda s: folder))
        settings = load_settings()
        iam = admin(emulator, "iam")
        workshop.create(settings, iam, ACCOUNT, ["ws-01", "ws-02", "ws-03"], yes=True, log=lambda _: None)
        iam.untag_user(UserName="tutorial-ws-03", TagKeys=["participant"])
        keys = {prefix: workshop.seat_keys(settings, prefix) for prefix in ("ws-01", "ws-02", "ws-03")}
    ec2 = admin(emulator, "ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    theirs = ec2.create_security_group(
        GroupName="ws-02-postgres-sg",
        Description="ws-02's",
        VpcId=vpc,
        TagSpecifications=[
            {"ResourceType": "security-group", "Tags": [SERIES, {"Key": "participant", "Value": "ws-02"}]}
        ],
    )["GroupId"]
    decoy = ec2.create_security_group(GroupName="someone-elses-sg", Description="not the series'", VpcId=vpc)["GroupId"]
    other = ec2.create_security_group(GroupName="another-teams-sg", Description="not the series'", VpcId=vpc)["GroupId"]
    iam.create_user(UserName="old-design", Tags=[{"Key": "participant", "Value": "ws-01"}])
    iam.put_user_policy(UserName="old-design", PolicyName="old", PolicyDocument=json.dumps(OLD_TAGGING))
    old = iam.create_access_key(UserName="old-design")["AccessKey"]
    yield {
        "keys": {**keys, "old-design": (old["AccessKeyId"], old["SecretAccessKey"])},
        "vpc": vpc,
        "theirs": theirs,
        "decoy": decoy,
        "other": other,
        "url": emulator,
    }
    switch(emulator, False)


@pytest.fixture
def enforced(seats):
    switch(seats["url"], True)
    try:
        yield seats
    finally:
        switch(seats["url"], False)


def test_a_participant_reaches_own_resources_through_the_groups_policy(enforced):
    """The policy is on the group, not the user, and names the prefix only by the user's tag."""
    url, keys = enforced["url"], enforced["keys"]["ws-01"]
    s3, ddb, ec2 = (as_key(keys, url, s) for s in ("s3", "dynamodb", "ec2"))
    assert error_code(lambda: s3.create_bucket(Bucket=Names("ws-01", ACCOUNT, REGION).bucket)) is None
    table = {
        "TableName": "ws-01-users",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "N"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    assert error_code(lambda: ddb.create_table(**table)) is None
    mine = [{"ResourceType": "security-group", "Tags": [SERIES, {"Key": "participant", "Value": "ws-01"}]}]
    created = ec2.create_security_group(
        GroupName="ws-01-postgres-sg", Description="mine", VpcId=enforced["vpc"], TagSpecifications=mine
    )["GroupId"]
    rule = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "203.0.113.7/32"}]}
    assert error_code(lambda: ec2.authorize_security_group_ingress(GroupId=created, IpPermissions=[rule])) is None
    assert error_code(lambda: ec2.delete_security_group(GroupId=created)) is None


def test_a_participant_is_refused_on_another_participants_resources(enforced):
    url = enforced["url"]
    s3_b = as_key(enforced["keys"]["ws-02"], url, "s3")
    theirs = Names("ws-02", ACCOUNT, REGION).bucket
    assert error_code(lambda: s3_b.create_bucket(Bucket=theirs)) is None
    s3_a, ddb_a, ec2_a = (as_key(enforced["keys"]["ws-01"], url, s) for s in ("s3", "dynamodb", "ec2"))
    assert error_code(lambda: s3_a.put_object(Bucket=theirs, Key="x", Body=b"x")) in REFUSED
    assert error_code(lambda: s3_a.delete_bucket(Bucket=theirs)) in REFUSED
    assert error_code(lambda: ddb_a.describe_table(TableName="ws-02-users")) in REFUSED
    assert error_code(lambda: ec2_a.delete_security_group(GroupId=enforced["theirs"])) in REFUSED
    b_tags = [{"ResourceType": "security-group", "Tags": [SERIES, {"Key": "participant", "Value": "ws-02"}]}]
    assert (
        error_code(
            lambda: ec2_a.create_security_group(
                GroupName="ws-01-x", Description="x", VpcId=enforced["vpc"], TagSpecifications=b_tags
            )
        )
        in REFUSED
    )


@pytest.mark.parametrize("target", ["theirs", "decoy"])
def test_nobody_can_tag_an_existing_group_as_theirs_and_then_take_it(enforced, target):
    """CreateTags outside CreateSecurityGroup carries no ec2:CreateAction, so the policy refuses it:
    the group keeps its tags, and opening or deleting it stays refused."""
    ec2_a = as_key(enforced["keys"]["ws-01"], enforced["url"], "ec2")
    group = enforced[target]
    claim = [{"Key": "participant", "Value": "ws-01"}]
    assert error_code(lambda: ec2_a.create_tags(Resources=[group], Tags=claim)) in REFUSED
    rule = {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    assert error_code(lambda: ec2_a.authorize_security_group_ingress(GroupId=group, IpPermissions=[rule])) in REFUSED
    assert error_code(lambda: ec2_a.delete_security_group(GroupId=group)) in REFUSED
    switch(enforced["url"], False)
    tags = admin(enforced["url"], "ec2").describe_tags(Filters=[{"Name": "resource-id", "Values": [group]}])["Tags"]
    assert {"participant": "ws-01"}.items() - {t["Key"]: t["Value"] for t in tags}.items()  # not claimed


def test_a_standalone_create_tags_is_authorised_on_the_group_with_the_tags_asked_for(enforced):
    """The emulator authorises CreateTags as AWS does (per resource, aws:RequestTag/* from the call),
    so the old statement, which asked only for the participant's own tag value, lets a caller claim
    a group that is not theirs: the hole the ec2:CreateAction condition closes."""
    ec2 = as_key(enforced["keys"]["old-design"], enforced["url"], "ec2")
    group = enforced["other"]
    assert (
        error_code(lambda: ec2.create_tags(Resources=[group], Tags=[{"Key": "participant", "Value": "ws-01"}])) is None
    )
    assert error_code(lambda: ec2.create_tags(Resources=[group], Tags=[{"Key": "participant", "Value": "ws-02"}])) in (
        REFUSED
    )


def test_a_user_without_the_participant_tag_gets_no_prefix_at_all(enforced):
    """A variable with no value matches nothing: ws-03, untagged, is refused even on ws-03-*."""
    s3 = as_key(enforced["keys"]["ws-03"], enforced["url"], "s3")
    assert error_code(lambda: s3.create_bucket(Bucket=Names("ws-03", ACCOUNT, REGION).bucket)) in REFUSED
    assert error_code(lambda: s3.list_buckets()) is None  # the statements on "*" still apply


# --------------------------------------------------------------------------- lesson 06: Glue and Athena


def lake_calls(keys: tuple[str, str], url: str, prefix: str):
    """Lesson 06's calls for ``prefix``, as ``keys`` makes them: (name, call) pairs."""
    from helpers.names import athena_workgroup, glue_database

    glue, athena = as_key(keys, url, "glue"), as_key(keys, url, "athena")
    database, workgroup = glue_database(prefix), athena_workgroup(prefix)
    tags = [SERIES, {"Key": "participant", "Value": prefix}]
    storage = {"Columns": [{"Name": "fare", "Type": "double"}], "Location": f"s3://{prefix}-x-data/trips/"}
    table = {"Name": "trips", "StorageDescriptor": storage, "PartitionKeys": [{"Name": "year", "Type": "string"}]}
    partition = {"Values": ["2024"], "StorageDescriptor": storage}
    output = {"OutputLocation": f"s3://{Names(prefix, ACCOUNT, REGION).bucket}/athena-results/"}
    return {
        "create database": lambda: glue.create_database(
            DatabaseInput={"Name": database}, Tags={t["Key"]: t["Value"] for t in tags}
        ),
        "read its tags": lambda: glue.get_tags(ResourceArn=f"arn:aws:glue:{REGION}:{ACCOUNT}:database/{database}"),
        "create table": lambda: glue.create_table(DatabaseName=database, TableInput=table),
        "add a partition": lambda: glue.batch_create_partition(
            DatabaseName=database, TableName="trips", PartitionInputList=[partition]
        ),
        "read the table": lambda: glue.get_table(DatabaseName=database, Name="trips"),
        "list partitions": lambda: glue.get_partitions(DatabaseName=database, TableName="trips"),
        "create workgroup": lambda: athena.create_work_group(Name=workgroup, Tags=tags),
        "start a query": lambda: athena.start_query_execution(
            QueryString="SELECT 1",
            QueryExecutionContext={"Database": database},
            ResultConfiguration=output,
            WorkGroup=workgroup,
        ),
    }


def finished(athena, query: str) -> str:
    """Wait (at most a minute) for the emulator's engine to end a query, so none is left running."""
    import time

    for _ in range(240):
        state = athena.get_query_execution(QueryExecutionId=query)["QueryExecution"]["Status"]["State"]
        if state in {"SUCCEEDED", "FAILED", "CANCELLED"}:
            return state
        time.sleep(0.25)
    raise AssertionError(f"query {query} still {state}")


def test_a_participant_runs_lesson_06s_calls_on_their_own_database_and_workgroup(enforced):
    """Glue by the ``glue_database`` tag the kit puts on the user (``ws_01_lake``), Athena by the
    ``<prefix>-lake`` workgroup; Athena's default database stays readable, as Athena requires."""
    url, keys = enforced["url"], enforced["keys"]["ws-01"]
    assert error_code(lambda: as_key(keys, url, "s3").create_bucket(Bucket=Names("ws-01", ACCOUNT, REGION).bucket)) in (
        None,
        "BucketAlreadyOwnedByYou",
    )
    results = {}
    for name, call in lake_calls(keys, url, "ws-01").items():
        results[name] = call()
    athena, glue = as_key(keys, url, "athena"), as_key(keys, url, "glue")
    query = results["start a query"]["QueryExecutionId"]
    assert finished(athena, query) == "SUCCEEDED"
    assert error_code(lambda: athena.get_query_results(QueryExecutionId=query)) is None
    switch(url, False)
    admin(url, "glue").create_database(DatabaseInput={"Name": "default"})
    switch(url, True)
    assert error_code(lambda: glue.get_database(Name="default")) is None
    assert error_code(lambda: athena.delete_work_group(WorkGroup="ws-01-lake", RecursiveDeleteOption=True)) is None
    assert error_code(lambda: glue.delete_database(Name="ws_01_lake")) is None


def test_a_participant_is_refused_on_another_participants_database_workgroup_and_queries(enforced):
    url = enforced["url"]
    switch(url, False)
    s3 = admin(url, "s3")
    for prefix in ("ws-01", "ws-02"):
        if error_code(lambda p=prefix: s3.create_bucket(Bucket=Names(p, ACCOUNT, REGION).bucket)) not in (
            None,
            "BucketAlreadyOwnedByYou",
        ):
            raise AssertionError(prefix)
    switch(url, True)
    theirs = lake_calls(enforced["keys"]["ws-02"], url, "ws-02")
    for name, call in theirs.items():
        assert error_code(call) is None, name
    their_query = theirs["start a query"]()["QueryExecutionId"]
    finished(as_key(enforced["keys"]["ws-02"], url, "athena"), their_query)
    keys = enforced["keys"]["ws-01"]
    glue, athena = as_key(keys, url, "glue"), as_key(keys, url, "athena")
    # Every one of ws-02's calls, made by ws-01 on ws-02's names, is refused.
    for name, call in lake_calls(keys, url, "ws-02").items():
        assert error_code(call) in REFUSED, name
    refused = {
        "their database": lambda: glue.get_database(Name="ws_02_lake"),
        "drop their database": lambda: glue.delete_database(Name="ws_02_lake"),
        "their workgroup": lambda: athena.get_work_group(WorkGroup="ws-02-lake"),
        "delete their workgroup": lambda: athena.delete_work_group(WorkGroup="ws-02-lake", RecursiveDeleteOption=True),
        "their query": lambda: athena.get_query_execution(QueryExecutionId=their_query),
        "their results": lambda: athena.get_query_results(QueryExecutionId=their_query),
        "the shared primary workgroup": lambda: athena.start_query_execution(
            QueryString="SELECT 1",
            ResultConfiguration={"OutputLocation": f"s3://{Names('ws-01', ACCOUNT, REGION).bucket}/athena-results/"},
        ),
        "tag the shared primary workgroup": lambda: athena.tag_resource(
            ResourceARN=f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/primary", Tags=[SERIES]
        ),
        "list the shared primary workgroup's queries": lambda: athena.list_query_executions(WorkGroup="primary"),
        "another database": lambda: glue.create_database(DatabaseInput={"Name": "analytics"}),
    }
    for name, call in refused.items():
        assert error_code(call) in REFUSED, name
    # Their own workgroup, but ws-02's database as context or ws-02's bucket for the results: refused.
    mine = lake_calls(keys, url, "ws-01")
    mine["create workgroup"]()
    for context, bucket in (("ws_02_lake", "ws-01"), ("ws_01_lake", "ws-02")):
        start = {
            "QueryString": "SELECT 1",
            "QueryExecutionContext": {"Database": context},
            "ResultConfiguration": {"OutputLocation": f"s3://{Names(bucket, ACCOUNT, REGION).bucket}/athena-results/"},
            "WorkGroup": "ws-01-lake",
        }
        assert error_code(lambda s=start: athena.start_query_execution(**s)) in REFUSED, (context, bucket)


def test_a_workgroup_cannot_write_its_results_into_another_participants_bucket(enforced):
    """Athena writes the results with the caller's rights, wherever the workgroup says they go: ws-01
    may make a workgroup of theirs that points at ws-02's bucket, but no query runs in it."""
    url = enforced["url"]
    switch(url, False)
    for prefix in ("ws-01", "ws-02"):
        error_code(lambda p=prefix: admin(url, "s3").create_bucket(Bucket=Names(p, ACCOUNT, REGION).bucket))
    switch(url, True)
    athena = as_key(enforced["keys"]["ws-01"], url, "athena")
    theirs = f"s3://{Names('ws-02', ACCOUNT, REGION).bucket}/athena-results/"
    mine = f"s3://{Names('ws-01', ACCOUNT, REGION).bucket}/athena-results/"
    for name, output in (("ws-01-sneaky", theirs), ("ws-01-plain", mine)):
        configuration = {"ResultConfiguration": {"OutputLocation": output}}
        assert error_code(lambda n=name, c=configuration: athena.create_work_group(Name=n, Configuration=c)) is None
    assert error_code(lambda: athena.start_query_execution(QueryString="SELECT 1", WorkGroup="ws-01-sneaky")) in (
        REFUSED
    )
    query = athena.start_query_execution(QueryString="SELECT 1", WorkGroup="ws-01-plain")["QueryExecutionId"]
    assert finished(athena, query) == "SUCCEEDED"


def test_query_results_are_read_with_the_callers_own_right_to_the_result_file(enforced):
    """GetQueryResults needs s3:GetObject on the result location too: a user whose policy grants
    the workgroup and writing the results, but not reading them, gets the query run and its
    results refused; with GetObject added, the same call answers."""
    url = enforced["url"]
    switch(url, False)
    iam, bucket = admin(url, "iam"), "results-only-writer"
    error_code(lambda: admin(url, "s3").create_bucket(Bucket=bucket))
    statements = [
        {"Effect": "Allow", "Action": "athena:*", "Resource": f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/wg-w"},
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetBucketLocation"],
            "Resource": "arn:aws:s3:::" + bucket + "*",
        },
    ]
    iam.create_user(UserName="writer")
    iam.put_user_policy(
        UserName="writer", PolicyName="w", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements})
    )
    key = iam.create_access_key(UserName="writer")["AccessKey"]
    athena = as_key((key["AccessKeyId"], key["SecretAccessKey"]), url, "athena")
    switch(url, True)
    config = {"ResultConfiguration": {"OutputLocation": f"s3://{bucket}/athena-results/"}}
    assert error_code(lambda: athena.create_work_group(Name="wg-w", Configuration=config)) is None
    query = athena.start_query_execution(QueryString="SELECT 1", WorkGroup="wg-w")["QueryExecutionId"]
    assert finished(athena, query) == "SUCCEEDED"
    assert error_code(lambda: athena.get_query_results(QueryExecutionId=query)) in REFUSED
    read = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/athena-results/*"}
    document = {"Version": "2012-10-17", "Statement": [*statements, read]}
    switch(url, False)
    iam.put_user_policy(UserName="writer", PolicyName="w", PolicyDocument=json.dumps(document))
    switch(url, True)
    assert athena.get_query_results(QueryExecutionId=query)["ResultSet"]["Rows"][1]["Data"][0]["VarCharValue"] == "1"


def test_a_query_reads_its_tables_with_the_callers_own_rights(enforced):
    """Athena reads a table's metadata and data as the caller: without glue:GetTable the query
    fails with "Insufficient permissions", without S3 read access to the table's location with
    "Permission denied on S3 path"; with both it succeeds. The participant policy grants them on
    the participant's own database and bucket (the room runs lesson 06 under it)."""
    url = enforced["url"]
    switch(url, False)
    s3, glue, iam = admin(url, "s3"), admin(url, "glue"), admin(url, "iam")
    for bucket in ("reads-data", "reads-results"):
        error_code(lambda b=bucket: s3.create_bucket(Bucket=b))
    s3.put_object(Bucket="reads-data", Key="t/part-0.csv", Body=b"1\n2\n")
    csv = {
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "SerdeInfo": {
            "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
            "Parameters": {"field.delim": ","},
        },
    }
    error_code(lambda: glue.create_database(DatabaseInput={"Name": "readsdb"}))
    storage = {"Columns": [{"Name": "n", "Type": "int"}], "Location": "s3://reads-data/t/", **csv}
    error_code(
        lambda: glue.create_table(DatabaseName="readsdb", TableInput={"Name": "t", "StorageDescriptor": storage})
    )
    glue_arn = f"arn:aws:glue:{REGION}:{ACCOUNT}"
    allowed = [
        {"Effect": "Allow", "Action": "athena:*", "Resource": f"arn:aws:athena:{REGION}:{ACCOUNT}:workgroup/wg-r"},
        {
            "Effect": "Allow",
            "Action": "glue:GetDatabase",
            "Resource": [f"{glue_arn}:catalog", f"{glue_arn}:database/readsdb"],
        },
        {
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:GetObject", "s3:GetBucketLocation"],
            "Resource": ["arn:aws:s3:::reads-results", "arn:aws:s3:::reads-results/*"],
        },
    ]
    iam.create_user(UserName="reader")
    key = iam.create_access_key(UserName="reader")["AccessKey"]
    athena = as_key((key["AccessKeyId"], key["SecretAccessKey"]), url, "athena")

    def query_with(*more: dict) -> dict:
        document = {"Version": "2012-10-17", "Statement": [*allowed, *more]}
        switch(url, False)
        iam.put_user_policy(UserName="reader", PolicyName="r", PolicyDocument=json.dumps(document))
        switch(url, True)
        error_code(
            lambda: athena.create_work_group(
                Name="wg-r", Configuration={"ResultConfiguration": {"OutputLocation": "s3://reads-results/out/"}}
            )
        )
        started = athena.start_query_execution(
            QueryString="SELECT sum(n) AS total FROM t", QueryExecutionContext={"Database": "readsdb"}, WorkGroup="wg-r"
        )["QueryExecutionId"]
        finished(athena, started)
        return athena.get_query_execution(QueryExecutionId=started)["QueryExecution"]

    table = {"Effect": "Allow", "Action": "glue:GetTable", "Resource": f"{glue_arn}:table/readsdb/*"}
    data = {
        "Effect": "Allow",
        "Action": ["s3:ListBucket", "s3:GetObject"],
        "Resource": ["arn:aws:s3:::reads-data", "arn:aws:s3:::reads-data/*"],
    }
    no_table = query_with()
    assert no_table["Status"]["State"] == "FAILED"
    assert "Insufficient permissions" in no_table["Status"]["StateChangeReason"]
    assert "glue:GetTable" in no_table["Status"]["StateChangeReason"]
    no_data = query_with(table)
    assert no_data["Status"]["State"] == "FAILED"
    assert no_data["Status"]["StateChangeReason"] == "Permission denied on S3 path: s3://reads-data/t/"
    assert query_with(table, data)["Status"]["State"] == "SUCCEEDED"


def test_without_the_glue_database_tag_a_user_gets_no_database(enforced):
    """The old-design user has a participant tag but no ``glue_database`` tag: no database at all."""
    glue = as_key(enforced["keys"]["old-design"], enforced["url"], "glue")
    assert error_code(lambda: glue.create_database(DatabaseInput={"Name": "ws_01_lake"})) in REFUSED
