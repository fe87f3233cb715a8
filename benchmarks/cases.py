"""The timed cases: each function sets up untimed, times only the transfer, and checks the result."""

from __future__ import annotations

import csv
import io
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

import boto3
from botocore.config import Config

from helpers import bulk


@dataclass
class Timing:
    group: str  # methods in one group do the same work and are compared with each other
    method: str
    n: int  # rows, items, files or bytes
    unit: str
    seconds: float
    note: str = ""
    extra: dict = field(default_factory=dict)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


# A method that takes well under a second is at the mercy of one scheduler hiccup on a
# 2-core machine, so fast methods run again (up to MAX_RUNS, while their total stays
# under RERUN_BUDGET seconds) and the best time counts. Slow methods run once: for them
# a hiccup is noise in the last digit, and repeating them would take minutes.
RERUN_BUDGET = 3.0
MAX_RUNS = 5


def best_of(fn: Callable[[], object], before: Callable[[], object] = lambda: None) -> tuple[float, int]:
    """Best time of ``fn`` over as many runs as the budget allows; ``before`` runs untimed each time."""
    runs: list[float] = []
    while not runs or (len(runs) < MAX_RUNS and sum(runs) < RERUN_BUDGET):
        before()
        runs.append(timed(fn)[0])
    return min(runs), len(runs)


def runs_note(note: str, runs: int) -> str:
    best = f"best of {runs}" if runs > 1 else ""
    return "; ".join(part for part in (note, best) if part)


def log(msg: str) -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------- PostgreSQL


@dataclass
class Pg:
    """A database and role of the benchmark's own on the local PostgreSQL, reached over TCP."""

    params: dict
    admin_settings: object

    @classmethod
    def create(cls, settings) -> Pg:
        from helpers import rds
        from helpers.local import postgres

        name = settings.prefix.replace("-", "_") + "_bench"
        password = secrets.token_urlsafe(16)
        rds.provision(settings, name, password, name)
        target = postgres.pg_target(settings)
        params = {"host": target.host, "port": target.port, "dbname": name, "user": name, "password": password}
        return cls(params=params, admin_settings=settings)

    def connect(self):
        import psycopg2

        return psycopg2.connect(**self.params)

    def engine(self):
        from sqlalchemy import create_engine

        return create_engine("postgresql+psycopg2://", creator=self.connect)

    def drop(self) -> None:
        from psycopg2 import sql

        from helpers.local import postgres

        conn = postgres.admin_connect(self.admin_settings)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.params["dbname"]))
            )
        conn.close()


def fresh_table(conn, table: str) -> None:
    with conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
        cur.execute(bulk.USERS_DDL.format(table))


def count(conn, table: str) -> int:
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {table}")
        return cur.fetchone()[0]


def _rows_from_s3(s3, bucket: str, key: str) -> list[tuple]:
    text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    reader = csv.reader(io.StringIO(text))
    next(reader)
    return [tuple(v if v != "" else None for v in row) for row in reader]


INSERT = "INSERT INTO {} (id, name, age, email, city, score, signup_date) VALUES "


def postgres_cases(pg: Pg, s3, bucket: str, key: str, rows: int, skip: set[str]) -> list[Timing]:
    """Load the same CSV from S3 into a fresh table with each method."""
    import pandas as pd
    from psycopg2.extras import execute_values

    table = "users_bench"
    engine = pg.engine()

    def pandas_default():
        df = pd.read_csv(s3.get_object(Bucket=bucket, Key=key)["Body"])
        df.to_sql(table, engine, if_exists="append", index=False)

    def pandas_multi():
        df = pd.read_csv(s3.get_object(Bucket=bucket, Key=key)["Body"])
        df.to_sql(table, engine, if_exists="append", index=False, method="multi", chunksize=1000)

    def executemany():
        data = _rows_from_s3(s3, bucket, key)
        with pg.connect() as conn, conn.cursor() as cur:
            cur.executemany(INSERT.format(table) + "(%s, %s, %s, %s, %s, %s, %s)", data)
        conn.close()

    def values():
        data = _rows_from_s3(s3, bucket, key)
        with pg.connect() as conn, conn.cursor() as cur:
            execute_values(cur, INSERT.format(table) + "%s", data, page_size=1000)
        conn.close()

    def raw_copy():
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        with pg.connect() as conn, conn.cursor() as cur:
            cur.copy_expert(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)", body, size=bulk.COPY_CHUNK)
        conn.close()

    def helper_copy():
        with pg.connect() as conn:
            bulk.copy_csv_from_s3(conn, bucket, key, table, s3=s3)
        conn.close()

    methods = [
        ("pandas.to_sql (default)", pandas_default, ""),
        ('pandas.to_sql(method="multi", chunksize=1000)', pandas_multi, ""),
        ("cursor.executemany", executemany, "one INSERT per row"),
        ("psycopg2.extras.execute_values", values, "page_size=1000"),
        ("COPY FROM STDIN (raw, streamed from S3)", raw_copy, ""),
        ("helpers.bulk.copy_csv_from_s3", helper_copy, "COPY + header check"),
    ]
    out = []
    conn = pg.connect()
    for name, fn, note in methods:
        if any(s in name for s in skip):
            continue
        log(f"  postgres: {name} ...")
        seconds, runs = best_of(fn, before=lambda: fresh_table(conn, table))
        loaded = count(conn, table)
        conn.rollback()
        if loaded != rows:
            raise RuntimeError(f"{name} loaded {loaded} rows, expected {rows}")
        out.append(Timing("PostgreSQL: load CSV from S3", name, rows, "rows", seconds, runs_note(note, runs)))
        log(f"    {seconds:7.2f} s")
    with conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {table}")
    conn.close()
    engine.dispose()
    return out


# --------------------------------------------------------------------------- DynamoDB


def _items(n: int) -> list[dict]:
    reader = csv.DictReader(io.StringIO(bulk.users_csv(n).decode()))
    return [
        {
            "id": int(r["id"]),
            "name": r["name"],
            "age": int(r["age"]),
            "email": r["email"],
            "city": r["city"],
            "score": Decimal(r["score"]),
        }
        for r in reader
    ]


def dynamodb_cases(prefix: str, tags: list[dict], n: int) -> list[Timing]:
    ddb = boto3.resource("dynamodb")
    items = _items(n)
    out = []

    def make(name: str):
        table = ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=tags,
        )
        # A new table is CREATING for a moment (as on AWS); the resource's own waiter polls every 20 s.
        ddb.meta.client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        return table

    tables = []
    try:
        loop_table = make(f"{prefix}-bench-put")
        tables.append(loop_table)
        log("  dynamodb: put_item loop ...")
        seconds, _ = timed(lambda: [loop_table.put_item(Item=i) for i in items])
        out.append(Timing("DynamoDB: write items", "put_item loop", n, "items", seconds, "one request per item"))
        log(f"    {seconds:7.2f} s")

        batch_table = make(f"{prefix}-bench-batch")
        tables.append(batch_table)

        def batch():
            with batch_table.batch_writer() as writer:
                for i in items:
                    writer.put_item(Item=i)

        log("  dynamodb: batch_writer ...")
        seconds, _ = timed(batch)
        out.append(Timing("DynamoDB: write items", "Table.batch_writer()", n, "items", seconds, "25 items per request"))
        log(f"    {seconds:7.2f} s")

        def scan():
            paginator = boto3.client("dynamodb").get_paginator("scan")
            return sum(page["Count"] for page in paginator.paginate(TableName=batch_table.name))

        log("  dynamodb: paginated scan ...")
        seconds, found = timed(scan)
        if found != n:
            raise RuntimeError(f"scan found {found} items, expected {n}")
        out.append(Timing("DynamoDB: read all items", "paginated scan", n, "items", seconds, "1 MB pages"))
        log(f"    {seconds:7.2f} s")
    finally:
        for t in tables:
            t.delete()
    return out


# --------------------------------------------------------------------------- S3


def s3_cases(bucket: str, files: int, file_kib: int, big_mib: int, skip_big: bool) -> list[Timing]:
    from boto3.s3.transfer import TransferConfig

    workers = 8
    s3 = boto3.client("s3", config=Config(max_pool_connections=workers))
    payload = os.urandom(file_kib * 1024)
    s3.head_bucket(Bucket=bucket)  # untimed: open the first connection before either method runs
    out = []

    def sequential():
        for i in range(files):
            s3.put_object(Bucket=bucket, Key=f"small/seq/{i:05d}.bin", Body=payload)

    def concurrent():
        def put(i):
            s3.put_object(Bucket=bucket, Key=f"small/par/{i:05d}.bin", Body=payload)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(put, range(files)))

    for name, fn, note in [
        ("put_object one by one", sequential, ""),
        (f"thread pool ({workers} threads, one client)", concurrent, "max_pool_connections=8"),
    ]:
        log(f"  s3: {name} ...")
        seconds, runs = best_of(fn)
        out.append(
            Timing(f"S3: upload {files} files of {file_kib} KiB", name, files, "files", seconds, runs_note(note, runs))
        )
        log(f"    {seconds:7.2f} s")

    if not skip_big:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "big.bin")
            with open(path, "wb") as fh:
                for _ in range(big_mib):
                    fh.write(os.urandom(1 << 20))
            # Untimed warm-up: the first multipart upload of a process pays for connections and threads.
            s3.upload_file(path, bucket, "big/warmup.bin", Config=TransferConfig(multipart_threshold=1 << 40))
            tuned = TransferConfig(multipart_chunksize=32 * (1 << 20), max_concurrency=8)
            for name, config, note in [
                ("upload_file, default TransferConfig", TransferConfig(), "8 MiB parts, 10 threads"),
                ("upload_file, tuned TransferConfig", tuned, "32 MiB parts, 8 threads"),
            ]:
                log(f"  s3: {name} ...")
                seconds, _ = timed(lambda c=config: s3.upload_file(path, bucket, "big/big.bin", Config=c))
                out.append(Timing(f"S3: upload one {big_mib} MiB file", name, big_mib, "MiB", seconds, note))
                log(f"    {seconds:7.2f} s")
    return out
