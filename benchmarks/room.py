"""A workshop room, simulated: N participants doing the lessons' work at once against one stack.

Each participant is a thread with its own boto3 session and prefix, making the calls lessons
01-04 make (not thirty kernels): a bucket with the article's files and a presigned link
(01); a security group and lesson 02's DB instance, waited for, then PostgreSQL through the RDS
bridge with the `users` table and the CSVs loaded by COPY (02); the DynamoDB table with items
123 and 456, a query and a conditional write (03); and cleanup of their own prefix (04). All of
it against one emulator (with its AWS-like lifecycle) and one PostgreSQL.

It reports wall time, failures (must be zero), collisions (a participant who saw or deleted
another's resource), and the emulator's peak memory; after the room, a sweep of every
participant must leave nothing. A measurement, not a test: nothing here fails for being slow.
"""

from __future__ import annotations

import dataclasses
import io
import time
import traceback
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from botocore.exceptions import ClientError

from benchmarks.cases import Timing, log

CSV_FILES = {"csv/file1.csv": "name,age\nabe,31\nbea,5\n", "csv/file2.csv": "name,age\ncory,50\ndana,100\n"}


def _participant(settings, prefix: str, keys: tuple[str, str]) -> str:
    """One participant's lessons 01-04, with their own keys; returns "" or what went wrong."""
    import boto3
    import psycopg2

    from helpers import cleanup, rds, workshop
    from helpers.names import Names

    mine = dataclasses.replace(settings, prefix=prefix)
    session = boto3.session.Session(
        region_name=settings.region, aws_access_key_id=keys[0], aws_secret_access_key=keys[1]
    )
    clients = cleanup.Clients(mine, factory=lambda service, region: session.client(service, region_name=region))
    account = session.client("sts").get_caller_identity()["Account"]
    names = Names(prefix=prefix, account_id=account, region=settings.region)
    tags = names.tags()
    try:
        # 01: bucket, files, a presigned link fetched without credentials
        s3 = session.client("s3")
        s3.create_bucket(Bucket=names.bucket)
        s3.put_bucket_tagging(Bucket=names.bucket, Tagging={"TagSet": tags})
        s3.put_object(Bucket=names.bucket, Key="test.txt", Body=b"Hello there\n")
        s3.put_object(Bucket=names.bucket, Key="python/test.py", Body=b'print("hi")\n')
        for key, text in CSV_FILES.items():
            s3.put_object(Bucket=names.bucket, Key=key, Body=text.encode())
        keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=names.bucket)["Contents"])
        if keys != ["csv/file1.csv", "csv/file2.csv", "python/test.py", "test.txt"]:
            return f"01: unexpected keys {keys}"
        link = s3.generate_presigned_url("get_object", Params={"Bucket": names.bucket, "Key": "test.txt"})
        with urllib.request.urlopen(link, timeout=10) as response:  # noqa: S310 - the local emulator
            if response.read() != b"Hello there\n":
                return "01: the presigned link returned something else"
        # 02: security group, DB instance (creating, then available), PostgreSQL
        ec2, rds_client = session.client("ec2"), session.client("rds")
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        group = ec2.create_security_group(
            GroupName=names.security_group,
            Description=workshop.SECURITY_GROUP_DESCRIPTION,
            VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
        )["GroupId"]
        rds_client.create_db_instance(
            DBInstanceIdentifier=names.db_instance, VpcSecurityGroupIds=[group], Tags=tags, **workshop.LESSON_02_DB
        )
        rds.watch(
            names.db_instance,
            mine,
            lambda db: bool(db) and db["DBInstanceStatus"] == "available",
            timeout=300,
            rds=rds_client,
            log=lambda _: None,
        )
        params = rds.connection_params(
            names.db_instance, mine, rds=rds_client, secretsmanager=session.client("secretsmanager")
        )
        conn = psycopg2.connect(**params)
        try:
            with conn, conn.cursor() as cur:
                cur.execute("DROP TABLE IF EXISTS people")
                cur.execute("CREATE TABLE people (name TEXT NOT NULL, age INT NOT NULL)")
                for key in CSV_FILES:
                    body = s3.get_object(Bucket=names.bucket, Key=key)["Body"].read().decode()
                    cur.copy_expert("COPY people FROM STDIN WITH (FORMAT csv, HEADER true)", io.StringIO(body))
                cur.execute("SELECT count(*), sum(age) FROM people")
                if cur.fetchone() != (4, 186):
                    return "02: the loaded table holds other rows"
        finally:
            conn.close()
        # 03: DynamoDB
        ddb = session.client("dynamodb")
        ddb.create_table(
            TableName=names.table,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
            BillingMode="PROVISIONED",
            ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
            Tags=tags,
        )
        ddb.get_waiter("table_exists").wait(TableName=names.table, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        ddb.put_item(TableName=names.table, Item={"id": {"N": "123"}, "first_name": {"S": "matt"}})
        ddb.put_item(TableName=names.table, Item={"id": {"N": "456"}, "is_wizard": {"BOOL": True}})
        if (
            ddb.query(
                TableName=names.table,
                KeyConditionExpression="id = :id",
                ExpressionAttributeValues={":id": {"N": "456"}},
            )["Count"]
            != 1
        ):
            return "03: the query found another number of items"
        try:
            ddb.put_item(
                TableName=names.table, Item={"id": {"N": "123"}}, ConditionExpression="attribute_not_exists(id)"
            )
            return "03: the conditional write overwrote an item"
        except ddb.exceptions.ConditionalCheckFailedException:
            pass
        # Isolation, enforced: another participant's table is refused (whether it exists yet or not).
        other = "room-00-users" if prefix != "room-00" else "room-99-users"
        try:
            ddb.describe_table(TableName=other)
            return f"isolation: {prefix} could describe {other}"
        except ddb.exceptions.ResourceNotFoundException:
            return f"isolation: {prefix} was told {other} does not exist, not refused (is IAM enforced?)"
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"AccessDeniedException", "403"}:
                raise
        # Isolation: the participant's own listing shows only their own resources.
        seen = cleanup.find(mine, log=lambda _: None, clients=clients)
        if any(r.participant != prefix for r in seen) or len(seen) < 5:
            return f"collision: {prefix} sees {[(r.participant, r.name) for r in seen]}"
        # 04: cleanup of their own prefix
        left = cleanup.clean(mine, yes=True, log=lambda _: None, clients=clients)
        if left:
            return f"04: left {[r.name for r in left]}"
        return ""
    except Exception as exc:  # noqa: BLE001 - a failure is counted and reported, the room goes on
        return f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"


def _peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _control(url: str, path: str, body: dict) -> None:
    import json

    request = urllib.request.Request(url + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=5):  # noqa: S310 - the local emulator
        pass


def room_cases(settings, participants: int) -> list[Timing]:
    """Run the room once and report it as timings (plus failures and memory in the note).

    Each participant holds only the participant policy, and the emulator authorises like AWS
    (helpers/local/iam_enforcement.py): the instructor's `workshop create` makes the users with
    enforcement off, then it is switched on for the room, and off again for the sweep.
    """
    import tempfile

    import boto3

    from helpers import cleanup, workshop
    from helpers.local import iam_enforcement, stack

    stack.down(settings)  # a fresh emulator, so its peak memory is the room's
    stack.up(settings)
    stack.apply_local_env(settings)
    prefixes = [f"room-{i:02d}" for i in range(1, participants + 1)]
    account = boto3.client("sts").get_caller_identity()["Account"]
    with tempfile.TemporaryDirectory() as tmp:
        original = workshop.Workshop.folder
        workshop.Workshop.folder = staticmethod(lambda s: Path(tmp))
        try:
            workshop.create(settings, boto3.client("iam"), account, prefixes, yes=True, log=lambda _: None)
            keys = {prefix: workshop.seat_keys(settings, prefix) for prefix in prefixes}
            record = workshop.Workshop.load(settings)
        finally:
            workshop.Workshop.folder = original
    log(f"  room: {participants} participants doing lessons 01-04 at once, each under their own policy ...")
    _control(settings.moto_url, iam_enforcement.CONTROL_PATH, {"enforce": True})
    start = time.perf_counter()
    try:
        with ThreadPoolExecutor(max_workers=participants) as pool:
            problems = list(pool.map(lambda p: _participant(settings, p, keys[p]), prefixes))
    finally:
        wall = time.perf_counter() - start
        _control(settings.moto_url, iam_enforcement.CONTROL_PATH, {"enforce": False})
    failures = [(p, why) for p, why in zip(prefixes, problems, strict=True) if why]
    sweep_left = cleanup.clean(settings, yes=True, participants=prefixes, log=lambda _: None)
    if record is not None:
        workshop.delete_users(boto3.client("iam"), record, yes=True, log=lambda _: None)
    peak = _peak_rss_mib(stack.moto_pid(settings) or 0)
    for prefix, why in failures[:5]:
        log(f"    FAILED {prefix}: {why.splitlines()[0]}")
    log(
        f"    {wall:7.2f} s wall, {len(failures)} failure(s), sweep left {len(sweep_left)}, "
        f"emulator peak {peak or 0:.0f} MiB"
    )
    note = f"{len(failures)} failures; sweep left {len(sweep_left)}; emulator peak {peak or 0:.0f} MiB; own policies"
    return [
        Timing(
            f"Workshop room: {participants} participants at once",
            "lessons 01-04 per participant (threads, one stack, own policies)",
            participants,
            "participants",
            wall,
            note,
            {"failures": len(failures), "sweep_left": len(sweep_left), "emulator_peak_mib": peak},
        )
    ]
