"""Cleanup deletes exactly the series' resources of the chosen participants, and nothing else.

These tests run against a private emulator on a free port, the stack's launcher answering as AWS
does (its regions, its refusals) without AWS's waits (PostgreSQL comes from the shared local
stack), so `--all-participants --yes` can never reach resources of another test session or of a
developer using the same machine.
"""

from __future__ import annotations

import dataclasses
import urllib.request
from pathlib import Path

import boto3
import nbformat
import pytest
from support import aws_like_emulator, random_prefix

from helpers import cleanup
from helpers.names import Names

REPO = Path(__file__).resolve().parent.parent
ALL_KINDS = {cleanup.BUCKET, cleanup.TABLE, cleanup.DB_INSTANCE, cleanup.SECRET, cleanup.SECURITY_GROUP}


@pytest.fixture(scope="module")
def private_moto():
    with aws_like_emulator() as url:
        yield url


@pytest.fixture
def aws(local_stack, private_moto, monkeypatch):
    """Settings pointing at the private emulator, emptied before each test."""
    from helpers.settings import load_settings

    urllib.request.urlopen(urllib.request.Request(f"{private_moto}/moto-api/reset", method="POST"), timeout=10)
    monkeypatch.setenv("AWS_ENDPOINT_URL", private_moto)
    settings = load_settings()
    assert settings.endpoint_url == private_moto
    return settings


def for_prefix(settings, prefix: str):
    return dataclasses.replace(settings, prefix=prefix)


def create_resources(settings, names: Names, tags: list | None) -> dict:
    """Bucket (versioned, with versions and a delete marker), table, security group, DB instance."""
    extra = {"Tags": tags} if tags else {}
    s3, ddb, ec2, rds = (boto3.client(s) for s in ("s3", "dynamodb", "ec2", "rds"))
    s3.create_bucket(Bucket=names.bucket)
    if tags:
        s3.put_bucket_tagging(Bucket=names.bucket, Tagging={"TagSet": tags})
    s3.put_bucket_versioning(Bucket=names.bucket, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"a", b"b"):
        s3.put_object(Bucket=names.bucket, Key="test.txt", Body=body)
    s3.delete_object(Bucket=names.bucket, Key="test.txt")
    ddb.create_table(
        TableName=names.table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        **extra,
    )
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    spec = [{"ResourceType": "security-group", "Tags": tags}] if tags else []
    group = ec2.create_security_group(
        GroupName=names.security_group, Description="test", VpcId=vpc, TagSpecifications=spec
    )
    rds.create_db_instance(
        DBInstanceIdentifier=names.db_instance,
        DBInstanceClass="db.t4g.micro",
        Engine="postgres",
        MasterUsername="postgres",
        ManageMasterUserPassword=True,
        AllocatedStorage=20,
        VpcSecurityGroupIds=[group["GroupId"]],
        **extra,
    )
    return {"bucket": names.bucket, "table": names.table, "group": names.security_group, "db": names.db_instance}


class Untagged(Names):
    """Names that start with a participant's prefix, for resources created without the series' tags."""

    @property
    def bucket(self) -> str:
        return f"{self.prefix}-untagged-bucket"

    @property
    def db_instance(self) -> str:
        return f"{self.prefix}-untagged-db"

    @property
    def security_group(self) -> str:
        return f"{self.prefix}-untagged-sg"

    @property
    def table(self) -> str:
        return f"{self.prefix}-untagged-table"


def still_there(created: dict) -> dict[str, bool]:
    s3, ddb, ec2, rds = (boto3.client(s) for s in ("s3", "dynamodb", "ec2", "rds"))
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    tables = set(ddb.list_tables()["TableNames"])
    groups = {g["GroupName"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    dbs = {d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]}
    return {
        "bucket": created["bucket"] in buckets,
        "table": created["table"] in tables,
        "group": created["group"] in groups,
        "db": created["db"] in dbs,
    }


def world(settings):
    """Participants A and B with the series' resources, plus untagged look-alikes named with A's prefix."""
    a, b = random_prefix(), random_prefix()
    account = boto3.client("sts").get_caller_identity()["Account"]
    made = {
        "a": create_resources(settings, Names(a, account, settings.region), Names(a, account, settings.region).tags()),
        "b": create_resources(settings, Names(b, account, settings.region), Names(b, account, settings.region).tags()),
        "untagged": create_resources(settings, Untagged(a, account, settings.region), None),
    }
    # Tagged as B's, but named with A's prefix: the name guard must keep everyone's cleanup off it.
    odd = f"{a}-mislabelled"
    boto3.client("s3").create_bucket(Bucket=odd)
    boto3.client("s3").put_bucket_tagging(Bucket=odd, Tagging={"TagSet": Names(b, account, settings.region).tags()})
    return a, b, made, odd


def kinds(resources, participant: str) -> set[str]:
    return {r.kind for r in resources if r.participant == participant}


def test_dry_run_deletes_nothing(aws):
    a, b, made, odd = world(aws)
    found = cleanup.clean(for_prefix(aws, a), log=lambda _: None)
    assert kinds(found, a) == ALL_KINDS
    assert {r.participant for r in found} == {a}
    assert all(still_there(made["a"]).values())
    assert kinds(cleanup.find(aws, [a]), a) == ALL_KINDS


def test_clean_one_participant_leaves_others_and_untagged(aws):
    a, b, made, odd = world(aws)
    lines: list[str] = []
    left = cleanup.clean(for_prefix(aws, a), yes=True, log=lines.append)
    assert left == []
    assert not any(still_there(made["a"]).values())
    assert all(still_there(made["b"]).values())
    assert all(still_there(made["untagged"]).values())
    assert odd in {x["Name"] for x in boto3.client("s3").list_buckets()["Buckets"]}
    assert kinds(cleanup.find(aws, [b]), b) == ALL_KINDS
    assert not any(line.startswith("FAILED") for line in lines)
    # A second run finds nothing and deletes nothing.
    assert cleanup.clean(for_prefix(aws, a), yes=True, log=lambda _: None) == []


def test_all_participants_dry_run_then_yes(aws):
    a, b, made, odd = world(aws)
    found = cleanup.clean(aws, all_participants=True, log=lambda _: None)
    assert kinds(found, a) == ALL_KINDS and kinds(found, b) == ALL_KINDS
    assert odd not in {r.name for r in found}
    assert all(still_there(made["a"]).values()) and all(still_there(made["b"]).values())

    assert cleanup.clean(aws, yes=True, all_participants=True, log=lambda _: None) == []
    assert not any(still_there(made["a"]).values())
    assert not any(still_there(made["b"]).values())
    assert all(still_there(made["untagged"]).values())
    assert odd in {x["Name"] for x in boto3.client("s3").list_buckets()["Buckets"]}


def test_cli_clean_dry_run_and_yes(aws, monkeypatch, capsys):
    from helpers.__main__ import main

    a, b, made, odd = world(aws)
    monkeypatch.setenv("TUTORIAL_PREFIX", a)
    assert main(["clean"]) == 0
    assert "Dry run" in capsys.readouterr().out
    assert all(still_there(made["a"]).values())
    assert main(["clean", "--yes"]) == 0
    assert "Nothing of the series is left." in capsys.readouterr().out
    assert not any(still_there(made["a"]).values())
    assert all(still_there(made["b"]).values())
    assert main(["status"]) == 0
    assert "Nothing of the series was found." in capsys.readouterr().out


def run_lesson_04(tmp_path: Path) -> str:
    import papermill

    out = tmp_path / "04_out.ipynb"
    papermill.execute_notebook(
        str(REPO / "notebooks" / "04_cleanup.ipynb"), str(out), cwd=str(REPO / "notebooks"), progress_bar=False
    )
    nb = nbformat.read(out, as_version=4)
    return "".join(o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs)


def test_lesson_04_deletes_own_resources_only(aws, monkeypatch, tmp_path):
    a, b, made, odd = world(aws)
    monkeypatch.setenv("TUTORIAL_PREFIX", a)
    text = run_lesson_04(tmp_path)
    assert f"Nothing of the series is left for {a}." in text
    assert not any(still_there(made["a"]).values())
    assert all(still_there(made["b"]).values())
    assert all(still_there(made["untagged"]).values())


def test_lesson_04_leaves_untagged_resources_with_the_lessons_names(aws, monkeypatch, tmp_path):
    a = random_prefix()
    account = boto3.client("sts").get_caller_identity()["Account"]
    made = create_resources(aws, Names(a, account, aws.region), None)
    monkeypatch.setenv("TUTORIAL_PREFIX", a)
    text = run_lesson_04(tmp_path)
    assert text.count("is not provably ours: left alone") == 4
    assert all(still_there(made).values())


def failing_lesson(folder: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_code_cell("from helpers import setup\ntut = setup()"),
        nbformat.v4.new_code_cell(
            "import boto3\n"
            "name = tut.settings.prefix + '-runner-test'\n"
            "boto3.client('s3').create_bucket(Bucket=name)\n"
            "boto3.client('s3').put_bucket_tagging(Bucket=name, Tagging={'TagSet': tut.tags})\n"
            "boto3.client('s3').put_object(Bucket=name, Key='test.txt', Body=b'x')"
        ),
        nbformat.v4.new_code_cell("raise RuntimeError('this lesson fails on purpose')"),
    ]
    folder.mkdir()
    nbformat.write(nb, folder / "01_fails.ipynb")


@pytest.mark.parametrize("keep", [False, True])
def test_runner_cleans_up_even_when_a_lesson_fails(aws, monkeypatch, tmp_path, capsys, keep):
    from helpers.__main__ import main

    a, b, made, odd = world(aws)
    # A's resources now include what the failing lesson creates; B's must survive either way.
    failing_lesson(tmp_path / "lessons")
    monkeypatch.setenv("TUTORIAL_PREFIX", a)
    argv = ["run", "--notebooks-dir", str(tmp_path / "lessons"), "--output-dir", str(tmp_path / "out")]
    code = main(argv + (["--keep"] if keep else []))
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in out
    left = cleanup.find(for_prefix(aws, a), log=lambda _: None)
    if keep:
        assert kinds(left, a) == ALL_KINDS
        assert f"{a}-runner-test" in {r.name for r in left}
    else:
        assert left == []
        assert not any(still_there(made["a"]).values())
    assert all(still_there(made["b"]).values())
    assert all(still_there(made["untagged"]).values())


def test_unfinished_multipart_uploads_do_not_outlive_the_bucket(aws):
    names = Names(random_prefix(), "123456789012", aws.region)
    s3 = boto3.client("s3", region_name=aws.region)
    s3.create_bucket(Bucket=names.bucket)
    s3.put_object(Bucket=names.bucket, Key="done.csv", Body=b"name,age\n")
    upload = s3.create_multipart_upload(Bucket=names.bucket, Key="interrupted.csv")
    s3.upload_part(Bucket=names.bucket, Key="interrupted.csv", UploadId=upload["UploadId"], PartNumber=1, Body=b"x")
    aborted: list[str] = []
    s3.meta.events.register(
        "before-call.s3.AbortMultipartUpload", lambda params, **_: aborted.append(params["url_path"])
    )
    cleanup.empty_and_delete_bucket(s3, names.bucket)
    assert len(aborted) == 1 and "interrupted.csv" in aborted[0]
    assert names.bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_one_failure_does_not_stop_the_rest(aws, monkeypatch):
    a, b, made, odd = world(aws)

    def broken(s3, name):
        raise RuntimeError("simulated S3 outage")

    monkeypatch.setattr(cleanup, "empty_and_delete_bucket", broken)
    lines: list[str] = []
    left = cleanup.clean(for_prefix(aws, a), yes=True, log=lines.append)
    assert [r.kind for r in left] == [cleanup.BUCKET]
    assert any(line.startswith("FAILED") and "simulated S3 outage" in line for line in lines)
    assert still_there(made["a"]) == {"bucket": True, "table": False, "group": False, "db": False}


def other_region(settings) -> str:
    return "eu-west-1" if settings.region != "eu-west-1" else "us-west-2"


def bucket_and_table_in(region: str, names: Names) -> None:
    """The series' bucket and table, created under another AWS_DEFAULT_REGION."""
    s3 = boto3.client("s3", region_name=region)
    extra = {"CreateBucketConfiguration": {"LocationConstraint": region}} if region != "us-east-1" else {}
    s3.create_bucket(Bucket=names.bucket, **extra)
    s3.put_bucket_tagging(Bucket=names.bucket, Tagging={"TagSet": names.tags()})
    boto3.client("dynamodb", region_name=region).create_table(
        TableName=names.table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=names.tags(),
    )


def test_clean_finds_and_deletes_what_another_region_holds(aws, tmp_path):
    """A learner ran lesson 01 in one region and lesson 04 in another: both regions are searched."""
    from helpers import regions

    a = random_prefix()
    mine = dataclasses.replace(aws, prefix=a, state_dir=tmp_path)
    away = dataclasses.replace(mine, region=other_region(aws))
    account = boto3.client("sts").get_caller_identity()["Account"]
    bucket_and_table_in(mine.region, Names(a, account, mine.region))
    bucket_and_table_in(away.region, Names(a, account, away.region))
    regions.remember(away)
    regions.remember(mine)
    lines: list[str] = []
    found = cleanup.clean(mine, log=lines.append)
    assert {(r.kind, r.region) for r in found} == {
        (kind, region) for kind in (cleanup.BUCKET, cleanup.TABLE) for region in (mine.region, away.region)
    }
    searched = ", ".join(sorted({mine.region, away.region}))
    assert f"Searched regions: {searched}" in "\n".join(lines)
    assert cleanup.clean(mine, yes=True, log=lambda _: None) == []
    assert (
        Names(a, account, away.region).table
        not in boto3.client("dynamodb", region_name=away.region).list_tables()["TableNames"]
    )


def test_status_says_which_regions_it_searched(aws, tmp_path):
    from helpers import regions
    from helpers.__main__ import alive_report

    a = random_prefix()
    mine = dataclasses.replace(aws, prefix=a, state_dir=tmp_path)
    away = dataclasses.replace(mine, region=other_region(aws))
    account = boto3.client("sts").get_caller_identity()["Account"]
    bucket_and_table_in(away.region, Names(a, account, away.region))
    before = alive_report(mine)
    assert f"Searched regions: {mine.region}" in before and "Nothing of the series was found." in before
    assert "--all-regions" in before
    regions.remember(away)
    after = alive_report(mine)
    assert Names(a, account, away.region).bucket in after
    assert f"Searched regions: {', '.join(sorted({mine.region, away.region}))}" in after


def test_all_regions_finds_a_region_never_recorded(aws, tmp_path):
    a = random_prefix()
    mine = dataclasses.replace(aws, prefix=a, state_dir=tmp_path)
    away = other_region(aws)
    account = boto3.client("sts").get_caller_identity()["Account"]
    bucket_and_table_in(away, Names(a, account, away))
    assert cleanup.clean(mine, log=lambda _: None) == []
    lines: list[str] = []
    found = cleanup.clean(mine, all_regions=True, log=lines.append)
    assert {r.region for r in found} == {away}
    assert away in found.regions and len(found.regions) > 2


def test_all_regions_also_searches_a_used_region_that_is_not_listed_as_enabled(aws, tmp_path):
    """af-south-1 is an opt-in region: DescribeRegions leaves it out until the account enables it.
    A learner who worked there (recorded as used) and runs `clean --all-regions` from another region
    must still have it searched."""
    from helpers import regions

    a = random_prefix()
    mine = dataclasses.replace(aws, prefix=a, state_dir=tmp_path)
    account = boto3.client("sts").get_caller_identity()["Account"]
    regions.remember(dataclasses.replace(mine, region="af-south-1"))
    bucket_and_table_in("af-south-1", Names(a, account, "af-south-1"))
    enabled = {r["RegionName"] for r in boto3.client("ec2", region_name=aws.region).describe_regions()["Regions"]}
    assert "af-south-1" not in enabled
    found = cleanup.clean(mine, all_regions=True, log=lambda _: None)
    assert {r.region for r in found} == {"af-south-1"} and "af-south-1" in found.regions


def test_setup_remembers_the_region_it_ran_in(monkeypatch, tmp_path):
    from types import SimpleNamespace

    import helpers
    from helpers import aws as helper_aws
    from helpers import regions
    from helpers.local import stack
    from helpers.settings import load_settings

    monkeypatch.setenv("TUTORIAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setattr(stack, "is_up", lambda settings: True)
    monkeypatch.setattr(stack, "apply_local_env", lambda settings: None)
    identity = SimpleNamespace(account_id="123456789012", arn="arn:aws:iam::123456789012:root", endpoint_url="")
    monkeypatch.setattr(helper_aws, "whoami", lambda settings: identity)
    helpers.setup(quiet=True)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    assert regions.used(load_settings()) == ["eu-west-1", "us-west-2"]


# --------------------------------------------------------------------------- emptying a bucket


class PagedBucket:
    """A versioned bucket held in memory, listed in pages of at most 1,000 the way a service pages.

    ``markers="position"`` pages as S3 does: a marker is a position in the sorted listing, valid
    even when the version it names was deleted since
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html).
    ``markers="lookup"`` pages as moto did: it looks the marker up among the versions that still
    exist and answers nothing when it is gone. Code that empties a bucket must be right with both.
    """

    def __init__(self, entries: int, uploads: int = 0, markers: str = "position"):
        self.versions = {(f"key-{i // 3:05d}", f"v{i % 3}") for i in range(entries)}
        self.markers_sent: list[dict] = []
        self.uploads = {(f"part-{i:05d}", f"u{i}") for i in range(uploads)}
        self.markers = markers
        self.batches: list[int] = []
        self.deleted = False

    def _page(self, items: set, key_marker: str | None, second_marker: str | None, limit: int = 1000):
        ordered = sorted(items)
        start = 0
        if key_marker is not None:
            mark = (key_marker, second_marker or "")
            if self.markers == "lookup":
                present = mark in items if second_marker else key_marker in {key for key, _ in items}
                if not present:
                    return [], False
            start = next((i for i, item in enumerate(ordered) if item > mark), len(ordered))
        page = ordered[start : start + limit]
        return page, start + limit < len(ordered)

    def list_object_versions(self, Bucket, KeyMarker=None, VersionIdMarker=None):  # noqa: N803 - boto3's names
        if KeyMarker is not None:
            self.markers_sent.append({"KeyMarker": KeyMarker, "VersionIdMarker": VersionIdMarker})
        page, truncated = self._page(self.versions, KeyMarker, VersionIdMarker)
        answer = {"Versions": [{"Key": k, "VersionId": v} for k, v in page], "IsTruncated": truncated}
        if truncated:
            answer |= {"NextKeyMarker": page[-1][0], "NextVersionIdMarker": page[-1][1]}
        return answer

    def delete_objects(self, Bucket, Delete):  # noqa: N803
        objects = Delete["Objects"]
        assert len(objects) <= 1000, "DeleteObjects takes at most 1,000 keys"
        self.batches.append(len(objects))
        self.versions -= {(o["Key"], o["VersionId"]) for o in objects}
        return {}

    def list_multipart_uploads(self, Bucket, KeyMarker=None, UploadIdMarker=None):  # noqa: N803
        if KeyMarker is not None:
            self.markers_sent.append({"KeyMarker": KeyMarker, "UploadIdMarker": UploadIdMarker})
        page, truncated = self._page(self.uploads, KeyMarker, UploadIdMarker)
        answer = {"Uploads": [{"Key": k, "UploadId": u} for k, u in page], "IsTruncated": truncated}
        if truncated:
            answer |= {"NextKeyMarker": page[-1][0], "NextUploadIdMarker": page[-1][1]}
        return answer

    def abort_multipart_upload(self, Bucket, Key, UploadId):  # noqa: N803
        self.uploads.discard((Key, UploadId))

    def delete_bucket(self, Bucket):  # noqa: N803
        from botocore.exceptions import ClientError

        if self.versions or self.uploads:
            raise ClientError({"Error": {"Code": "BucketNotEmpty", "Message": "not empty"}}, "DeleteBucket")
        self.deleted = True

    def get_paginator(self, operation: str):
        """Pages on with the Next markers, as botocore's paginators do."""
        bucket = self
        names = {
            "list_object_versions": ("NextKeyMarker", "KeyMarker", "NextVersionIdMarker", "VersionIdMarker"),
            "list_multipart_uploads": ("NextKeyMarker", "KeyMarker", "NextUploadIdMarker", "UploadIdMarker"),
        }[operation]

        class Paginator:
            def paginate(self, **kwargs):
                while True:
                    page = getattr(bucket, operation)(**kwargs)
                    yield page
                    if not page.get("IsTruncated"):
                        return
                    kwargs = {**kwargs, names[1]: page[names[0]], names[3]: page[names[2]]}

        return Paginator()


@pytest.mark.parametrize("markers", ["position", "lookup"])
def test_a_bucket_is_emptied_and_deleted_however_the_service_treats_markers(markers):
    bucket = PagedBucket(entries=7_500, uploads=1_500, markers=markers)
    cleanup.empty_and_delete_bucket(bucket, "ws-10-0badcafe-data")
    assert bucket.deleted and not bucket.versions and not bucket.uploads
    assert bucket.markers_sent == [], "a listing that deletes as it goes must not page on with markers"
    assert bucket.batches == [1000] * 7 + [500]


def test_emptying_stops_when_deleted_versions_are_listed_again():
    """Bounded: a service that accepts DeleteObjects but keeps the versions gives an error, not a loop."""

    class Forgetful(PagedBucket):
        def delete_objects(self, Bucket, Delete):  # noqa: N803
            return {}

    with pytest.raises(RuntimeError, match="listed again"):
        cleanup.empty_and_delete_bucket(Forgetful(entries=10), "ws-10-0badcafe-data")


def test_a_refused_delete_names_the_key_and_the_reason():
    class Refusing(PagedBucket):
        def delete_objects(self, Bucket, Delete):  # noqa: N803
            key = Delete["Objects"][0]["Key"]
            return {"Errors": [{"Key": key, "Code": "AccessDenied", "Message": "Access Denied"}]}

    with pytest.raises(RuntimeError, match="key-00000: AccessDenied Access Denied"):
        cleanup.empty_and_delete_bucket(Refusing(entries=10), "ws-10-0badcafe-data")


@pytest.mark.timeout(240)
def test_a_versioned_bucket_of_2500_objects_is_emptied_and_deleted_on_the_emulator(aws):
    """2,500 keys; every fifth with a second version and then a delete marker; an unfinished
    upload: 3,500 entries, four pages, with keys whose versions straddle a page's end. moto looks a
    marker up among the versions that still exist, so deleting page by page while paging on left
    1,000 versions and the bucket behind. The emulator pages as S3 does; this runs on moto's own
    paging (the emulator's limits switched off), so cleanup is proven where paging is least kind."""
    from helpers.local import aws_limits

    control = urllib.request.Request(
        aws.endpoint_url + aws_limits.CONTROL_PATH, data=b'{"enabled": false}', method="POST"
    )
    urllib.request.urlopen(control, timeout=10)  # noqa: S310 - this module's own emulator
    try:
        bucket_of_2500_versions_emptied(aws)
    finally:
        control.data = b'{"enabled": true}'
        urllib.request.urlopen(control, timeout=10)  # noqa: S310


def bucket_of_2500_versions_emptied(aws) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from botocore.config import Config

    name = Names(random_prefix(), "123456789012", aws.region).bucket
    s3 = boto3.client("s3", region_name=aws.region, config=Config(max_pool_connections=8))
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})

    def write(i: int) -> None:
        key = f"data/part-{i:05d}.csv"
        for body in (b"a", b"b") if i % 5 == 0 else (b"a",):
            s3.put_object(Bucket=name, Key=key, Body=body)
        if i % 5 == 0:
            s3.delete_object(Bucket=name, Key=key)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(write, range(2_500)))
    s3.create_multipart_upload(Bucket=name, Key="data/interrupted.csv")
    listed = sum(
        len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=name)
    )
    assert listed == 3_500
    cleanup.empty_and_delete_bucket(s3, name)
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


# --------------------------------------------------------------------------- lesson 06: Glue and Athena

LAKE_KINDS = {cleanup.GLUE_DATABASE, cleanup.WORKGROUP}


def lake_resources(prefix: str, tags: list | None, *, database: str | None = None, workgroup: str | None = None):
    """Lesson 06's Glue database (with a partitioned table and one partition) and Athena workgroup."""
    from helpers.names import athena_workgroup, glue_database

    glue, athena = boto3.client("glue"), boto3.client("athena")
    database = database or glue_database(prefix)
    glue.create_database(
        DatabaseInput={"Name": database}, **({"Tags": {t["Key"]: t["Value"] for t in tags}} if tags else {})
    )
    columns = [{"Name": "fare", "Type": "double"}]
    storage = {"Columns": columns, "Location": f"s3://{prefix}-data/trips/"}
    partition_keys = [{"Name": "year", "Type": "string"}]
    glue.create_table(
        DatabaseName=database,
        TableInput={"Name": "trips", "StorageDescriptor": storage, "PartitionKeys": partition_keys},
    )
    glue.create_partition(
        DatabaseName=database,
        TableName="trips",
        PartitionInput={
            "Values": ["2024"],
            "StorageDescriptor": {**storage, "Location": storage["Location"] + "year=2024/"},
        },
    )
    workgroup = workgroup or athena_workgroup(prefix)
    athena.create_work_group(Name=workgroup, **({"Tags": tags} if tags else {}))
    return database, workgroup


def lake_world():
    """ws-10 and ws-100 (whose names extend ws-10's) with lesson 06's resources, and decoys: a
    database named like nobody's but tagged as ws-10's, an untagged ``ws-10-`` workgroup, and Athena's
    own ``primary`` workgroup."""
    account = boto3.client("sts").get_caller_identity()["Account"]
    tags = {p: Names(p, account, "us-east-1").tags() for p in ("ws-10", "ws-100")}
    made = {p: lake_resources(p, tags[p]) for p in ("ws-10", "ws-100")}
    boto3.client("glue").create_database(
        DatabaseInput={"Name": "sales_lake"}, Tags={t["Key"]: t["Value"] for t in tags["ws-10"]}
    )
    boto3.client("athena").create_work_group(Name="ws-10-adhoc")
    return made


def lake_left() -> tuple[set[str], set[str]]:
    databases = {d["Name"] for d in boto3.client("glue").get_databases()["DatabaseList"]}
    workgroups = {w["Name"] for w in boto3.client("athena").list_work_groups()["WorkGroups"]}
    return databases, workgroups


def test_lesson_06s_database_and_workgroup_are_found_for_their_participant_only(aws):
    made = lake_world()
    mine = cleanup.find(for_prefix(aws, "ws-10"), log=lambda _: None)
    assert {(r.kind, r.name) for r in mine} == {
        (cleanup.GLUE_DATABASE, "ws_10_lake"),
        (cleanup.WORKGROUP, "ws-10-lake"),
    }, mine
    assert mine.complete and {r.participant for r in mine} == {"ws-10"}
    everyone = cleanup.find(aws, all_participants=True, log=lambda _: None)
    assert {(r.participant, r.name) for r in everyone} == {
        (p, name) for p, names in made.items() for name in names
    }  # never sales_lake, ws-10-adhoc or primary
    assert not any(r.billable for r in everyone)  # catalog entries and a workgroup cost nothing by themselves


def test_clean_deletes_the_database_with_its_tables_and_the_workgroup_and_nothing_else(aws):
    lake_world()
    lines: list[str] = []
    left = cleanup.clean(for_prefix(aws, "ws-10"), yes=True, log=lines.append)
    assert left == [] and left.complete, lines
    assert "Nothing of the series is left." in "\n".join(lines)
    databases, workgroups = lake_left()
    assert databases == {"ws_100_lake", "sales_lake"}
    assert workgroups >= {"ws-100-lake", "ws-10-adhoc", "primary"} and "ws-10-lake" not in workgroups
    glue = boto3.client("glue")
    with pytest.raises(glue.exceptions.EntityNotFoundException):  # the table went with its database
        glue.get_table(DatabaseName="ws_10_lake", Name="trips")
    assert glue.get_partitions(DatabaseName="ws_100_lake", TableName="trips")["Partitions"]
    assert cleanup.clean(for_prefix(aws, "ws-10"), yes=True, log=lambda _: None) == []  # nothing the second time


def test_an_untagged_database_with_a_participants_name_is_never_touched(aws):
    """The name alone proves nothing: a ``ws_10_lake`` made by hand, without the series' tags, stays."""
    lake_resources("ws-10", None)
    assert cleanup.find(for_prefix(aws, "ws-10"), log=lambda _: None) == []
    assert cleanup.clean(aws, yes=True, all_participants=True, log=lambda _: None) == []
    databases, workgroups = lake_left()
    assert "ws_10_lake" in databases and "ws-10-lake" in workgroups


def test_a_participant_without_lesson_06_sees_no_change(aws):
    """Before lesson 06 (or after its cleanup) the listing is what it always was."""
    lines: list[str] = []
    assert cleanup.clean(for_prefix(aws, "ws-10"), log=lines.append) == []
    assert "Nothing of the series was found." in "\n".join(lines)


def test_lesson_04_deletes_lesson_06s_database_and_workgroup_and_nobody_elses(aws, monkeypatch, tmp_path):
    lake_world()
    untagged = lake_resources("ws-11", None)  # lesson 06's names for ws-11, made by hand without tags
    monkeypatch.setenv("TUTORIAL_PREFIX", "ws-10")
    text = run_lesson_04(tmp_path)
    assert "glue database ws_10_lake: deleted, with its tables" in text
    assert "athena workgroup ws-10-lake: deleted" in text
    assert "Nothing of the series is left for ws-10." in text
    databases, workgroups = lake_left()
    assert databases == {"ws_100_lake", "sales_lake", untagged[0]}
    assert {"ws-100-lake", "ws-10-adhoc", untagged[1]} <= workgroups and "ws-10-lake" not in workgroups
    monkeypatch.setenv("TUTORIAL_PREFIX", "ws-11")
    text = run_lesson_04(tmp_path)
    assert "ws_11_lake exists but is not provably ours: left alone" in text
    assert untagged[0] in lake_left()[0]
