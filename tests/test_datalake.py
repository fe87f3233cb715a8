"""Lesson 06's plumbing (helpers.datalake) and names (helpers.names): DuckDB reads the series'
bucket through the endpoint and keys boto3 uses, offline, and the Glue names follow Athena's rules."""

from __future__ import annotations

import boto3
import pandas as pd
import pytest
from support import in_process_moto, use_moto

from helpers import datalake
from helpers.errors import TutorialError
from helpers.names import (
    Names,
    athena_workgroup,
    glue_database,
    glue_database_belongs_to,
    glue_database_problems,
    series_participant,
)


@pytest.fixture(scope="module")
def moto_url():
    with in_process_moto() as url:
        yield url


@pytest.fixture
def bucket(moto_url, monkeypatch) -> str:
    use_moto(monkeypatch, moto_url)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake-test-bucket")
    return "lake-test-bucket"


# ---------------------------------------------------------------------------------- the secret


def test_the_secret_uses_the_local_endpoint_path_style_and_plain_http(bucket, moto_url):
    options = datalake.s3_secret_options()
    assert options["ENDPOINT"] == moto_url.removeprefix("http://")
    assert options["URL_STYLE"] == "path"
    assert options["USE_SSL"] == "false"
    assert (options["KEY_ID"], options["SECRET"], options["REGION"]) == ("test", "test", "us-east-1")
    assert "SESSION_TOKEN" not in options


def test_an_s3_only_endpoint_wins_over_the_general_one(bucket, monkeypatch):
    # botocore reads AWS_ENDPOINT_URL_S3 before AWS_ENDPOINT_URL (feature-ss-endpoints.html)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1")
    assert datalake.s3_secret_options()["ENDPOINT"] == "127.0.0.1:1"


def test_on_aws_the_secret_uses_the_regional_endpoint_virtual_hosted_and_the_session_token(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    session = boto3.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x", aws_session_token="tok", region_name="eu-west-1"
    )
    options = datalake.s3_secret_options(session)
    assert options["ENDPOINT"] == "s3.eu-west-1.amazonaws.com"
    assert (options["URL_STYLE"], options["USE_SSL"]) == ("vhost", "true")
    assert (options["REGION"], options["SESSION_TOKEN"]) == ("eu-west-1", "tok")


def test_no_credentials_is_a_sentence_not_a_traceback(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(TutorialError, match="no AWS credentials"):
        datalake.s3_secret_options(boto3.Session(region_name="us-east-1"))


def test_a_quote_in_a_value_cannot_end_the_sql_string():
    sql = datalake.s3_secret_sql({"KEY_ID": "a'b", "USE_SSL": "false"})
    assert "KEY_ID 'a''b'" in sql and "USE_SSL false" in sql
    assert sql.startswith("CREATE OR REPLACE TEMPORARY SECRET")


# ---------------------------------------------------------------------------------- DuckDB on S3


def test_duckdb_reads_and_writes_the_bucket_offline(bucket):
    frame = pd.DataFrame({"day": pd.to_datetime(["2024-05-01", "2024-05-02"]), "n": [1, 2]})
    frame.to_parquet(f"s3://{bucket}/t.parquet", index=False)  # s3fs, endpoint from the environment
    con = datalake.duckdb_connect()
    try:
        assert con.sql(f"SELECT sum(n) FROM 's3://{bucket}/t.parquet'").fetchone() == (3,)
        con.execute(f"COPY (SELECT 41 + 1 AS answer) TO 's3://{bucket}/answer.csv' (HEADER)")
        assert con.sql("SELECT current_setting('autoinstall_known_extensions')").fetchone() == (False,)
    finally:
        con.close()
    assert boto3.client("s3").get_object(Bucket=bucket, Key="answer.csv")["Body"].read() == b"answer\n42\n"


def test_the_extension_comes_from_the_pip_package():
    import duckdb

    folder = datalake.extension_directory()
    assert list(folder.glob(f"v{duckdb.__version__}/*/httpfs.duckdb_extension")), folder


def test_a_missing_extension_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(datalake, "EXTENSION_PACKAGE", "no_such_duckdb_ext_package")
    with pytest.raises(TutorialError, match="duckdb-ext-httpfs"):
        datalake.extension_directory()


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0 bytes"),
        (999, "999 bytes"),
        (1_000, "1.0 KB"),
        (1_536_000, "1.5 MB"),
        (10_485_760, "10.5 MB"),
        (5e12, "5.0 TB"),
    ],
)
def test_bytes_read_in_decimal_units(n, text):
    assert datalake.format_bytes(n) == text


# ---------------------------------------------------------------------------------- names


def test_the_glue_database_is_the_prefix_in_athenas_alphabet():
    names = Names("ds-k3x9q2", "123456789012", "us-east-1")
    assert names.glue_database == glue_database("ds-k3x9q2") == "ds_k3x9q2_lake"
    assert names.athena_workgroup == athena_workgroup("ds-k3x9q2") == "ds-k3x9q2-lake"
    assert glue_database_problems(names.glue_database) == []


@pytest.mark.parametrize(
    ("name", "problem"),
    [("Ds_lake", "lowercase"), ("ds-x_lake", "lowercase letters, digits and '_'"), ("", "0 bytes"), ("a" * 256, "256")],
)
def test_names_athena_would_need_quoted_or_refuses_are_named(name, problem):
    assert any(problem in p for p in glue_database_problems(name))


def test_a_prefix_glue_would_refuse_fails_with_the_rule():
    with pytest.raises(TutorialError, match="tables-databases-columns-names"):
        _ = Names("ws-" + "a" * 260, "123456789012", "us-east-1").glue_database


def test_a_glue_database_belongs_to_exactly_one_prefix():
    assert glue_database_belongs_to("ws_10_lake", "ws-10")
    assert not glue_database_belongs_to("ws_100_lake", "ws-10")
    assert not glue_database_belongs_to("ws_10_lake_old", "ws-10")
    tags = {"tutorial": "aws-storage-for-data-science", "participant": "ws-10"}
    assert series_participant(tags, "ws_10_lake", owns=glue_database_belongs_to) == "ws-10"
    assert series_participant(tags, "ws_100_lake", owns=glue_database_belongs_to) is None
