"""Tests for lesson 01's S3 code: CSV validation, the refused-upload path, and bucket creation.

The bucket-creation and CSV-checking functions live in the notebook (they are the lesson), so the
tests execute those very cells (tagged ``ensure-bucket``, ``validate-csv``) rather than copies; ensure_bucket
runs against the local stack in ``us-east-1`` and in other regions.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import boto3
import nbformat
import pytest

from helpers.cleanup import empty_and_delete_bucket
from helpers.errors import TutorialError

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "01_s3.ipynb"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the lesson's CSV check (its cell tagged validate-csv) -----------------------------------


def validate_people_csv(path):
    """The lesson's own function, from its cell, with the names the lesson imported before it."""
    import pandas as pd

    return lesson_function("validate_people_csv", "validate-csv", pd=pd, Path=Path, TutorialError=TutorialError)(path)


def test_valid_csv_is_parsed_with_types(tmp_path):
    frame = validate_people_csv(write(tmp_path, "ok.csv", "name,age\nabe,31\nbea,5\n"))
    assert list(frame.columns) == ["name", "age"]
    assert frame["age"].tolist() == [31, 5]
    assert str(frame["age"].dtype) == "int64"
    assert frame["name"].tolist() == ["abe", "bea"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name,years\neve,42\n", "has columns ['name', 'years'], expected ['name', 'age']"),
        ("age,name\n42,eve\n", "has columns ['age', 'name']"),
        ("name,age,city\neve,42,x\n", "has columns ['name', 'age', 'city']"),
        ("name,age\nfay,forty\n", "line 2: 'fay', 'forty'"),
        ("name,age\nfay,4.5\n", "line 2: 'fay', '4.5'"),
        ("name,age\nfay,\n", "line 2: 'fay', ''"),
        ("name,age\nabe,1\n,7\n", "line 3: '', '7'"),
    ],
)
def test_malformed_csv_is_refused_with_a_reason(tmp_path, text, expected):
    path = write(tmp_path, "bad.csv", text)
    with pytest.raises(TutorialError) as caught:
        validate_people_csv(path)
    assert expected in caught.value.problem
    assert "bad.csv" in caught.value.problem
    assert caught.value.fix


# --- against the local stack ----------------------------------------------------------------


def lesson_function(name: str, tag: str, **names):
    """Execute the notebook cell tagged ``tag`` (with ``names`` defined, as earlier cells would)
    and return the function ``name`` it defines."""
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in notebook.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"expected one cell tagged {tag!r} in {NOTEBOOK.name}"
    namespace: dict = dict(names)
    exec(compile(cells[0].source, f"{NOTEBOOK.name}[{tag}]", "exec"), namespace)  # noqa: S102
    return namespace[name]


def unique_bucket(settings, label: str) -> str:
    return f"{settings.prefix}-test-{label}-{secrets.token_hex(3)}"


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1", "ap-southeast-2"])
def test_ensure_bucket_creates_in_the_region_and_is_idempotent(local_stack, region):
    ensure_bucket = lesson_function("ensure_bucket", "ensure-bucket")
    s3 = boto3.client("s3", region_name=region)
    name = unique_bucket(local_stack, region.replace("-", ""))
    try:
        assert ensure_bucket(s3, name, region) == "created"
        location = s3.get_bucket_location(Bucket=name)["LocationConstraint"]
        # S3 reports us-east-1 as None (no LocationConstraint), every other region by name.
        assert location == (None if region == "us-east-1" else region)
        assert ensure_bucket(s3, name, region) == "exists"
    finally:
        empty_and_delete_bucket(s3, name)


def test_ensure_bucket_treats_a_concurrent_create_as_exists(local_stack):
    """HeadBucket says 404, then CreateBucket finds the bucket already ours (a race)."""
    ensure_bucket = lesson_function("ensure_bucket", "ensure-bucket")
    region = "eu-west-1"
    s3 = boto3.client("s3", region_name=region)
    name = unique_bucket(local_stack, "race")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})

    class HeadSays404:
        exceptions = s3.exceptions

        def head_bucket(self, **kwargs):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "404", "Message": "Not Found"}}, "HeadBucket")

        def create_bucket(self, **kwargs):
            return s3.create_bucket(**kwargs)

    try:
        assert ensure_bucket(HeadSays404(), name, region) == "exists"
    finally:
        empty_and_delete_bucket(s3, name)


def test_ensure_bucket_explains_a_name_owned_by_someone_else():
    ensure_bucket = lesson_function("ensure_bucket", "ensure-bucket")

    class HeadSays403:
        def head_bucket(self, **kwargs):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadBucket")

    with pytest.raises(TutorialError, match="taken by another AWS account"):
        ensure_bucket(HeadSays403(), "some-bucket", "us-east-1")


def test_refused_csv_never_reaches_the_bucket(local_stack, tmp_path):
    """The lesson validates, then uploads only what passed: a refused file never reaches the bucket."""
    s3 = boto3.client("s3", region_name=local_stack.region)
    name = unique_bucket(local_stack, "csv")
    s3.create_bucket(Bucket=name)
    try:
        good = write(tmp_path, "file1.csv", "name,age\nabe,31\nbea,5\n")
        bad = write(tmp_path, "bad.csv", "name,age\nfay,forty\n")
        for path in (good, bad):
            try:
                validate_people_csv(path)
            except TutorialError as exc:
                assert "forty" in exc.problem
                continue
            s3.upload_file(str(path), name, f"csv/{path.name}")

        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=name).get("Contents", [])]
        assert keys == ["csv/file1.csv"]
        body = s3.get_object(Bucket=name, Key="csv/file1.csv")["Body"].read()
        assert body == good.read_bytes()
    finally:
        empty_and_delete_bucket(s3, name)


# --- the AWS CLI the lesson's `!aws` cells run ----------------------------------------------


def test_setup_puts_the_pinned_cli_first_on_path(monkeypatch):
    """A kernel's PATH often lacks the venv's bin folder; setup() must add it so `!aws` is ours."""
    import shutil
    import sys

    from helpers import _put_interpreter_scripts_on_path

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    _put_interpreter_scripts_on_path()
    _put_interpreter_scripts_on_path()  # idempotent: added once
    scripts = str(Path(sys.executable).parent)
    assert os.environ["PATH"].split(os.pathsep).count(scripts) == 1
    found = shutil.which("aws")
    assert found is not None and Path(found).parent == Path(scripts)


def test_aws_cli_honours_aws_endpoint_url(local_stack, tmp_path):
    """`aws s3 ls` with no endpoint flag must reach the same backend as boto3 (AWS_ENDPOINT_URL)."""
    import subprocess
    import sys

    s3 = boto3.client("s3", region_name=local_stack.region)
    name = unique_bucket(local_stack, "cli")
    s3.create_bucket(Bucket=name)
    try:
        s3.put_object(Bucket=name, Key="python/test.py", Body=b"print('hi')\n")
        cli = Path(sys.executable).parent / "aws"
        result = subprocess.run(
            [str(cli), "s3", "ls", f"s3://{name}"], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        assert "PRE python/" in result.stdout
    finally:
        empty_and_delete_bucket(s3, name)
