"""The bulk helpers: COPY from S3 loads exactly the rows and refuses wrong CSVs.

These check correctness only. Speed is measured by ``python -m benchmarks``, never asserted here.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from helpers import bulk
from helpers.cleanup import empty_and_delete_bucket
from helpers.errors import TutorialError

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
