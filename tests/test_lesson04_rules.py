"""Lesson 04 writes out, to teach them, two rules the helpers own: "is this resource ours?"
(helpers.names.series_participant) and "empty a bucket, then delete it"
(helpers.cleanup.empty_and_delete_bucket). These tests run the lesson's own definitions, taken
from the notebook, against the owners on the same cases, so the lesson cannot drift into
teaching a weaker rule than the command enforces.
"""

from __future__ import annotations

import ast
from types import SimpleNamespace

import boto3
import nbformat
import pytest
from support import in_process_moto

from helpers.cleanup import empty_and_delete_bucket
from helpers.names import PARTICIPANT_TAG_KEY, SERIES_TAG_KEY, SERIES_TAG_VALUE, Names, series_participant
from helpers.runner import NOTEBOOK_DIR

PREFIX = "ws-alice"


def lesson_definitions(**namespace) -> dict:
    """The functions lesson 04 defines, with the constants they read (no call, no print, no AWS request)."""
    nb = nbformat.read(NOTEBOOK_DIR / "04_cleanup.ipynb", as_version=4)
    source = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    constants = {"OUR_TAGS", "PREFIX"}

    def wanted(node: ast.stmt) -> bool:
        if isinstance(node, ast.Assign):
            return {getattr(t, "id", None) for t in node.targets} <= constants
        return isinstance(node, ast.FunctionDef | ast.Import | ast.ImportFrom)

    kept = [node for node in ast.parse(source).body if wanted(node)]
    exec(compile(ast.Module(body=kept, type_ignores=[]), "04_cleanup.ipynb", "exec"), namespace)  # noqa: S102
    return namespace


def tags(series: str | None = SERIES_TAG_VALUE, participant: str | None = PREFIX, **extra) -> list[dict]:
    found = {SERIES_TAG_KEY: series, PARTICIPANT_TAG_KEY: participant, **extra}
    return [{"Key": k, "Value": v} for k, v in found.items() if v is not None]


OURS = Names(PREFIX, "123456789012", "us-east-1")
TUT = SimpleNamespace(tags=OURS.tags(), settings=SimpleNamespace(prefix=PREFIX))  # what setup() hands the lesson
CASES = {
    "the series' own bucket": (OURS.bucket, tags()),
    "the series' own table, with a tag of someone's": (OURS.table, tags(team="data")),
    "same name, no tags (made by hand)": (OURS.bucket, []),
    "same name, only the series tag": (OURS.table, tags(participant=None)),
    "same name, another participant's tags": (OURS.db_instance, tags(participant="ws-bob")),
    "our tags copied onto another name": ("ws-bob-users", tags()),
    "our tags on an unrelated name": ("billing-reports", tags()),
    "a look-alike series tag value": (OURS.security_group, tags(series="aws-storage-for-data-science-v2")),
    "another participant's own resource": ("ws-bob-users", tags(participant="ws-bob")),
}


# Prefixes that extend one another (a workshop of up to 200 has ws-10 and ws-100): "starts with the
# prefix" must mean the prefix and a hyphen, or ws-10 claims ws-100's resources.
LOOK_ALIKES = {
    "ws-10's own table": ("ws-10", "ws-10-users", tags(participant="ws-10")),
    "ws-100's own table, seen by ws-10": ("ws-10", "ws-100-users", tags(participant="ws-100")),
    "ws-100's table carrying ws-10's tags": ("ws-10", "ws-100-users", tags(participant="ws-10")),
    "ws-100's bucket carrying ws-10's tags": (
        "ws-10",
        Names("ws-100", "123456789012", "us-east-1").bucket,
        tags(participant="ws-10"),
    ),
    "a name running on from the prefix, no hyphen": ("ws-10", "ws-10users", tags(participant="ws-10")),
    "ws-100's own table": ("ws-100", "ws-100-users", tags(participant="ws-100")),
    "ws-10's table carrying ws-100's tags": ("ws-100", "ws-10-users", tags(participant="ws-100")),
}


def tut_for(prefix: str) -> SimpleNamespace:
    """What setup() hands the lesson, for participant ``prefix``."""
    return SimpleNamespace(
        tags=Names(prefix, "123456789012", "us-east-1").tags(), settings=SimpleNamespace(prefix=prefix)
    )


@pytest.mark.parametrize("case", list(CASES))
def test_the_lesson_and_the_owner_agree_on_what_is_ours(case):
    name, tag_list = CASES[case]
    lesson = lesson_definitions(tut=TUT)
    owner = series_participant(tag_list, name, {PREFIX}) is not None
    assert lesson["is_ours"](name, tag_list) == owner


@pytest.mark.parametrize("case", list(LOOK_ALIKES))
def test_the_lesson_and_the_owner_agree_on_prefixes_that_extend_one_another(case):
    prefix, name, tag_list = LOOK_ALIKES[case]
    lesson = lesson_definitions(tut=tut_for(prefix))
    owner = series_participant(tag_list, name, {prefix}) is not None
    assert lesson["is_ours"](name, tag_list) == owner
    # and both give the right answer: the resource carries the prefix's tags and its name starts "<prefix>-"
    participant = {t["Key"]: t["Value"] for t in tag_list}[PARTICIPANT_TAG_KEY]
    assert owner == (participant == prefix and name.startswith(prefix + "-"))


def test_the_cases_cover_both_answers():
    answers = {series_participant(t, n, {PREFIX}) is not None for n, t in CASES.values()}
    assert answers == {True, False}


def test_the_lesson_and_the_owner_empty_a_bucket_alike():
    """Versions, a delete marker and an unfinished multipart upload: both leave no bucket behind."""
    with in_process_moto() as url:
        s3 = boto3.client(
            "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
        )
        for bucket in ("lesson-way-bucket", "owner-way-bucket"):
            s3.create_bucket(Bucket=bucket)
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
            for body in (b"one", b"two"):
                s3.put_object(Bucket=bucket, Key="data.csv", Body=body)
            s3.delete_object(Bucket=bucket, Key="data.csv")
            s3.create_multipart_upload(Bucket=bucket, Key="big.bin")
        lesson = lesson_definitions(s3=s3, tut=TUT)
        lesson["empty_and_delete"]("lesson-way-bucket")
        empty_and_delete_bucket(s3, "owner-way-bucket")
        left = {b["Name"] for b in s3.list_buckets()["Buckets"]}
        assert not left & {"lesson-way-bucket", "owner-way-bucket"}


# Lesson 06's Glue database cannot be named "<prefix>-...": the lesson's rule is its exact name.
DATABASES = {
    "ws-10's own database": ("ws-10", "ws_10_lake", tags(participant="ws-10")),
    "ws-100's database, seen by ws-10": ("ws-10", "ws_100_lake", tags(participant="ws-100")),
    "ws-100's database carrying ws-10's tags": ("ws-10", "ws_100_lake", tags(participant="ws-10")),
    "ws-10's tags on another database": ("ws-10", "sales_lake", tags(participant="ws-10")),
    "ws-10's name, no tags (made by hand)": ("ws-10", "ws_10_lake", []),
    "ws-10's name, ws-100's tags": ("ws-10", "ws_10_lake", tags(participant="ws-100")),
    "ws-100's own database": ("ws-100", "ws_100_lake", tags(participant="ws-100")),
}


@pytest.mark.parametrize("case", list(DATABASES))
def test_the_lesson_and_the_owner_agree_on_which_glue_database_is_ours(case):
    from helpers.names import glue_database, glue_database_belongs_to

    prefix, name, tag_list = DATABASES[case]
    lesson = lesson_definitions(tut=tut_for(prefix))
    as_glue_gives_them = {t["Key"]: t["Value"] for t in tag_list}  # GetTags answers a dict
    owner = series_participant(tag_list, name, {prefix}, owns=glue_database_belongs_to) is not None
    assert lesson["is_our_database"](name, as_glue_gives_them) == owner
    participant = as_glue_gives_them.get(PARTICIPANT_TAG_KEY)
    assert owner == (participant == prefix and name == glue_database(prefix))
