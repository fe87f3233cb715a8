"""The bulk helpers: COPY from S3 loads exactly the rows, refuses wrong CSVs; DynamoDB items convert.

These check correctness only. Speed is measured by ``python -m benchmarks``, never asserted here.
"""

from __future__ import annotations

import hashlib
import math
from decimal import Decimal

import pytest

from helpers import bulk
from helpers.cleanup import empty_and_delete_bucket
from helpers.errors import TutorialError

# --------------------------------------------------------------------------- DynamoDB conversion (no stack)


def test_floats_become_decimal_and_missing_values_are_omitted():
    np = pytest.importorskip("numpy")
    pd = pytest.importorskip("pandas")
    row = {
        "id": np.int64(7),
        "score": 0.1,
        "ratio": np.float64(2.5),
        "gone": float("nan"),
        "none": None,
        "na": pd.NA,
        "when": pd.NaT,
        "flag": np.bool_(True),
        "name": "Matt",
        "nested": {"a": 1.5, "b": float("nan")},
        "movies": ["Star Wars", 3.0],
    }
    item = bulk.to_dynamodb_item(row)
    assert item == {
        "id": 7,
        "score": Decimal("0.1"),
        "ratio": Decimal("2.5"),
        "flag": True,
        "name": "Matt",
        "nested": {"a": Decimal("1.5")},
        "movies": ["Star Wars", Decimal("3.0")],
    }
    assert type(item["id"]) is int and type(item["flag"]) is bool


def test_dataframe_rows_with_nan_lose_only_that_attribute():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"id": [1, 2], "age": [32.0, math.nan]})
    items = [bulk.to_dynamodb_item(r) for r in df.to_dict(orient="records")]
    assert items == [{"id": 1, "age": Decimal("32.0")}, {"id": 2}]


def test_infinite_float_is_refused():
    with pytest.raises(TutorialError, match="NaN or infinity") as err:
        bulk.to_dynamodb_item({"x": float("inf")})
    assert "replace infinite values" in err.value.fix


def test_write_dataframe_uses_batches(local_stack):
    import boto3

    pd = pytest.importorskip("pandas")
    name = f"{local_stack.prefix}-bulk-test-items"
    ddb = boto3.resource("dynamodb")
    table = ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
        BillingMode="PAY_PER_REQUEST",
    )
    try:
        table.wait_until_exists()
        df = pd.DataFrame({"id": range(60), "score": [i / 4 for i in range(60)]})
        df.loc[3, "score"] = math.nan
        assert bulk.write_dataframe(df, table) == 60
        items = {int(i["id"]): i for i in table.scan()["Items"]}
        assert len(items) == 60
        assert items[5]["score"] == Decimal("1.25")
        assert "score" not in items[3]
    finally:
        table.delete()


# --------------------------------------------------------------------------- COPY from S3 (needs the stack)


@pytest.fixture
def pg(local_stack):
    from helpers.local import postgres

    conn = postgres.admin_connect(local_stack)
    table = f"{local_stack.prefix.replace('-', '_')}_bulk_test"
    with conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(bulk.USERS_DDL.format(table))
    try:
        yield conn, table
    finally:
        conn.rollback()
        with conn, conn.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {table}")
        conn.close()


@pytest.fixture
def bucket(local_stack):
    import boto3

    s3 = boto3.client("s3")
    name = f"{local_stack.prefix}-bulk-test"
    s3.create_bucket(Bucket=name)
    try:
        yield s3, name
    finally:
        empty_and_delete_bucket(s3, name)


def _checksum(rows) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update("|".join("" if v is None else str(v) for v in row).encode() + b"\n")
    return digest.hexdigest()


def test_copy_loads_exactly_the_rows(pg, bucket):
    import csv
    import io

    conn, table = pg
    s3, name = bucket
    data = bulk.users_csv(1500)
    s3.put_object(Bucket=name, Key="users.csv", Body=data)

    result = bulk.copy_csv_from_s3(conn, name, "users.csv", table, s3=s3)
    conn.commit()

    assert result.rows == 1500
    assert result.columns == tuple(bulk.USERS_COLUMNS)
    expected = list(csv.reader(io.StringIO(data.decode())))[1:]
    with conn.cursor() as cur:
        cur.execute(f"SELECT id, name, age, email, city, score::text, signup_date::text FROM {table} ORDER BY id")
        loaded = cur.fetchall()
    assert len(loaded) == 1500
    assert _checksum(loaded) == _checksum(expected)


def test_copy_handles_quoting_reordered_header_and_nulls(pg, bucket):
    conn, table = pg
    s3, name = bucket
    text = (
        "\ufeffname,id,age,email,city,score,signup_date\r\n"
        '"Sosna, Matt",1,32,m@example.com,"He said ""hi""",1.50,2022-01-02\r\n'
        '"two\nlines",2,,,,,\r\n'
    )
    s3.put_object(Bucket=name, Key="quoted.csv", Body=text.encode("utf-8"))

    result = bulk.copy_csv_from_s3(conn, name, "quoted.csv", table, s3=s3)

    assert result.rows == 2
    with conn.cursor() as cur:
        cur.execute(f"SELECT id, name, age, city, score FROM {table} ORDER BY id")
        assert cur.fetchall() == [
            (1, "Sosna, Matt", 32, 'He said "hi"', Decimal("1.50")),
            (2, "two\nlines", None, None, None),
        ]


@pytest.mark.parametrize(
    "header, words",
    [
        ("id,name,age,email,city,score", "missing signup_date"),
        ("id,name,age,email,city,score,signup_date,extra", "unexpected extra"),
        ("id,name,name,age,email,city,score,signup_date", "repeated name"),
        ("name,age\n", "missing id"),
    ],
)
def test_copy_refuses_mismatched_columns(pg, bucket, header, words):
    conn, table = pg
    s3, name = bucket
    s3.put_object(Bucket=name, Key="bad.csv", Body=(header.strip() + "\nx\n").encode())

    with pytest.raises(TutorialError, match=words) as info:
        bulk.copy_csv_from_s3(conn, name, "bad.csv", table, s3=s3)
    assert "Nothing was loaded" in str(info.value)
    conn.rollback()
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        assert cur.fetchone()[0] == 0


def test_copy_with_explicit_columns_and_missing_object(pg, bucket):
    conn, table = pg
    s3, name = bucket
    s3.put_object(Bucket=name, Key="two.csv", Body=b"id,name\n1,Matt Sosna\n")
    assert bulk.copy_csv_from_s3(conn, name, "two.csv", table, columns=["id", "name"], s3=s3).rows == 1
    with pytest.raises(TutorialError, match="does not exist"):
        bulk.copy_csv_from_s3(conn, name, "nope.csv", table, s3=s3)
    with pytest.raises(TutorialError, match="does not exist"):
        bulk.copy_csv_from_s3(conn, name, "two.csv", "no_such_table_here", s3=s3)
