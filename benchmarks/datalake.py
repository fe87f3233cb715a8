"""The data lake: one question of a million rows kept as CSV, as Parquet and as partitioned Parquet on S3.

``python -m benchmarks --only datalake`` (lesson 06's numbers) builds one table of trips (twelve
columns: dates, integers with missing values, text, amounts), stores it in an S3 bucket three ways

* ``lake/csv/trips.csv``: one CSV file;
* ``lake/parquet/trips.parquet``: one Parquet file, pyarrow's defaults;
* ``lake/partitioned/year=2024/month=05/part-0.parquet``: Parquet split by Hive-style prefixes,

and asks one question of each: *the total amount per category in May 2024* (three of the twelve
columns: pickup_date, category, amount; on the partitioned copy the month is in the prefix, so two).
Every way a learner of lesson 06 can ask it is timed and metered:

* pandas through ``s3://`` paths: ``read_csv`` of the whole file, ``read_parquet(columns=...)``,
  ``read_parquet(columns=..., filters=...)`` on the partitioned prefix;
* DuckDB in this process (``helpers.datalake.duckdb_connect()``): the same SQL over each copy;
* Athena as the local backend answers it (a Glue table over the partitioned copy, boto3's
  ``start_query_execution`` / ``get_query_execution`` / ``get_query_results``).

Bytes read are counted where they leave S3: the benchmark starts its own emulator
(benchmarks/counting_emulator.py: the stack's launcher plus a meter on every GetObject body), so
s3fs's read-ahead, DuckDB's ranged reads and the local Athena's reads inside the emulator are all
counted the same way, and nothing is taken from a client's own estimate. Athena's own figure
(``Statistics.DataScannedInBytes``, what AWS bills) is shown next to it.

Targets, each printed as met or not met: Parquet reads at most a fifth of the CSV's bytes for the
question; a partitioned read touches only the objects of the partition asked for; DuckDB over
Parquet answers at least 5x faster than pandas reading the whole CSV. The answers of all paths must
agree with the answer computed in memory; a path that disagrees is reported, and the run exits
non-zero. Measurements, not tests: nothing fails because it is slow.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from benchmarks.cases import best_of, log
from helpers.datalake import duckdb_connect

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
PUBLISHED = HERE / "RESULTS.md"
SECTION_TITLE = "## Data lake"

BUCKET = "bench-datalake"
LAKE = "lake"
CSV_KEY = f"{LAKE}/csv/trips.csv"
PARQUET_KEY = f"{LAKE}/parquet/trips.parquet"
PARTITIONED = f"{LAKE}/partitioned"
ATHENA_OUTPUT = f"s3://{BUCKET}/athena-results/"
GLUE_DATABASE = "bench_lake"
GLUE_TABLE = "trips"
YEAR, MONTH = 2024, 5
CATEGORIES = ("bike", "bus", "ferry", "metro", "scooter", "taxi", "train", "tram")
PAYMENTS = ("card", "cash", "app", "voucher")
ZONES = tuple(f"Z{i:02d}" for i in range(1, 41))
ANSWER_TOLERANCE = 0.01  # sums of amounts with cents, added up in different orders by each engine

# Targets (text, wanted): see check_targets().
PARQUET_FRACTION = 0.2
DUCKDB_SPEEDUP = 5.0


# --------------------------------------------------------------------------- the data


def trips(rows: int, seed: int = 18):
    """The table: ``rows`` trips over 2024 in date order (as a log is written), twelve columns.

    Integers with missing values (passengers, rating) and dates are there on purpose: CSV loses
    their types, Parquet keeps them (lesson 06's point), and a reader must cope with both.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01")
    days = np.sort(rng.integers(0, 366, rows))  # 2024 is a leap year: 366 days
    passengers = pd.array(rng.integers(1, 7, rows), dtype="Int64")
    passengers[rng.random(rows) < 0.05] = pd.NA
    rating = pd.array(rng.integers(1, 6, rows), dtype="Int64")
    rating[rng.random(rows) < 0.2] = pd.NA
    drivers = np.asarray([f"D{i:05d}" for i in range(1, 5001)], dtype=object)
    return pd.DataFrame(
        {
            "trip_id": np.arange(1, rows + 1, dtype="int64"),
            "pickup_date": (start + days.astype("timedelta64[D]")).astype("datetime64[s]"),
            "category": np.asarray(CATEGORIES, dtype=object)[rng.integers(0, len(CATEGORIES), rows)],
            "amount": np.round(rng.gamma(2.0, 9.0, rows) + 2.5, 2),
            "distance_km": np.round(rng.gamma(1.6, 3.0, rows), 2),
            "passengers": passengers,
            "zone_from": np.asarray(ZONES, dtype=object)[rng.integers(0, len(ZONES), rows)],
            "zone_to": np.asarray(ZONES, dtype=object)[rng.integers(0, len(ZONES), rows)],
            "payment": np.asarray(PAYMENTS, dtype=object)[rng.integers(0, len(PAYMENTS), rows)],
            "tip": np.round(rng.exponential(1.5, rows), 2),
            "rating": rating,
            "driver": drivers[rng.integers(0, len(drivers), rows)],
        }
    )


def expected_answer(df) -> dict[str, float]:
    """The question answered in memory: the reference every path is compared with."""
    month = df[(df.pickup_date.dt.year == YEAR) & (df.pickup_date.dt.month == MONTH)]
    return _as_answer(month.groupby("category")["amount"].sum())


def _as_answer(series) -> dict[str, float]:
    return {str(k): round(float(v), 2) for k, v in sorted(series.items())}


def answers_agree(a: dict[str, float], b: dict[str, float]) -> bool:
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= ANSWER_TOLERANCE for k in a)


@dataclass
class Lake:
    """Where the three copies are, and the size of every object (what a full read would cost)."""

    bucket: str
    sizes: dict[str, int]  # key -> bytes
    rows: int

    def under(self, prefix: str) -> dict[str, int]:
        return {k: v for k, v in self.sizes.items() if k.startswith(prefix)}

    @property
    def kept_partition(self) -> str:
        return f"{PARTITIONED}/year={YEAR}/month={MONTH:02d}/"


def store(s3, df, bucket: str = BUCKET) -> Lake:
    """Write the three copies to a temporary folder with pandas/pyarrow, upload them (untimed)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    with tempfile.TemporaryDirectory(prefix="bench-lake-") as tmp:
        root = Path(tmp)
        files: dict[str, Path] = {CSV_KEY: root / "trips.csv", PARQUET_KEY: root / "trips.parquet"}
        df.to_csv(files[CSV_KEY], index=False, date_format="%Y-%m-%d")
        df.to_parquet(files[PARQUET_KEY], index=False)
        # Hive-style prefixes with a zero-padded month (month=05), one file per partition, the
        # partition columns in the prefix only (as Athena and Hive lay them out).
        table = pa.Table.from_pandas(df, preserve_index=False)
        months = df.pickup_date.dt.month.to_numpy()
        for m in sorted(set(months.tolist())):
            key = f"{PARTITIONED}/year={YEAR}/month={m:02d}/part-0.parquet"
            files[key] = root / key.replace("/", "_")
            pq.write_table(table.filter(pa.array(months == m)), files[key])
        for key, path in files.items():
            s3.upload_file(str(path), bucket, key)
        sizes = {key: path.stat().st_size for key, path in files.items()}
    return Lake(bucket=bucket, sizes=sizes, rows=len(df))


# --------------------------------------------------------------------------- the meter


class Meter:
    """Reads the counting emulator's per-object GetObject counts (benchmarks/counting_emulator.py)."""

    def __init__(self, endpoint: str) -> None:
        from benchmarks.counting_emulator import CONTROL_PATH

        self.url = endpoint.rstrip("/") + CONTROL_PATH

    def reset(self) -> None:
        urllib.request.urlopen(urllib.request.Request(self.url, method="DELETE"), timeout=10).read()

    def objects(self) -> dict[str, tuple[int, int]]:
        """``key -> (GETs, bytes)`` since the last reset, keys without the bucket."""
        found = json.loads(urllib.request.urlopen(self.url, timeout=10).read())["objects"]
        return {k.partition("/")[2]: (gets, nbytes) for k, (gets, nbytes) in found.items()}


# --------------------------------------------------------------------------- the paths


@dataclass
class Path_:
    """One way of asking the question."""

    tool: str  # pandas, DuckDB, Athena (local)
    storage: str  # CSV, Parquet, partitioned Parquet
    method: str  # the call, as a learner writes it
    ask: Callable[[], tuple[dict[str, float], dict]]  # -> (answer, extra facts)
    before: Callable[[], object] = lambda: None  # untimed, before every run
    note: str = ""
    metered: bool = True  # False: the bytes are the answer's own DataScannedInBytes


@dataclass
class Measured:
    tool: str
    storage: str
    method: str
    seconds: float
    runs: int
    bytes_read: int | None  # GetObject body bytes of the lake's objects; None when not measured
    gets: int
    objects: list[str]
    answer_ok: bool | None
    note: str = ""
    extra: dict = field(default_factory=dict)
    metered: bool = True  # False: bytes_read is the query's own DataScannedInBytes


def _question_sql(source: str, partitioned: bool) -> str:
    where = (
        f"year = {YEAR} AND month = {MONTH}"
        if partitioned
        else f"pickup_date >= DATE '{YEAR}-{MONTH:02d}-01' AND pickup_date < DATE '{YEAR}-{MONTH + 1:02d}-01'"
    )
    return f"SELECT category, sum(amount) AS total FROM {source} WHERE {where} GROUP BY category ORDER BY category"


# Which library does the reading: pandas hands read_csv's s3:// path to fsspec (s3fs), but for
# read_parquet without storage_options it tries pyarrow's own S3 filesystem first and uses it when
# it can be made (pandas.io.parquet._get_path_or_handle); both find the endpoint in AWS_ENDPOINT_URL.
VIA_S3FS = "through s3fs"
VIA_PYARROW = "through pyarrow's S3 filesystem (pandas' choice for Parquet)"


def pandas_paths(bucket: str) -> list[Path_]:
    import pandas as pd

    def month_total(df):
        month = df[(df.pickup_date.dt.year == YEAR) & (df.pickup_date.dt.month == MONTH)]
        return _as_answer(month.groupby("category")["amount"].sum())

    def whole_csv():
        df = pd.read_csv(f"s3://{bucket}/{CSV_KEY}", parse_dates=["pickup_date"])
        return month_total(df), {}

    def parquet_columns():
        df = pd.read_parquet(f"s3://{bucket}/{PARQUET_KEY}", columns=["pickup_date", "category", "amount"])
        return month_total(df), {}

    def partitioned_filters():
        df = pd.read_parquet(
            f"s3://{bucket}/{PARTITIONED}/",
            columns=["category", "amount"],
            filters=[("year", "==", YEAR), ("month", "==", MONTH)],
        )
        return _as_answer(df.groupby("category")["amount"].sum()), {}

    return [
        Path_("pandas", "CSV", "pd.read_csv(s3://.../trips.csv), whole file", whole_csv, note=VIA_S3FS),
        Path_(
            "pandas",
            "Parquet",
            "pd.read_parquet(s3://.../trips.parquet, columns=[3 of 12])",
            parquet_columns,
            note=VIA_PYARROW,
        ),
        Path_(
            "pandas",
            "partitioned Parquet",
            "pd.read_parquet(s3://.../partitioned/, columns=[2], filters=[year, month])",
            partitioned_filters,
            note=VIA_PYARROW,
        ),
    ]


def duckdb_paths(bucket: str, connect: Callable[[], object]) -> list[Path_]:
    """DuckDB over each copy; a fresh connection before each run (untimed), so no run reads from
    the cache an earlier run filled (DuckDB keeps remote file blocks per database instance)."""
    holder: dict[str, object] = {}

    def fresh():
        old = holder.pop("con", None)
        if old is not None:
            old.close()
        holder["con"] = connect()

    def ask(sql: str):
        def run():
            rows = holder["con"].execute(sql).fetchall()
            return {str(c): round(float(t), 2) for c, t in rows}, {}

        return run

    sources = [
        ("CSV", f"read_csv('s3://{bucket}/{CSV_KEY}')", False),
        ("Parquet", f"read_parquet('s3://{bucket}/{PARQUET_KEY}')", False),
        (
            "partitioned Parquet",
            f"read_parquet('s3://{bucket}/{PARTITIONED}/*/*/*.parquet', hive_partitioning = true)",
            True,
        ),
    ]
    return [
        Path_(
            "DuckDB", storage, f"SELECT ... FROM {source.split('(')[0]}(...)", ask(_question_sql(source, part)), fresh
        )
        for storage, source, part in sources
    ]


# --------------------------------------------------------------------------- Athena (local)


COLUMNS = [
    ("trip_id", "bigint"),
    ("pickup_date", "date"),
    ("category", "string"),
    ("amount", "double"),
    ("distance_km", "double"),
    ("passengers", "bigint"),
    ("zone_from", "string"),
    ("zone_to", "string"),
    ("payment", "string"),
    ("tip", "double"),
    ("rating", "bigint"),
    ("driver", "string"),
]
# The SerDes and formats Athena documents for Parquet and for delimited text:
# https://docs.aws.amazon.com/athena/latest/ug/parquet-serde.html
# https://docs.aws.amazon.com/athena/latest/ug/lazy-simple-serde.html
PARQUET_FORMAT = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}
CSV_FORMAT = {
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "Parameters": {"field.delim": ","},
    },
}
# Glue table per copy: name, location (a folder: Athena reads every object under it), format,
# partitioned. https://docs.aws.amazon.com/athena/latest/ug/tables-location-format.html
TABLES = {
    "CSV": ("trips_csv", f"{LAKE}/csv/", CSV_FORMAT, False),
    "Parquet": ("trips_parquet", f"{LAKE}/parquet/", PARQUET_FORMAT, False),
    "partitioned Parquet": ("trips", f"{PARTITIONED}/", PARQUET_FORMAT, True),
}


def glue_tables(bucket: str, lake: Lake, glue) -> None:
    """A Glue database with a table over each copy; the partitioned one with a partition per month.

    Shapes from the Glue API: https://docs.aws.amazon.com/glue/latest/webapi/API_CreateTable.html,
    https://docs.aws.amazon.com/glue/latest/webapi/API_BatchCreatePartition.html; the CSV's header line
    is skipped with the table property Athena documents (skip.header.line.count, lazy-simple-serde.html).
    """

    def descriptor(location: str, fmt: dict) -> dict:
        return {"Columns": [{"Name": n, "Type": t} for n, t in COLUMNS], "Location": location, **fmt}

    glue.create_database(DatabaseInput={"Name": GLUE_DATABASE})
    for storage, (name, folder, fmt, partitioned) in TABLES.items():
        table = {
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"classification": "csv" if fmt is CSV_FORMAT else "parquet"},
            "StorageDescriptor": descriptor(f"s3://{bucket}/{folder}", fmt),
        }
        if storage == "CSV":
            table["Parameters"]["skip.header.line.count"] = "1"
        if partitioned:
            table["PartitionKeys"] = [{"Name": "year", "Type": "int"}, {"Name": "month", "Type": "int"}]
        glue.create_table(DatabaseName=GLUE_DATABASE, TableInput=table)
        if not partitioned:
            continue
        prefixes = sorted({k.rsplit("/", 1)[0] for k in lake.under(folder)})
        inputs = []
        for prefix in prefixes:
            year, month = (part.split("=", 1)[1] for part in prefix.split("/")[-2:])
            inputs.append({"Values": [year, month], "StorageDescriptor": descriptor(f"s3://{bucket}/{prefix}/", fmt)})
        glue.batch_create_partition(DatabaseName=GLUE_DATABASE, TableName=name, PartitionInputList=inputs)


def athena_question(athena, table: str, partitioned: bool, poll: float = 0.05) -> tuple[dict[str, float], dict]:
    """Start the query, wait through QUEUED and RUNNING, read every page of results.

    Athena's states: https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecutionStatus.html;
    the results are paged with NextToken, the first row of the first page being the column names:
    https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html;
    DataScannedInBytes: https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecutionStatistics.html
    """
    started = athena.start_query_execution(
        QueryString=_question_sql(table, partitioned),
        QueryExecutionContext={"Database": GLUE_DATABASE},
        ResultConfiguration={"OutputLocation": ATHENA_OUTPUT},
    )
    qid = started["QueryExecutionId"]
    states: list[str] = []
    while True:
        execution = athena.get_query_execution(QueryExecutionId=qid)["QueryExecution"]
        state = execution["Status"]["State"]
        if not states or states[-1] != state:
            states.append(state)
        if state in ("SUCCEEDED", "FAILED", "CANCELLED"):
            break
        time.sleep(poll)
    if state != "SUCCEEDED":
        raise RuntimeError(f"Athena query {state}: {execution['Status'].get('StateChangeReason', '')}")
    rows = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
        rows += [[c.get("VarCharValue") for c in r["Data"]] for r in page["ResultSet"]["Rows"]]
    answer = {str(c): round(float(t), 2) for c, t in rows[1:]}
    return answer, {
        "states": states,
        "data_scanned_bytes": execution.get("Statistics", {}).get("DataScannedInBytes"),
        "output": execution["ResultConfiguration"]["OutputLocation"],
    }


# Athena's price for SQL queries: $5 per TB scanned, rounded up to the megabyte, at least 10 MB per
# query (https://aws.amazon.com/athena/pricing/). Decimal units, as AWS bills.
PRICE_PER_TB = 5.0
MINIMUM_MB = 10


def athena_cost(scanned: int) -> tuple[int, float]:
    """(megabytes billed, dollars) for a query that scanned ``scanned`` bytes."""
    billed_mb = max(MINIMUM_MB, -(-scanned // 1_000_000))
    return billed_mb, billed_mb / 1_000_000 * PRICE_PER_TB


def athena_paths(athena) -> list[Path_]:
    """The local Athena engine reads moto's S3 inside the emulator, not over HTTP, so the meter
    cannot see its reads: its bytes are Athena's own DataScannedInBytes, which that engine counts
    as DuckDB asks the objects for them (helpers/local/athena_engine.py)."""
    return [
        Path_(
            "Athena (local)",
            storage,
            f"start_query_execution(... FROM {name} ...) + get_query_results",
            lambda name=name, part=part: athena_question(athena, name, part),
            note="bytes: DataScannedInBytes; polled every 0.05 s",
            metered=False,
        )
        for storage, (name, _, _, part) in TABLES.items()
    ]


def athena_available() -> str:
    """'' when the local backend's Athena engine is there, else why not (the row is then not measured)."""
    try:
        import helpers.local.athena_engine  # noqa: F401
    except ImportError:
        return "helpers/local/athena_engine.py is not in this checkout"
    return ""


def warm_up(s3, bucket: str = BUCKET) -> None:
    """Untimed: every reader once over a tiny copy outside ``lake/``, so that no timed run pays for
    importing s3fs, pyarrow's dataset code or DuckDB's extension, or for a first connection."""
    import pandas as pd

    tiny = trips(200)
    tiny.to_csv(f"s3://{bucket}/warmup/trips.csv", index=False)
    pd.read_csv(f"s3://{bucket}/warmup/trips.csv")
    tiny.assign(year=YEAR, month=tiny.pickup_date.dt.month).to_parquet(
        f"s3://{bucket}/warmup/parts/", partition_cols=["year", "month"], index=False
    )
    pd.read_parquet(f"s3://{bucket}/warmup/parts/", columns=["amount"], filters=[("month", "==", 1)])
    con = duckdb_connect()
    con.execute(f"SELECT count(*) FROM read_csv('s3://{bucket}/warmup/trips.csv')").fetchall()
    con.execute(f"SELECT count(*) FROM read_parquet('s3://{bucket}/warmup/parts/*/*/*.parquet')").fetchall()
    con.close()


def warm_up_athena(athena) -> None:
    """Untimed: one query, so the emulator has loaded its engine before the first timed one."""
    with contextlib.suppress(RuntimeError):
        athena_question(athena, TABLES["Parquet"][0], partitioned=False)


# --------------------------------------------------------------------------- measuring


def measure(path: Path_, meter: Meter, expected: dict[str, float]) -> Measured:
    """Time the path (best of several when fast) and meter the last run's reads of the lake."""
    last: dict = {}

    def before():
        path.before()
        meter.reset()

    def timed():
        last["answer"], last["extra"] = path.ask()

    seconds, runs = best_of(timed, before=before)
    reads = {k: v for k, v in meter.objects().items() if k.startswith(LAKE + "/")}
    if not path.metered:
        scanned = last["extra"].get("data_scanned_bytes")
        reads = {}
    return Measured(
        tool=path.tool,
        storage=path.storage,
        method=path.method,
        seconds=seconds,
        runs=runs,
        bytes_read=sum(b for _, b in reads.values()) if path.metered else scanned,
        gets=sum(g for g, _ in reads.values()),
        objects=sorted(reads),
        answer_ok=answers_agree(last["answer"], expected),
        note=path.note,
        extra=last["extra"] | {"answer": last["answer"], "reads": reads},
        metered=path.metered,
    )


# A reader opens one file of a Hive-partitioned folder to learn the table's schema before it prunes
# (pyarrow's dataset discovery, DuckDB's binder): one read of the end of one file, where Parquet keeps
# its footer (https://parquet.apache.org/docs/file-format/metadata/), up to this many bytes.
SCHEMA_READ_BYTES = 64 * 1024


def pruning_check(r: Measured, lake: Lake) -> tuple[bool, str]:
    """Did a partitioned read touch only the partition asked for? (met, what was measured)

    Metered paths: every object read is in the kept partition, with no more bytes than its objects
    hold, except at most one schema read (one GET of at most SCHEMA_READ_BYTES) of one other object.
    Athena: its DataScannedInBytes is more than nothing and at most the kept partition's size.
    """
    kept = lake.under(lake.kept_partition)
    kept_bytes = sum(kept.values())
    if not r.objects:  # bytes from DataScannedInBytes: which objects is not known, only how much
        met = r.bytes_read is not None and 0 < r.bytes_read <= kept_bytes
        return met, f"{_mb(r.bytes_read or 0)} scanned"
    inside = [k for k in r.objects if k.startswith(lake.kept_partition)]
    outside = [k for k in r.objects if not k.startswith(lake.kept_partition)]
    reads = r.extra.get("reads", {})
    inside_bytes = sum(reads.get(k, (0, 0))[1] for k in inside)
    outside_reads = [reads.get(k, (0, 0)) for k in outside]
    schema_only = len(outside) <= 1 and all(g == 1 and b <= SCHEMA_READ_BYTES for g, b in outside_reads)
    met = bool(inside) and inside_bytes <= kept_bytes and schema_only
    text = f"{len(inside)} object(s) of month={MONTH:02d}, {_mb(inside_bytes)}"
    if outside:
        names = ", ".join(k[len(PARTITIONED) + 1 :].rsplit("/", 1)[0] for k in outside)
        text += f"; outside it {len(outside)} object(s) ({names}), {_mb(sum(b for _, b in outside_reads))}"
        text += " in one read (the schema)" if schema_only else ""
    return met, text


def check_targets(rows: list[Measured], lake: Lake) -> list[dict]:
    """Each target met or not; a target whose rows did not run is left out, not counted as met."""

    def row(tool: str, storage: str) -> Measured | None:
        return next((r for r in rows if r.tool == tool and r.storage == storage and r.bytes_read is not None), None)

    out = []
    for tool in ("pandas", "DuckDB", "Athena (local)"):
        csv, parquet = row(tool, "CSV"), row(tool, "Parquet")
        if csv and parquet and csv.bytes_read:
            fraction = parquet.bytes_read / csv.bytes_read
            out.append(
                {
                    "target": f"{tool}: Parquet reads at most a fifth of the CSV's bytes for the question",
                    "measured": f"{fraction:.3f} ({_mb(parquet.bytes_read)} of {_mb(csv.bytes_read)})",
                    "wanted": f"<= {PARQUET_FRACTION}",
                    "met": fraction <= PARQUET_FRACTION,
                }
            )
    kept = lake.under(lake.kept_partition)
    for r in rows:
        if r.storage != "partitioned Parquet" or r.bytes_read is None:
            continue
        met, text = pruning_check(r, lake)
        out.append(
            {
                "target": f"{r.tool}: partition pruning reads only month={MONTH:02d}",
                "measured": text,
                "wanted": f"only {lake.kept_partition} ({len(kept)} object(s), {_mb(sum(kept.values()))})"
                + (f"; one schema read of <= {SCHEMA_READ_BYTES // 1024} KiB elsewhere allowed" if r.objects else ""),
                "met": met,
            }
        )
    fast, slow = row("DuckDB", "Parquet"), row("pandas", "CSV")
    if fast and slow and fast.seconds:
        speedup = slow.seconds / fast.seconds
        out.append(
            {
                "target": "DuckDB over Parquet at least 5x faster than pandas reading the whole CSV",
                "measured": f"{speedup:.1f}x ({fast.seconds:.2f} s against {slow.seconds:.2f} s)",
                "wanted": f">= {DUCKDB_SPEEDUP:g}x",
                "met": speedup >= DUCKDB_SPEEDUP,
            }
        )
    answered = [r for r in rows if r.answer_ok is not None]
    if answered:
        wrong = [f"{r.tool} {r.storage}" for r in answered if not r.answer_ok]
        out.append(
            {
                "target": "every path gives the answer computed in memory",
                "measured": f"{len(answered) - len(wrong)} of {len(answered)} agree"
                + (f" ({', '.join(wrong)} do not)" if wrong else ""),
                "wanted": "all",
                "met": not wrong,
            }
        )
    return out


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB" if n >= 100_000 else f"{n / 1e3:,.1f} kB"


# --------------------------------------------------------------------------- the run


@contextlib.contextmanager
def private_emulator(env_extra: dict[str, str] | None = None) -> Iterator[str]:
    """The counting emulator on a free port, with the AWS-like pace off (the benchmark times the
    engines, not the emulator's imitation of AWS's waits); stopped at the end."""
    from helpers.local.processes import free_port
    from helpers.local.stack import spawn_moto, wait_until_healthy

    port = free_port()
    # Whatever the caller's shell says: the local Athena on, IAM not enforced (the benchmark's keys
    # are dummies), the AWS-like pace off.
    env = dict(
        os.environ, TUTORIAL_AWS_LIFECYCLE="off", TUTORIAL_AWS_ATHENA="on", TUTORIAL_AWS_IAM="", **(env_extra or {})
    )
    proc = spawn_moto(port, module="benchmarks.counting_emulator", env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(proc, url)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.contextmanager
def aws_environment(endpoint: str) -> Iterator[None]:
    """This process's AWS settings point at ``endpoint`` as a learner's would: AWS_ENDPOINT_URL,
    which botocore, aiobotocore (under s3fs) and helpers.datalake read; dummy keys. Restored after."""
    wanted = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    gone = ("AWS_PROFILE", "AWS_SESSION_TOKEN")
    saved = {k: os.environ.get(k) for k in (*wanted, *gone)}
    os.environ.update(wanted)
    for k in gone:
        os.environ.pop(k, None)
    _forget_filesystems()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _forget_filesystems()


def _forget_filesystems() -> None:
    """fsspec keeps one S3FileSystem per set of arguments: one made for another endpoint must go."""
    with contextlib.suppress(ImportError):
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()


def run(rows: int, athena: bool = True) -> dict:
    """Build the lake in a private emulator, ask every path, return the report (see ``report_text``)."""
    import boto3

    started = time.perf_counter()
    log(f"Data lake: {rows:,} rows")
    df = trips(rows)
    expected = expected_answer(df)
    with private_emulator() as endpoint, aws_environment(endpoint):
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        log("  writing CSV, Parquet and partitioned Parquet ...")
        lake = store(s3, df)
        del df
        meter = Meter(endpoint)
        warm_up(s3)
        paths = pandas_paths(BUCKET) + duckdb_paths(BUCKET, duckdb_connect)
        missing = athena_available() if athena else "left out (--no-athena)"
        if not missing:
            glue_tables(BUCKET, lake, boto3.client("glue"))
            athena_client = boto3.client("athena")
            warm_up_athena(athena_client)
            paths += athena_paths(athena_client)
        measured = []
        for p in paths:
            log(f"  {p.tool}, {p.storage} ...")
            m = measure(p, meter, expected)
            log(f"    {m.seconds:7.2f} s, {_mb(m.bytes_read or 0)} read, answer {'agrees' if m.answer_ok else 'WRONG'}")
            measured.append(m)
        if missing:
            measured += [
                Measured("Athena (local)", storage, "not measured", 0.0, 0, None, 0, [], None, missing)
                for storage in TABLES
            ]
    return {
        "meta": {
            "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "rows": rows,
            "question": f"total amount per category in {YEAR}-{MONTH:02d}",
            "seconds_total": round(time.perf_counter() - started, 1),
            "load_average": [round(x, 1) for x in os.getloadavg()],
        },
        "objects": {
            "CSV": sum(lake.under(CSV_KEY).values()),
            "Parquet": sum(lake.under(PARQUET_KEY).values()),
            "partitioned Parquet": sum(lake.under(PARTITIONED + "/").values()),
            "kept partition": sum(lake.under(lake.kept_partition).values()),
            "partitions": len(lake.under(PARTITIONED + "/")),
        },
        "results": [asdict(m) for m in measured],
        "targets": check_targets(measured, lake),
    }


# --------------------------------------------------------------------------- what the lesson adds to setup

LAKE_PINS = ("s3fs", "pyarrow", "duckdb", "duckdb-ext-httpfs")  # requirements.txt, for lesson 06


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements: Path) -> list[str]:
    """The ``name==version`` lines of a requirements file (no comments, no ``-e .``)."""
    lines = [line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("-")]


def added_distributions(requirements: Path = ROOT / "requirements.txt") -> dict[str, list[tuple[str, str, int]]]:
    """For each lesson 06 pin, in order: the distributions it brings that the rest did not already
    need, as ``(name, version, installed bytes)``, read from this environment's metadata."""
    import importlib.metadata as md

    from packaging.requirements import Requirement

    dists = {_norm(d.metadata["Name"]): d for d in md.distributions()}

    def closure(roots: list[Requirement]) -> set[str]:
        seen: set[str] = set()
        stack = [(r.name, tuple(r.extras)) for r in roots]
        while stack:
            name, extras = stack.pop()
            if _norm(name) in seen or _norm(name) not in dists:
                continue
            seen.add(_norm(name))
            for spec in dists[_norm(name)].requires or []:
                req = Requirement(spec)
                wanted = req.marker is None or any(req.marker.evaluate({"extra": e}) for e in ("", *extras))
                if wanted:
                    stack.append((req.name, tuple(req.extras)))
        return seen

    def installed_bytes(name: str) -> int:
        total = 0
        for f in dists[name].files or []:
            with contextlib.suppress(OSError):
                total += os.path.getsize(dists[name].locate_file(f))
        return total

    reqs = [Requirement(line) for line in _pins(requirements)]
    have = closure([r for r in reqs if _norm(r.name) not in LAKE_PINS])
    out = {}
    for pin in LAKE_PINS:
        new = sorted(closure([r for r in reqs if _norm(r.name) == pin]) - have)
        out[pin] = [(n, dists[n].version, installed_bytes(n)) for n in new]
        have |= set(new)
    return out


def _uv_install(args: list[str], tmp: Path, label: str) -> float:
    """Seconds of ``uv pip install ARGS`` into a new environment with an empty uv cache."""
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv is None:
        raise SystemExit("uv is not installed in this environment: run `make setup` first.")
    venv, cache = tmp / f"venv-{label}", tmp / f"cache-{label}"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "VIRTUAL_ENV"))} | {
        "UV_CACHE_DIR": str(cache)
    }
    start = time.perf_counter()
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *args],
        check=True,
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - start
    shutil.rmtree(venv, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    return seconds


def _wheel_bytes(pins: list[str], tmp: Path, label: str) -> int:
    """Bytes of the wheels ``pins`` download as (pip download, binary wheels only, no dependencies)."""
    into = tmp / f"wheels-{label}"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "-d",
            str(into),
            *pins,
        ],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    total = sum(f.stat().st_size for f in into.iterdir())
    shutil.rmtree(into, ignore_errors=True)
    return total


def setup_cost(repeats: int = 2, where: str | None = None) -> dict:
    """What lesson 06's four pins add to a fresh ``make setup`` with uv (cold caches): each pin's new
    distributions installed alone (``--no-deps``, so only what it adds), their wheels and installed size,
    and the whole requirements file installed with and without the four, in turn, ``repeats`` times each.

    ``where`` is the folder the environments and caches go in. On a machine whose disk other work
    keeps busy, one cold install on disk took anywhere from 47 to 88 s, with or without the pins
    alike: in memory (``/dev/shm``) the difference the pins make can be seen, not only the queue.
    """
    added = added_distributions()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-lake-setup-", dir=where) as t:
        tmp = Path(t)
        for pin, dists in added.items():
            pins = [f"{n}=={v}" for n, v, _ in dists]
            log(f"  uv, cold cache: {pin} and what it brings ({len(pins)} distributions) ...")
            seconds = _uv_install(["--no-deps", *pins], tmp, _norm(pin))
            rows.append(
                {
                    "pin": pin,
                    "distributions": [f"{n} {v}" for n, v, _ in dists],
                    "wheel_bytes": _wheel_bytes(pins, tmp, _norm(pin)),
                    "installed_bytes": sum(b for _, _, b in dists),
                    "seconds_alone": round(seconds, 1),
                }
            )
            log(f"    {seconds:6.1f} s")
        everything = _pins(ROOT / "requirements.txt")
        without = [line for line in everything if _norm(re.split(r"[\[=<>!~ ]", line, maxsplit=1)[0]) not in LAKE_PINS]
        # On a shared machine one cold install can take twice as long as the next: the two are
        # installed in turn, twice each, and the best of each counts.
        timings: dict[str, list[float]] = {"with": [], "without": []}
        for i in range(repeats):
            for label, lines in (("with", everything), ("without", without)):
                log(f"  uv, cold cache: requirements.txt {label} lesson 06's pins ({i + 1} of {repeats}) ...")
                timings[label].append(round(_uv_install(lines, tmp, f"{label}-{i}"), 1))
                log(f"    {timings[label][-1]:6.1f} s")
    return {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "pins": rows,
        "requirements_without_s": min(timings["without"]),
        "requirements_with_s": min(timings["with"]),
        "requirements_runs": timings,
        "folder": where or tempfile.gettempdir(),
    }


SETUP_TARGET_S = 15.0  # a fresh `make setup` with uv, cold caches, with lesson 06's pins


def setup_cost_markdown(cost: dict, fresh: dict | None = None) -> str:
    """The setup part of the section; ``fresh`` is benchmarks/results/fresh_setup.json when there is one."""
    lines = [""]
    if fresh and "uv_setup_s" in fresh.get("results", {}):
        uv_s, pip_s = fresh["results"]["uv_setup_s"], fresh["results"]["pip_setup_s"]
        met = "met" if uv_s < SETUP_TARGET_S else "not met"
        lines += [
            f"Fresh setup (`python -m benchmarks --only setup`, run {fresh['meta']['date']}, a fresh clone, cold "
            f"caches): `make setup` with uv {uv_s} s, with pip alone {pip_s} s. Target: under "
            f"{SETUP_TARGET_S:.0f} s with uv: {met}.",
            "",
        ]
    lines += [
        f"What lesson 06's pins add to a fresh setup with uv (run {cost['date']}, cold uv cache each time, "
        f"environments and caches in {cost.get('folder', 'a temporary folder')}, load "
        f"average {', '.join(str(x) for x in cost['load_average'])} at the end; "
        "`python -m benchmarks --only datalake --setup-cost`). Each pin's row installs only what it adds to the "
        "rest of requirements.txt (`uv pip install --no-deps`, into an empty environment):",
        "",
        "| pin | brings | wheels (download) | installed | seconds alone |",
        "|---|---|---:|---:|---:|",
    ]
    for r in cost["pins"]:
        lines.append(
            f"| {r['pin']} | {', '.join(r['distributions'])} | {_mb(r['wheel_bytes'])} | "
            f"{_mb(r['installed_bytes'])} | {r['seconds_alone']:.1f} |"
        )
    wheels = sum(r["wheel_bytes"] for r in cost["pins"])
    installed = sum(r["installed_bytes"] for r in cost["pins"])
    added = cost["requirements_with_s"] - cost["requirements_without_s"]
    runs = cost.get("requirements_runs", {})
    each = (
        f" (each run: with {', '.join(f'{x:.1f}' for x in runs['with'])} s; without "
        f"{', '.join(f'{x:.1f}' for x in runs['without'])} s)"
        if runs
        else ""
    )
    lines += [
        f"| all four | | {_mb(wheels)} | {_mb(installed)} | {sum(r['seconds_alone'] for r in cost['pins']):.1f} |",
        "",
        f"The whole requirements.txt (without `-e .`), cold, best of the runs: {cost['requirements_without_s']:.1f} s "
        f"without the four pins, {cost['requirements_with_s']:.1f} s with them ({added:+.1f} s){each}.",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the report


def _cells(r: dict) -> tuple[str, str, str]:
    """(bytes read, GETs, objects) of a result row; GETs and objects only where the meter saw them."""
    if r["bytes_read"] is None:
        return "-", "-", "-"
    if not r["metered"]:
        return f"{r['bytes_read']:,}", "-", "-"
    return f"{r['bytes_read']:,}", str(r["gets"]), str(len(r["objects"]))


def report_text(report: dict) -> str:
    meta, objects = report["meta"], report["objects"]
    lines = [
        "",
        f"Data lake: {meta['question']}, {meta['rows']:,} rows",
        f"  objects: CSV {_mb(objects['CSV'])}, Parquet {_mb(objects['Parquet'])}, partitioned Parquet "
        f"{_mb(objects['partitioned Parquet'])} in {objects['partitions']} objects "
        f"(the month asked for: {_mb(objects['kept partition'])})",
        "",
        f"  {'tool':<15} {'storage':<20} {'seconds':>8} {'bytes read':>12} {'GETs':>5} {'objects':>7}  answer",
    ]
    for r in report["results"]:
        nbytes, gets, objs = _cells(r)
        if r["bytes_read"] is None:
            lines.append(f"  {r['tool']:<15} {r['storage']:<20} {'-':>8} {nbytes:>12} {gets:>5} {objs:>7}  {r['note']}")
            continue
        answer = "agrees" if r["answer_ok"] else "WRONG"
        lines.append(
            f"  {r['tool']:<15} {r['storage']:<20} {r['seconds']:8.3f} {nbytes:>12} {gets:>5} {objs:>7}  {answer}"
        )
    lines += ["", "Targets"]
    for t in report["targets"]:
        lines.append(f"  {'met    ' if t['met'] else 'NOT MET'} {t['target']}: {t['measured']} (wanted {t['wanted']})")
    return "\n".join(lines)


def markdown(report: dict, command: str, machine: dict) -> str:
    """The section of benchmarks/RESULTS.md (from its own heading to the next one of its level)."""
    meta, objects, m = report["meta"], report["objects"], machine
    lines = [
        f"{SECTION_TITLE}: {meta['question']}, {meta['rows']:,} rows",
        "",
        f"Run {meta['date']}, command `{command}`, {m['cores']} cores, {m['cpu']}, Python {m['python']}, "
        f"load average {', '.join(str(x) for x in meta.get('load_average', []))} at the end (a machine shared "
        "with other work); a private emulator (the stack's launcher with a meter on every GetObject body, "
        "AWS-like pace off).",
        "Bytes read by pandas and DuckDB are what the emulator sent for GetObject during the question, counted "
        "on the server for both. The local Athena reads the emulator's S3 inside the emulator, not over HTTP: "
        "its bytes are its own DataScannedInBytes (counted as its DuckDB asks the objects for them). Fast "
        "paths run up to 5 times and the best time counts; every run gets a fresh DuckDB connection, so "
        "nothing is read from a cache. Times do not include imports (an untimed warm-up runs first).",
        "",
        f"Objects: CSV {_mb(objects['CSV'])}; Parquet {_mb(objects['Parquet'])}; partitioned Parquet "
        f"{_mb(objects['partitioned Parquet'])} in {objects['partitions']} objects, the month asked for "
        f"{_mb(objects['kept partition'])}.",
        "",
        "| tool | storage | call | seconds | bytes read | GETs | objects | answer | note |",
        "|---|---|---|---:|---:|---:|---:|---|---|",
    ]
    for r in report["results"]:
        nbytes, gets, objs = _cells(r)
        if r["bytes_read"] is None:
            lines.append(f"| {r['tool']} | {r['storage']} | not measured | - | - | - | - | - | {r['note']} |")
            continue
        notes = [r["note"]] if r["note"] else []
        if r["runs"] > 1:
            notes.append(f"best of {r['runs']}")
        if r["extra"].get("states"):
            notes.append(" -> ".join(r["extra"]["states"]))
        if r["extra"].get("data_scanned_bytes") is not None:
            mb, dollars = athena_cost(r["extra"]["data_scanned_bytes"])
            notes.append(f"on AWS billed as {mb} MB, ${dollars:.5f}")
        answer = "agrees" if r["answer_ok"] else "WRONG"
        lines.append(
            f"| {r['tool']} | {r['storage']} | `{r['method']}` | {r['seconds']:.3f} | {nbytes} | {gets} | {objs} | "
            f"{answer} | {'; '.join(notes)} |"
        )
    lines += ["", "| target | measured | wanted | met |", "|---|---|---|---|"]
    for t in report["targets"]:
        lines.append(f"| {t['target']} | {t['measured']} | {t['wanted']} | {'yes' if t['met'] else 'no'} |")
    return "\n".join(lines) + "\n"


def publish(section: str, results_md: Path = PUBLISHED) -> None:
    """Put ``section`` into RESULTS.md in place of the previous data lake section (or at the end),
    leaving every other section as it was."""
    text = results_md.read_text() if results_md.exists() else "# Benchmark results\n"
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(SECTION_TITLE)), None)
    if start is None:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        after = "".join(lines[end:])
        text = "".join(lines[:start]) + section + ("\n" + after if after else "")
    results_md.write_text(text)


def main(argv: list[str] | None = None) -> int:
    from benchmarks.run import machine

    p = argparse.ArgumentParser(prog="python -m benchmarks --only datalake", description=__doc__.splitlines()[0])
    p.add_argument("--only", default="datalake", help=argparse.SUPPRESS)
    p.add_argument("--lake-rows", type=int, default=1_000_000, help="rows in the table (default 1000000)")
    p.add_argument("--no-athena", action="store_true", help="leave the local Athena out")
    p.add_argument("--publish", action="store_true", help="also replace the data lake section of benchmarks/RESULTS.md")
    p.add_argument(
        "--setup-cost",
        action="store_true",
        help="also measure what lesson 06's pins add to a fresh setup with uv (several cold installs, minutes)",
    )
    p.add_argument(
        "--setup-cost-dir",
        default="/dev/shm" if Path("/dev/shm").is_dir() else None,
        help="where --setup-cost installs (default: /dev/shm, in memory, where there is one)",
    )
    args, _ = p.parse_known_args(argv)
    report = run(args.lake_rows, athena=not args.no_athena)
    print(report_text(report))
    command = "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:])
    section = markdown(report, command.strip(), machine())
    if args.setup_cost:
        print("\nWhat lesson 06's pins add to setup")
        cost = setup_cost(where=args.setup_cost_dir)
        report["setup_cost"] = cost
        fresh_json = RESULTS / "fresh_setup.json"
        fresh = json.loads(fresh_json.read_text()) if fresh_json.exists() else None
        section += setup_cost_markdown(cost, fresh)
        print(setup_cost_markdown(cost, fresh))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "datalake.json").write_text(json.dumps(report, indent=2, default=str))
    (RESULTS / "datalake.md").write_text(section)
    print(f"\nWrote {RESULTS.relative_to(HERE.parent)}/datalake.json and datalake.md")
    if args.publish:
        publish(section)
        print(f"Replaced the data lake section of {PUBLISHED.relative_to(HERE.parent)}.")
    return 0 if all(r["answer_ok"] is not False for r in report["results"]) else 1
