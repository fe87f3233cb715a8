"""Athena that runs queries: the emulator answers Athena's query calls with DuckDB over its own S3 and Glue.

moto keeps Athena's bookkeeping (workgroups, named queries, data catalogs) but runs no SQL: a query
it is given succeeds at once with no rows, and nothing is written to the output location. A lesson
that teaches Athena would then teach nothing, and code that forgets to wait for a query would pass.
This module takes over the four query calls and answers them as Athena does, running the SQL with
DuckDB, in process, over the objects in the emulator's S3 and the tables in moto's Glue Data Catalog
(moto keeps the catalog; this module only adds the engine):

* ``StartQueryExecution`` returns an id at once and queues the query; it runs on a worker thread,
  never on the request thread, so a slow query never blocks the server
  (https://docs.aws.amazon.com/athena/latest/APIReference/API_StartQueryExecution.html).
  The output location is ``ResultConfiguration.OutputLocation``, or the workgroup's, and the
  workgroup's wins when it enforces its configuration; with neither, the call is refused
  (https://docs.aws.amazon.com/athena/latest/ug/query-results-specify-location.html).
  ``ClientRequestToken`` makes a repeated call return the same id.
* ``GetQueryExecution`` / ``BatchGetQueryExecution``: the state goes ``QUEUED`` -> ``RUNNING`` ->
  ``SUCCEEDED``, or ``FAILED`` with ``StateChangeReason`` and an ``AthenaError``, or ``CANCELLED``
  (https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecutionStatus.html). Each state
  lasts a quarter of the emulator's lifecycle pace at least (helpers/local/aws_lifecycle.py, 2 s by
  default, so half a second), so that polling sees them; with the lifecycle switched off, a query
  moves as fast as it runs. ``Statistics`` (https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecutionStatistics.html)
  carry ``DataScannedInBytes``: the bytes the engine really read from S3 objects, counted as
  DuckDB reads them (for Parquet only the footers, columns and row groups it needs; for a
  partitioned table only the partitions the WHERE clause keeps; for CSV whole files), and the
  queue, engine and total times in milliseconds.
* ``GetQueryResults``: the header row first for a SELECT, then the data rows, every value a string
  (``VarCharValue``, absent for NULL), ``ResultSetMetadata.ColumnInfo`` with Athena's type names;
  ``MaxResults`` up to 1000 (the default) and ``NextToken`` paging; refused while the query has not
  succeeded (https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html).
* The result file: ``<OutputLocation>/<QueryExecutionId>.csv`` in the emulator's S3, every value
  quoted, a header row, NULL as an empty unquoted field; DDL results go to ``<id>.txt``
  (https://docs.aws.amazon.com/athena/latest/ug/querying-finding-output-files.html). The binary
  ``.metadata`` file Athena writes beside it is not written (nothing outside Athena can read it).
* ``StopQueryExecution``: a queued or running query is ``CANCELLED`` (DuckDB is interrupted);
  a finished one keeps its state (https://docs.aws.amazon.com/athena/latest/APIReference/API_StopQueryExecution.html).

Tables come from moto's Glue backend (https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-catalog-tables.html):
``StorageDescriptor.Location`` (every object under it is the table's data, except names starting
with ``_`` or ``.`` and empty folder markers, https://docs.aws.amazon.com/athena/latest/ug/tables-location-format.html),
``Columns``, ``PartitionKeys``, and the format from ``SerdeInfo.SerializationLibrary`` /
``InputFormat``: Parquet, delimited text (LazySimpleSerDe, ``field.delim``), OpenCSVSerde (quoted
CSV) and JSON lines; ``skip.header.line.count`` in the table parameters skips header lines.
A partitioned table reads only the partitions registered in Glue (CreatePartition,
BatchCreatePartition, https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-catalog-partitions.html),
each at its own location: with none registered it returns zero rows, as Athena does
(https://repost.aws/knowledge-center/athena-empty-results). ``MSCK REPAIR TABLE t`` run through
Athena registers the Hive-style prefixes (``year=2024/month=05/``) it finds under the table's
location (https://docs.aws.amazon.com/athena/latest/ug/msck-repair-table.html).

How the engine reads: each query gets its own DuckDB connection and its own fsspec file system that
serves the table's objects straight from moto's S3 backend in this process (the engine acts as the
service, so no participant's IAM policy and no HTTP round trip is involved) and counts every byte
DuckDB asks for. A table becomes a DuckDB view ``awsdatacatalog.<database>.<table>`` over
``read_parquet`` / ``read_csv`` / ``read_json`` with ``hive_partitioning``; each partition's files
appear under virtual ``key=value/`` folders built from the Glue partition values, so DuckDB prunes
partitions from the WHERE clause before opening any file. A zero-row Parquet file with the Glue
schema comes first in each file list, so DuckDB takes the column types from Glue and binds without
opening a data file (its bytes are not counted: it is not in S3).

Where DuckDB's SQL differs from Athena's (Trino), and what this engine does not do:

* Identifiers, ``db.table`` / ``"db"."table"`` / ``awsdatacatalog.db.table``, ``WITH``, joins,
  ``GROUP BY``, window functions, ``DATE '2024-05-01'``, ``CAST``, ``LIMIT`` behave alike.
  Integer division truncates, as in Trino (DuckDB's ``integer_division`` is switched on).
* Columns without an alias are named ``_col0``, ``_col1``... as Athena names them.
* DuckDB accepts more than Trino: implicit casts between strings and numbers, ``//``, ``LIMIT``
  in places Trino refuses, its own functions (``approx_count_distinct`` is Trino's
  ``approx_distinct``, which is also defined here). A query that works here may still fail on
  Athena; the lessons keep to SQL both accept.
* Trino-only functions (``date_format``, ``from_iso8601_*``, ``regexp_like``...), ``UNNEST`` with
  ``CROSS JOIN`` semantics, ``$path`` / ``$partition`` pseudo-columns, ``EXPLAIN``, and every
  statement other than a query and ``MSCK REPAIR TABLE`` (CREATE/DROP/ALTER, INSERT, CTAS, SHOW,
  DESCRIBE) are not supported: such a query FAILS with ``NOT_SUPPORTED`` and says so. Create
  databases, tables and partitions with the Glue API.
* Error messages name Athena's error codes (``TABLE_NOT_FOUND``, ``SCHEMA_NOT_FOUND``,
  ``SYNTAX_ERROR``) but the text after them is DuckDB's.
* No workgroup byte-scan cutoffs, no encryption, no result reuse, no Iceberg / views / federated
  catalogs; the result ``.metadata`` file is not written.

Switched by ``TUTORIAL_AWS_ATHENA`` in the emulator's environment (on unless ``off``): off leaves
moto's own Athena answering. Installed by helpers/local/moto_server.py.
"""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import decimal
import io
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

SWITCH = "TUTORIAL_AWS_ATHENA"
DEFAULT_CATALOG = "AwsDataCatalog"
MAX_RESULTS = 1000  # GetQueryResults: "MaxResults ... Valid Range: Minimum value of 0. Maximum value of 1000."
WORKERS = 2  # queries running at once; more wait QUEUED, as in an account's query queue
STATE_SHARE = 0.25  # each of QUEUED and RUNNING lasts at least this share of the lifecycle pace
PROTOCOL = "athena-engine"

# AthenaError categories (https://docs.aws.amazon.com/athena/latest/ug/error-reference.html):
# 1 SYSTEM, 2 USER; types 1000 "User error", 200 "Query engine had an internal error".
USER_ERROR = (2, 1000)
ENGINE_ERROR = (1, 200)

_LOCK = threading.RLock()
_QUERIES: dict[str, Query] = {}
_TOKENS: dict[tuple[str, str, str], str] = {}
_POOL: concurrent.futures.ThreadPoolExecutor | None = None
STATE = {"enabled": False, "installed": False}


def enabled_from_env(environ: dict[str, str] | os._Environ = os.environ) -> bool:
    """The switch as the stack passed it: on unless ``off`` (or 0/false/no)."""
    return environ.get(SWITCH, "on").strip().lower() not in {"0", "off", "false", "no"}


class QueryFailed(Exception):
    """A query that ends FAILED: ``message`` is the StateChangeReason, ``kind`` the AthenaError pair."""

    def __init__(self, message: str, kind: tuple[int, int] = USER_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


@dataclass
class Query:
    """One query execution, as GetQueryExecution reports it."""

    id: str
    account_id: str
    region: str
    sql: str
    context: dict[str, str]
    workgroup: str
    output_location: str  # folder, ending in "/"
    result_configuration: dict[str, Any]
    execution_parameters: list[str] | None
    submitted: float = field(default_factory=time.time)
    state: str = "QUEUED"
    reason: str | None = None
    error: tuple[int, int] | None = None
    started: float | None = None
    finished: float | None = None
    scanned: int = 0
    engine_ms: int = 0
    result_name: str | None = None  # file name in the output location
    columns: list[dict[str, Any]] = field(default_factory=list)
    rows: list[list[str | None]] = field(default_factory=list)
    cancel: threading.Event = field(default_factory=threading.Event)
    connection: Any = None
    # The caller's rights, when the emulator enforces IAM (iam_enforcement.caller_check): what the
    # query reads is authorised as the caller, as Athena does.
    check: Any = None

    @property
    def statement_type(self) -> str:
        word = _first_word(self.sql)
        if word in {"SELECT", "WITH", "VALUES", "TABLE", "(", "INSERT", "UPDATE", "DELETE", "MERGE"}:
            return "DML"
        if word in {"EXPLAIN", "DESCRIBE", "SHOW", "PREPARE", "EXECUTE", "DEALLOCATE"}:
            return "UTILITY"
        return "DDL"

    def describe(self) -> dict[str, Any]:
        """The QueryExecution structure (https://docs.aws.amazon.com/athena/latest/APIReference/API_QueryExecution.html)."""
        now = time.time()
        end = self.finished or now
        queue_end = self.started or (self.finished if self.finished else now)
        status: dict[str, Any] = {"State": self.state, "SubmissionDateTime": self.submitted}
        if self.finished is not None:
            status["CompletionDateTime"] = self.finished
        if self.reason:
            status["StateChangeReason"] = self.reason
        if self.error is not None:
            status["AthenaError"] = {
                "ErrorCategory": self.error[0],
                "ErrorType": self.error[1],
                "Retryable": False,
                "ErrorMessage": self.reason or "",
            }
        configuration = dict(self.result_configuration)
        configuration["OutputLocation"] = self.output_location + (
            self.result_name or f"{self.id}.{'csv' if self.statement_type == 'DML' else 'txt'}"
        )
        description: dict[str, Any] = {
            "QueryExecutionId": self.id,
            "Query": self.sql,
            "StatementType": self.statement_type,
            "ResultConfiguration": configuration,
            "ResultReuseConfiguration": {"ResultReuseByAgeConfiguration": {"Enabled": False}},
            "QueryExecutionContext": self.context,
            "Status": status,
            "Statistics": {
                "EngineExecutionTimeInMillis": self.engine_ms,
                "DataScannedInBytes": self.scanned,
                "TotalExecutionTimeInMillis": int((end - self.submitted) * 1000),
                "QueryQueueTimeInMillis": int((queue_end - self.submitted) * 1000),
                "ServicePreProcessingTimeInMillis": 0,
                "QueryPlanningTimeInMillis": 0,
                "ServiceProcessingTimeInMillis": 0,
                "ResultReuseInformation": {"ReusedPreviousResult": False},
            },
            "WorkGroup": self.workgroup,
            "EngineVersion": {
                "SelectedEngineVersion": "AUTO",
                "EffectiveEngineVersion": "Athena engine version 3",
            },
        }
        if self.statement_type == "DML" and _first_word(self.sql) in {"SELECT", "WITH", "VALUES", "TABLE", "("}:
            description["SubstatementType"] = "SELECT"
        if self.execution_parameters is not None:
            description["ExecutionParameters"] = self.execution_parameters
        return description


def _first_word(sql: str) -> str:
    text = re.sub(r"^(\s|--[^\n]*\n|/\*.*?\*/)+", "", sql, flags=re.S)
    if text.startswith("("):
        return "("
    match = re.match(r"[A-Za-z]+", text)
    return match.group(0).upper() if match else ""


# --------------------------------------------------------------------------- pacing


def _pace() -> float:
    """Seconds each state lasts at least: a share of the emulator's lifecycle pace, 0 when it is off."""
    try:
        from helpers.local.aws_lifecycle import CONFIG
    except ImportError:  # pragma: no cover - the module ships with the emulator
        return 0.0
    return CONFIG.pace * STATE_SHARE if CONFIG.enabled else 0.0


def _wait(query: Query, until: float) -> None:
    while not query.cancel.is_set() and time.time() < until:
        query.cancel.wait(min(0.05, max(0.0, until - time.time())))


# --------------------------------------------------------------------------- the S3 side


def _s3(account_id: str):
    from moto.s3.models import s3_backends

    return s3_backends[account_id]["aws"]


def split_s3_url(url: str) -> tuple[str, str]:
    """("bucket", "key/prefix") from ``s3://bucket/key/prefix``; ValueError for anything else."""
    if not url.lower().startswith("s3://"):
        raise ValueError(url)
    bucket, _, key = url[5:].partition("/")
    if not bucket:
        raise ValueError(url)
    return bucket, key


def _bucket(account_id: str, name: str):
    try:
        return _s3(account_id).get_bucket(name)
    except Exception:  # moto's MissingBucket
        return None


def list_data_objects(account_id: str, location: str) -> list[tuple[str, Any]]:
    """(key, FakeKey) of every data object under ``location``, as Athena reads a table's folder.

    Names starting with ``_`` or ``.`` (``_SUCCESS``, ``.crc``), folder markers (``.../``,
    ``..._$folder$``) and empty objects are not data.
    """
    from moto.s3.models import FakeKey

    bucket_name, prefix = split_s3_url(location)
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    bucket = _bucket(account_id, bucket_name)
    if bucket is None:
        return []
    found = []
    for name, key in list(bucket.keys.items()):
        if not name.startswith(prefix) or not isinstance(key, FakeKey):
            continue
        base = name.rsplit("/", 1)[-1]
        if not base or base.startswith(("_", ".")) or name.endswith("_$folder$") or key.size == 0:
            continue
        found.append((name, key))
    found.sort(key=lambda item: item[0])
    return found


def _read_range(key: Any, start: int, end: int) -> bytes:
    """Bytes [start, end) of a moto key, without copying the whole object."""
    buffer = getattr(key, "_value_buffer", None)
    lock = getattr(key, "lock", None)
    if buffer is None or lock is None:
        return key.value[start:end]
    with lock:
        buffer.seek(start)
        return buffer.read(max(0, end - start))


def _put(account_id: str, url: str, body: bytes) -> None:
    bucket, key = split_s3_url(url)
    _s3(account_id).put_object(bucket_name=bucket, key_name=key, value=body)


# --------------------------------------------------------------------------- the file system DuckDB reads


def _make_file_system():
    """An fsspec file system class serving virtual paths from moto keys, counting what is read."""
    from fsspec import AbstractFileSystem
    from fsspec.spec import AbstractBufferedFile

    class CountedFile(AbstractBufferedFile):
        def _fetch_range(self, start: int, end: int) -> bytes:
            return self.fs.fetch(self.path, start, end)

    class LakeFileSystem(AbstractFileSystem):
        """Files of one query: ``path -> moto key`` (counted) or ``path -> bytes`` (not S3 data)."""

        protocol = PROTOCOL
        cachable = False  # one instance per query: fsspec must not hand another query this one

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.files: dict[str, Any] = {}
            self.ranges: dict[str, list[tuple[int, int]]] = {}
            self._count_lock = threading.Lock()

        @property
        def scanned(self) -> int:
            """Distinct bytes read from S3 objects: a range DuckDB reads twice (a footer) counts once."""
            total = 0
            with self._count_lock:
                spans = {path: sorted(ranges) for path, ranges in self.ranges.items()}
            for ranges in spans.values():
                reach = 0
                for start, end in ranges:
                    if end > reach:
                        total += end - max(start, reach)
                        reach = end
            return total

        def add(self, path: str, source: Any) -> str:
            self.files[self._strip_protocol(path)] = source
            return f"{PROTOCOL}://{self._strip_protocol(path)}"

        def _size(self, source: Any) -> int:
            return len(source) if isinstance(source, bytes) else int(source.size)

        def fetch(self, path: str, start: int, end: int) -> bytes:
            path = self._strip_protocol(path)
            source = self.files[path]
            if isinstance(source, bytes):
                return source[start:end]
            data = _read_range(source, start, end)
            with self._count_lock:
                self.ranges.setdefault(path, []).append((start, start + len(data)))
            return data

        def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
            path = self._strip_protocol(path)
            if path in self.files:
                return {"name": path, "size": self._size(self.files[path]), "type": "file"}
            if any(name.startswith(path.rstrip("/") + "/") for name in self.files):
                return {"name": path, "size": 0, "type": "directory"}
            raise FileNotFoundError(path)

        def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list:
            path = self._strip_protocol(path).rstrip("/")
            entries: dict[str, dict[str, Any]] = {}
            for name, source in self.files.items():
                if name == path:
                    entries[name] = {"name": name, "size": self._size(source), "type": "file"}
                elif name.startswith(path + "/"):
                    rest = name[len(path) + 1 :]
                    if "/" in rest:
                        folder = f"{path}/{rest.split('/', 1)[0]}"
                        entries[folder] = {"name": folder, "size": 0, "type": "directory"}
                    else:
                        entries[name] = {"name": name, "size": self._size(source), "type": "file"}
            return list(entries.values()) if detail else list(entries)

        def modified(self, path: str) -> dt.datetime:
            source = self.files.get(self._strip_protocol(path))
            stamp = getattr(source, "last_modified", None)
            return stamp if isinstance(stamp, dt.datetime) else dt.datetime(2000, 1, 1, tzinfo=dt.UTC)

        def _open(self, path: str, mode: str = "rb", block_size: Any = None, **kwargs: Any):
            path = self._strip_protocol(path)
            if mode != "rb" or path not in self.files:
                raise FileNotFoundError(path)
            return CountedFile(
                self, path, mode, block_size=block_size or 1 << 20, cache_type="none", size=self._size(self.files[path])
            )

    return LakeFileSystem


_FS_CLASS = None


def new_file_system():
    """A fresh, empty counting file system (the class is built once, on first use)."""
    global _FS_CLASS
    if _FS_CLASS is None:
        _FS_CLASS = _make_file_system()
    return _FS_CLASS()


# --------------------------------------------------------------------------- Glue types


def _split_top(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "<(":
            depth += 1
        elif char in ">)":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current.strip())
    return parts


def duckdb_type(glue_type: str) -> str:
    """The DuckDB type for a Glue (Hive DDL) column type; unknown types read as VARCHAR.

    https://docs.aws.amazon.com/athena/latest/ug/data-types.html lists the types a Glue table uses.
    """
    text = glue_type.strip()
    lower = text.lower()
    simple = {
        "string": "VARCHAR",
        "tinyint": "TINYINT",
        "smallint": "SMALLINT",
        "int": "INTEGER",
        "integer": "INTEGER",
        "bigint": "BIGINT",
        "float": "FLOAT",
        "real": "FLOAT",
        "double": "DOUBLE",
        "boolean": "BOOLEAN",
        "date": "DATE",
        "timestamp": "TIMESTAMP",
        "binary": "BLOB",
    }
    if lower in simple:
        return simple[lower]
    if lower.startswith(("varchar", "char")):
        return "VARCHAR"
    if lower.startswith("decimal"):
        match = re.match(r"decimal\s*\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)", lower)
        return f"DECIMAL({match.group(1)},{match.group(2) or 0})" if match else "DECIMAL(10,0)"
    if lower.startswith("array<") and lower.endswith(">"):
        return duckdb_type(text[6:-1]) + "[]"
    if lower.startswith("map<") and lower.endswith(">"):
        key, value = _split_top(text[4:-1])
        return f"MAP({duckdb_type(key)}, {duckdb_type(value)})"
    if lower.startswith("struct<") and lower.endswith(">"):
        fields = []
        for part in _split_top(text[7:-1]):
            name, _, kind = part.partition(":")
            fields.append(f'"{name.strip()}" {duckdb_type(kind)}')
        return f"STRUCT({', '.join(fields)})"
    return "VARCHAR"


_SCHEMA_FILES: dict[tuple[tuple[str, str], ...], bytes] = {}


def _schema_file(columns: list[dict[str, Any]]) -> bytes:
    """A zero-row Parquet file with the Glue columns: what DuckDB binds the table's types from.

    Written by DuckDB itself (no pyarrow import in the emulator) and kept per column list.
    """
    import tempfile

    import duckdb

    shape = tuple((c["Name"].lower(), duckdb_type(c.get("Type", "string"))) for c in columns)
    with _LOCK:
        known = _SCHEMA_FILES.get(shape)
    if known is not None:
        return known
    select = ", ".join(f"CAST(NULL AS {kind}) AS {_quoted(name)}" for name, kind in shape) or "NULL AS _"
    with tempfile.TemporaryDirectory(prefix="athena-engine-") as folder:
        path = os.path.join(folder, "schema.parquet")
        connection = duckdb.connect(":memory:", config={"autoload_known_extensions": False})
        try:
            connection.execute(f"COPY (SELECT {select} LIMIT 0) TO {_literal(path)} (FORMAT parquet)")
        finally:
            connection.close()
        with open(path, "rb") as handle:
            data = handle.read()
    with _LOCK:
        _SCHEMA_FILES[shape] = data
    return data


# --------------------------------------------------------------------------- Glue tables


def _glue(account_id: str, region: str):
    from moto.glue.models import glue_backends

    return glue_backends[account_id][region]


def _find(mapping: dict[str, Any], name: str) -> Any:
    if name in mapping:
        return mapping[name]
    lowered = {key.lower(): value for key, value in mapping.items()}
    return lowered.get(name.lower())


def glue_table(account_id: str, region: str, database: str, table: str) -> tuple[dict[str, Any], list[Any]]:
    """(the table as GetTable returns it, its partitions) from moto's Glue backend; QueryFailed if absent.

    https://docs.aws.amazon.com/glue/latest/webapi/API_GetTable.html; Athena's messages for a missing
    schema or table are Trino's SCHEMA_NOT_FOUND / TABLE_NOT_FOUND.
    """
    backend = _glue(account_id, region)
    found_db = _find(backend.databases, database)
    if found_db is None:
        raise QueryFailed(f"SCHEMA_NOT_FOUND: line 1:1: Schema '{database}' does not exist")
    found = _find(found_db.tables, table)
    if found is None:
        raise QueryFailed(f"TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.{database}.{table}' does not exist")
    return found.as_dict(), list(found.partitions.values())


@dataclass
class TableFormat:
    kind: str  # parquet | text | json
    delimiter: str = ","
    quote: str = ""
    escape: str = ""
    skip: int = 0


def table_format(table: dict[str, Any]) -> TableFormat:
    """How the table's files are read, from its SerDe, input format and parameters.

    https://docs.aws.amazon.com/athena/latest/ug/supported-serdes.html: ParquetHiveSerDe,
    LazySimpleSerDe (``field.delim``, no quoting), OpenCSVSerde (``separatorChar``, ``quoteChar``,
    ``escapeChar``), the JSON SerDes; ``skip.header.line.count`` in the table's parameters.
    """
    descriptor = table.get("StorageDescriptor") or {}
    if (
        table.get("TableType") == "VIRTUAL_VIEW"
        or str((table.get("Parameters") or {}).get("table_type", "")).upper() == "ICEBERG"
    ):
        raise QueryFailed(
            f"NOT_SUPPORTED: the local Athena engine reads external tables over files; "
            f"'{table.get('Name')}' is a view or an Iceberg table"
        )
    serde = descriptor.get("SerdeInfo") or {}
    library = (serde.get("SerializationLibrary") or "").lower()
    input_format = (descriptor.get("InputFormat") or "").lower()
    serde_parameters = serde.get("Parameters") or {}
    parameters = {**(descriptor.get("Parameters") or {}), **(table.get("Parameters") or {})}
    try:
        skip = int(parameters.get("skip.header.line.count", 0))
    except ValueError:
        skip = 0
    classification = (parameters.get("classification") or "").lower()
    if "parquet" in library or "parquet" in input_format or classification == "parquet":
        return TableFormat("parquet")
    if "json" in library or classification == "json":
        return TableFormat("json")
    if "opencsv" in library:
        return TableFormat(
            "text",
            delimiter=serde_parameters.get("separatorChar", ","),
            quote=serde_parameters.get("quoteChar", '"'),
            escape=serde_parameters.get("escapeChar", "\\"),
            skip=skip,
        )
    if "lazysimple" in library or "textinputformat" in input_format or classification == "csv":
        delimiter = serde_parameters.get("field.delim") or serde_parameters.get("serialization.format")
        if not delimiter or (delimiter.isdigit() and len(delimiter) == 1):
            delimiter = "\x01"  # Hive's default field delimiter (^A) when none is declared
        return TableFormat("text", delimiter=delimiter, skip=skip)
    raise QueryFailed(
        f"NOT_SUPPORTED: the local Athena engine reads Parquet, CSV/text and JSON tables; "
        f"table '{table.get('Name')}' uses SerDe '{serde.get('SerializationLibrary')}'"
    )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def table_view_sql(account_id: str, fs: Any, database: str, name: str, table: dict, partitions: list) -> str:
    """The SELECT a DuckDB view runs for a Glue table: its files registered in ``fs``, partitions as folders."""
    descriptor = table.get("StorageDescriptor") or {}
    columns = descriptor.get("Columns") or []
    keys = table.get("PartitionKeys") or []
    fmt = table_format(table)
    location = descriptor.get("Location") or ""
    root = f"{quote(database, safe='')}/{quote(name, safe='')}"
    files: list[str] = []
    groups: list[tuple[list[str], str]] = []  # (values, location)
    if keys:
        for partition in partitions:
            values = [str(v) for v in partition.values]
            place = ((partition.partition_input.get("StorageDescriptor") or {}).get("Location")) or (
                location.rstrip("/") + "/" + "/".join(f"{k['Name']}={v}" for k, v in zip(keys, values, strict=False))
            )
            groups.append((values, place))
    else:
        groups.append(([], location))
    number = 0
    for values, place in groups:
        if not place:
            continue
        try:
            objects = list_data_objects(account_id, place)
        except ValueError:
            raise QueryFailed(
                f"HIVE_METASTORE_ERROR: table '{name}' has location '{place}', not an s3:// URL"
            ) from None
        folder = "/".join(
            f"{quote(k['Name'].lower(), safe='')}={quote(v, safe='')}" for k, v in zip(keys, values, strict=False)
        )
        for key_name, key in objects:
            base = key_name.rsplit("/", 1)[-1].replace("=", "_")
            files.append(fs.add(f"{root}/{folder + '/' if folder else ''}f{number}_{base}", key))
            number += 1
    names = [c["Name"].lower() for c in columns] + [k["Name"].lower() for k in keys]
    selected = ", ".join(_quoted(n) for n in names)
    hive = ""
    if keys:
        types = ", ".join(
            f"{_literal(k['Name'].lower())}: {_literal(duckdb_type(k.get('Type', 'string')))}" for k in keys
        )
        hive = f", hive_partitioning = true, hive_types = {{{types}}}"
    else:
        hive = ", hive_partitioning = false"
    if fmt.kind == "parquet":
        null_folder = "/".join(f"{quote(k['Name'].lower(), safe='')}=NULL" for k in keys)
        schema = fs.add(f"{root}/{null_folder + '/' if null_folder else ''}schema.parquet", _schema_file(columns))
        listing = ", ".join(_literal(f) for f in [schema, *files])
        return f"SELECT {selected} FROM read_parquet([{listing}]{hive})"
    if not files:
        empty = [
            f"CAST(NULL AS {duckdb_type(c.get('Type', 'string'))}) AS {_quoted(c['Name'].lower())}" for c in columns
        ]
        empty += [f"CAST(NULL AS {duckdb_type(k.get('Type', 'string'))}) AS {_quoted(k['Name'].lower())}" for k in keys]
        return f"SELECT {', '.join(empty)} WHERE false"
    listing = ", ".join(_literal(f) for f in files)
    typed = ", ".join(
        f"{_literal(c['Name'].lower())}: {_literal(duckdb_type(c.get('Type', 'string')))}" for c in columns
    )
    if fmt.kind == "json":
        return (
            f"SELECT {selected} FROM read_json([{listing}], format = 'newline_delimited', columns = {{{typed}}}{hive})"
        )
    options = (
        f"columns = {{{typed}}}, header = false, skip = {fmt.skip}, delim = {_literal(fmt.delimiter)}, "
        f"quote = {_literal(fmt.quote)}, escape = {_literal(fmt.escape)}, auto_detect = false, "
        "null_padding = true, nullstr = ['\\N', '']"
    )
    return f"SELECT {selected} FROM read_csv([{listing}], {options}{hive})"


# --------------------------------------------------------------------------- SQL


def referenced_tables(connection: Any, sql: str) -> list[list[str]]:
    """The table names a query reads, each as its dotted parts (CTE names excluded).

    Asked of the query's own connection: DuckDB's module-level default connection is shared.
    """
    import duckdb

    try:
        names = connection.get_table_names(sql, qualified=True)
    except duckdb.Error as exc:
        raise failure(exc) from None
    found = []
    for name in sorted(names):
        name = re.split(r"\s+AS\s+", name, maxsplit=1, flags=re.I)[0]
        found.append([part.strip('"') for part in re.findall(r'"(?:[^"]|"")*"|[^.]+', name)])
    return found


def _one_statement(connection: Any, sql: str) -> None:
    """Athena runs one statement per query; more, or an unknown first word, is refused before anything runs.

    Without a connection only the first word is checked.
    """
    import duckdb

    word = _first_word(sql)
    if word not in QUERIES:
        if word not in STATEMENTS:
            raise QueryFailed(f"SYNTAX_ERROR: line 1:1: mismatched input '{(sql.strip().split() or [''])[0]}'")
        return  # DDL and the like: run (MSCK) or refused as NOT_SUPPORTED by the caller
    if connection is None:
        return  # the first word only; the query's own connection parses it (_run_select)
    try:
        count = len(connection.extract_statements(sql))
    except duckdb.Error as exc:
        raise QueryFailed(f"SYNTAX_ERROR: {_first_line(str(exc))}") from None
    if count > 1:
        raise QueryFailed("SYNTAX_ERROR: Only one sql statement is allowed.")


def failure(exc: Exception) -> QueryFailed:
    """A DuckDB error as the FAILED reason Athena would give, under Trino's error code."""
    import duckdb

    text = _first_line(str(exc))
    lowered = text.lower()
    if isinstance(exc, duckdb.BinderException) and "column" in lowered:
        code = "COLUMN_NOT_FOUND"
    elif isinstance(exc, duckdb.CatalogException) and "function" in lowered:
        code = "FUNCTION_NOT_FOUND"
    elif isinstance(exc, (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)):
        code = "SYNTAX_ERROR"
    elif isinstance(exc, duckdb.ConversionException):
        code = "INVALID_CAST_ARGUMENT"
    elif isinstance(exc, (duckdb.IOException, duckdb.InvalidInputException)):
        code = "HIVE_BAD_DATA"
    else:
        code = "GENERIC_USER_ERROR"
    return QueryFailed(f"{code}: {text}")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def substitute_parameters(sql: str, parameters: list[str] | None) -> str:
    """ExecutionParameters fill the query's ``?`` placeholders in order, as SQL literals, outside strings.

    https://docs.aws.amazon.com/athena/latest/ug/querying-with-prepared-statements.html
    """
    if not parameters:
        return sql
    out, values, quote_char = [], list(parameters), None
    for char in sql:
        if quote_char:
            quote_char = None if char == quote_char else quote_char
            out.append(char)
        elif char in "'\"":
            quote_char = char
            out.append(char)
        elif char == "?" and values:
            out.append(values.pop(0))
        else:
            out.append(char)
    return "".join(out)


def result_names(connection: Any, sql: str, described: list[str]) -> list[str]:
    """Athena's column labels: an unaliased expression is ``_colN``; a column or alias keeps its name."""
    try:
        tree = json.loads(connection.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
        node = tree["statements"][0]["node"]
        while node.get("type") == "SET_OPERATION_NODE":
            node = node["left"]
        items = node.get("select_list") or []
    except Exception:  # a statement the serializer does not know: keep DuckDB's names
        return described
    if len(items) != len(described) or any(item.get("class") == "STAR" for item in items):
        return described
    names = []
    for index, (item, name) in enumerate(zip(items, described, strict=False)):
        if item.get("alias") or item.get("class") == "COLUMN_REF":
            names.append(name)
        else:
            names.append(f"_col{index}")
    return names


# Athena's names (ColumnInfo.Type) and precision for DuckDB result types.
_ATHENA_TYPES = {
    "VARCHAR": ("varchar", 2147483647, True),
    "BIGINT": ("bigint", 19, False),
    "HUGEINT": ("bigint", 19, False),  # DuckDB sums BIGINTs into HUGEINT; Trino's sum(bigint) is bigint
    "UBIGINT": ("bigint", 19, False),
    "INTEGER": ("integer", 10, False),
    "UINTEGER": ("bigint", 19, False),
    "SMALLINT": ("smallint", 5, False),
    "TINYINT": ("tinyint", 3, False),
    "DOUBLE": ("double", 17, False),
    "FLOAT": ("float", 17, False),
    "BOOLEAN": ("boolean", 0, False),
    "DATE": ("date", 0, False),
    "TIMESTAMP": ("timestamp", 3, False),
    "TIMESTAMP WITH TIME ZONE": ("timestamp with time zone", 3, False),
    "TIME": ("time", 3, False),
    "BLOB": ("varbinary", 2147483647, False),
    "INTERVAL": ("interval day to second", 0, False),
    "UUID": ("uuid", 0, False),
}


def column_info(name: str, duck_type: str) -> dict[str, Any]:
    """One ResultSetMetadata.ColumnInfo (https://docs.aws.amazon.com/athena/latest/APIReference/API_ColumnInfo.html)."""
    text = str(duck_type).upper()
    precision, scale = 0, 0
    if text.startswith("DECIMAL"):
        match = re.match(r"DECIMAL\((\d+),\s*(\d+)\)", text)
        kind, case = "decimal", False
        if match:
            precision, scale = int(match.group(1)), int(match.group(2))
    elif text.endswith("[]"):
        kind, case = "array", False
    elif text.startswith("MAP"):
        kind, case = "map", False
    elif text.startswith("STRUCT"):
        kind, case = "row", False
    else:
        kind, precision, case = _ATHENA_TYPES.get(text, ("varchar", 2147483647, True))
    return {
        "CatalogName": "hive",
        "SchemaName": "",
        "TableName": "",
        "Name": name,
        "Label": name,
        "Type": kind,
        "Precision": precision,
        "Scale": scale,
        "Nullable": "UNKNOWN",
        "CaseSensitive": case,
    }


def java_double(value: float) -> str:
    """A double as Trino prints it (Java's Double.toString): ``2.5``, ``10.0``, ``1.0E7``, ``1.0E-4``."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if str(value).startswith("-") else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(float(value))
        return text if ("." in text or "e" in text) else text + ".0"
    sign, digits, exponent = decimal.Decimal(repr(float(value))).normalize().as_tuple()
    shown = "".join(map(str, digits))
    power = exponent + len(shown) - 1
    return f"{'-' if sign else ''}{shown[0]}.{shown[1:] or '0'}E{power}"


def _shortest_float32(value: float) -> float:
    """The shortest decimal that reads back as the same 32-bit float (Java's Float.toString digits)."""
    import struct

    single = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 10):
        candidate = float(f"{single:.{digits}g}")
        if struct.unpack("f", struct.pack("f", candidate))[0] == single:
            return candidate
    return single


def as_text(value: Any, duck_type: str = "") -> str | None:
    """A value as Athena writes it in results: Trino's text form, None for NULL."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if str(duck_type).upper() == "FLOAT":
            return java_double(_shortest_float32(value))
        return java_double(value)
    if isinstance(value, dt.datetime):
        text = value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        return text + (value.strftime(" %Z") if value.tzinfo else "")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M:%S.%f")[:-3]
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return " ".join(f"{b:02x}" for b in value)
    if isinstance(value, list):
        return "[" + ", ".join("null" if v is None else as_text(v) or "" for v in value) + "]"
    if isinstance(value, dict):
        if set(value) == {"key", "value"} and isinstance(value["key"], list):  # a DuckDB MAP
            pairs = zip(value["key"], value["value"], strict=False)
            return "{" + ", ".join(f"{as_text(k)}={'null' if v is None else as_text(v)}" for k, v in pairs) + "}"
        return "{" + ", ".join(f"{k}={'null' if v is None else as_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def result_csv(header: list[str] | None, rows: Iterable[list[str | None]]) -> bytes:
    """Athena's result file: every value in double quotes, NULL as an empty unquoted field."""
    out = io.StringIO()

    def line(values: Iterable[str | None]) -> str:
        return ",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in values) + "\n"

    if header is not None:
        out.write(line(header))
    for row in rows:
        out.write(line(row))
    return out.getvalue().encode("utf-8")


# --------------------------------------------------------------------------- running a query


def _connect():
    """A private in-memory DuckDB for one query: no extensions loaded, no local files, Trino's division.

    The engine reads S3 objects in process through its own counting file system, so it needs
    neither httpfs nor an S3 secret (helpers/datalake.py's connection is for code that reads
    through an S3 endpoint).
    """
    import duckdb

    connection = duckdb.connect(
        ":memory:",
        config={
            "threads": 2,
            "memory_limit": "1GB",
            "enable_external_file_cache": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "python_enable_replacements": False,
            "integer_division": True,
        },
    )
    connection.execute("CREATE MACRO approx_distinct(x) AS approx_count_distinct(x)")
    return connection


def _authorise_reads(query: Query, database: str, name: str, table: dict[str, Any], partitions: list[Any]) -> None:
    """Athena reads a table's metadata and data with the caller's rights: glue:GetTable (and
    glue:GetPartitions for a partitioned table), s3:ListBucket and s3:GetObject on its location
    (https://docs.aws.amazon.com/athena/latest/ug/access.html). A refusal fails the query, with
    the sentences Athena uses."""
    if query.check is None:
        return
    arn = f"arn:aws:glue:{query.region}:{query.account_id}:table/{database}/{name}"
    for action in ("glue:GetTable", *(["glue:GetPartitions"] if table.get("PartitionKeys") else [])):
        refused = query.check(action, arn)
        if refused:
            raise QueryFailed(f"Insufficient permissions to execute the query. Error: {refused}")
    locations = [(table.get("StorageDescriptor") or {}).get("Location", "")]
    for partition in partitions:
        described = partition.as_dict() if hasattr(partition, "as_dict") else partition
        locations.append((described.get("StorageDescriptor") or {}).get("Location", ""))
    for location in dict.fromkeys(loc for loc in locations if loc.startswith(("s3://", "s3a://"))):
        bucket, _, key = location.split("://", 1)[1].partition("/")
        for action, resource in (
            ("s3:ListBucket", f"arn:aws:s3:::{bucket}"),
            ("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}"),
        ):
            if query.check(action, resource):
                raise QueryFailed(f"Permission denied on S3 path: {location}")


def _prepare(query: Query, connection: Any, sql: str) -> Any:
    """Views for every table the query names, in an ``awsdatacatalog`` catalog; returns the file system."""
    fs = new_file_system()
    connection.register_filesystem(fs)
    connection.execute("ATTACH ':memory:' AS awsdatacatalog")
    default_db = (query.context.get("Database") or "default").lower()
    catalog = (query.context.get("Catalog") or DEFAULT_CATALOG).lower()
    made: set[str] = set()
    for parts in referenced_tables(connection, sql):
        if len(parts) == 3:
            named_catalog, database, name = parts
        elif len(parts) == 2:
            named_catalog, (database, name) = catalog, parts
        else:
            named_catalog, database, name = catalog, default_db, parts[0]
        if named_catalog.lower() != DEFAULT_CATALOG.lower():
            raise QueryFailed(f"CATALOG_NOT_FOUND: line 1:1: Catalog '{named_catalog}' does not exist")
        table, partitions = glue_table(query.account_id, query.region, database, name)
        _authorise_reads(query, database, name, table, partitions)
        view = table_view_sql(query.account_id, fs, database.lower(), name.lower(), table, partitions)
        if database.lower() not in made:
            connection.execute(f"CREATE SCHEMA IF NOT EXISTS awsdatacatalog.{_quoted(database.lower())}")
            made.add(database.lower())
        connection.execute(f"CREATE VIEW awsdatacatalog.{_quoted(database.lower())}.{_quoted(name.lower())} AS {view}")
    connection.execute(f"CREATE SCHEMA IF NOT EXISTS awsdatacatalog.{_quoted(default_db)}")
    connection.execute(f"USE awsdatacatalog.{_quoted(default_db)}")
    connection.execute("SET disabled_filesystems = 'LocalFileSystem'")
    return fs


def _run_select(query: Query, sql: str) -> None:
    import duckdb

    connection = _connect()
    query.connection = connection
    try:
        _one_statement(connection, sql)
        fs = _prepare(query, connection, sql)
        if query.cancel.is_set():
            return
        try:
            cursor = connection.execute(sql)
            described = [d[0] for d in cursor.description or []]
            types = [str(d[1]) for d in cursor.description or []]
            fetched = cursor.fetchall()
        except duckdb.InterruptException:
            return
        except duckdb.Error as exc:
            raise failure(exc) from None
        names = result_names(connection, sql, described)
        query.columns = [column_info(n, t) for n, t in zip(names, types, strict=False)]
        query.rows = [names] + [[as_text(v, t) for v, t in zip(row, types, strict=False)] for row in fetched]
        query.scanned = fs.scanned
        query.result_name = f"{query.id}.csv"
        _put(query.account_id, query.output_location + query.result_name, result_csv(names, query.rows[1:]))
    finally:
        query.connection = None
        connection.close()


# Statements Athena knows (https://docs.aws.amazon.com/athena/latest/ug/ddl-sql-reference.html and the
# DML reference); any other first word is a syntax error, as on Athena.
STATEMENTS = {
    "ALTER",
    "CREATE",
    "DROP",
    "DESCRIBE",
    "SHOW",
    "MSCK",
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "UNLOAD",
    "EXPLAIN",
    "PREPARE",
    "EXECUTE",
    "DEALLOCATE",
    "OPTIMIZE",
    "VACUUM",
    "USE",
    "CALL",
}
QUERIES = {"SELECT", "WITH", "VALUES", "TABLE", "("}
MSCK = re.compile(r"^\s*MSCK\s+REPAIR\s+TABLE\s+([`\"\w.]+)\s*;?\s*$", re.I)


def _repair(query: Query, target: str) -> None:
    """MSCK REPAIR TABLE: register the Hive-style partitions found under the table's location in Glue."""
    parts = [p.strip('`"') for p in target.split(".")]
    database, name = (
        (parts[-2], parts[-1]) if len(parts) >= 2 else (query.context.get("Database") or "default", parts[0])
    )
    table, partitions = glue_table(query.account_id, query.region, database, name)
    keys = [k["Name"] for k in table.get("PartitionKeys") or []]
    descriptor = table.get("StorageDescriptor") or {}
    location = (descriptor.get("Location") or "").rstrip("/") + "/"
    lines: list[str] = []
    if keys:
        known = {tuple(str(v) for v in p.values) for p in partitions}
        found: dict[tuple[str, ...], str] = {}
        _, prefix = split_s3_url(location)
        for key_name, _key in list_data_objects(query.account_id, location):
            segments = key_name[len(prefix) :].split("/")[:-1]
            if len(segments) < len(keys):
                continue
            pairs = [s.split("=", 1) for s in segments[: len(keys)]]
            if any(len(p) != 2 or p[0].lower() != k.lower() for p, k in zip(pairs, keys, strict=False)):
                continue
            values = tuple(unquote(p[1]) for p in pairs)
            found.setdefault(values, location + "/".join(segments[: len(keys)]) + "/")
        new = [v for v in sorted(found) if v not in known]
        backend = _glue(query.account_id, query.region)
        glue_db = _find(backend.databases, database)
        glue_name = _find(glue_db.tables, name).name
        for values in new:
            spec = "/".join(f"{k}={v}" for k, v in zip(keys, values, strict=False))
            lines.append(f"Partitions not in metastore:\t{name}:{spec}")
        for values in new:
            spec = "/".join(f"{k}={v}" for k, v in zip(keys, values, strict=False))
            backend.create_partition(
                glue_db.name,
                glue_name,
                {"Values": list(values), "StorageDescriptor": {**descriptor, "Location": found[values]}},
            )
            lines.append(f"Repair: Added partition to metastore {name}:{spec}")
    query.columns = [column_info("result", "VARCHAR")]
    query.rows = [[line] for line in lines]
    query.result_name = f"{query.id}.txt"
    _put(query.account_id, query.output_location + query.result_name, "".join(f"{line}\n" for line in lines).encode())


def _execute(query: Query) -> None:
    """The worker: QUEUED for its share of the pace, RUNNING while DuckDB works, then the end state."""
    pace = _pace()
    _wait(query, query.submitted + pace)
    with _LOCK:
        if query.cancel.is_set():
            return
        query.state = "RUNNING"
        query.started = time.time()
    try:
        bucket, _ = split_s3_url(query.output_location)
        if _bucket(query.account_id, bucket) is None:
            raise QueryFailed(f"Unable to verify/create output bucket {bucket}", ENGINE_ERROR)
        sql = substitute_parameters(query.sql, query.execution_parameters)
        _one_statement(None, sql)
        repair = MSCK.match(sql)
        if repair:
            _repair(query, repair.group(1))
        elif _first_word(sql) in QUERIES:
            _run_select(query, sql.strip().rstrip(";"))
        else:
            raise QueryFailed(
                f"NOT_SUPPORTED: the local Athena engine runs queries and MSCK REPAIR TABLE only, not "
                f"{_first_word(sql) or 'this statement'}; create databases, tables and partitions with the Glue API"
            )
        ended, reason, error = "SUCCEEDED", None, None
    except QueryFailed as exc:
        ended, reason, error = "FAILED", exc.message, exc.kind
    except Exception as exc:  # an engine fault is a FAILED query, never a dead worker
        ended, reason, error = "FAILED", f"INTERNAL_ERROR: {type(exc).__name__}: {_first_line(str(exc))}", ENGINE_ERROR
    query.engine_ms = int((time.time() - (query.started or time.time())) * 1000)
    _wait(query, (query.started or time.time()) + pace)
    with _LOCK:
        if query.cancel.is_set():
            return
        query.state, query.reason, query.error = ended, reason, error
        query.finished = time.time()


def _pool() -> concurrent.futures.ThreadPoolExecutor:
    global _POOL
    with _LOCK:
        if _POOL is None:
            _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="athena-engine")
        return _POOL


# --------------------------------------------------------------------------- the API


class Refused(Exception):
    """An API call Athena refuses: InvalidRequestException with this message."""


def start(
    account_id: str,
    region: str,
    sql: str,
    context: dict[str, str] | None,
    result_configuration: dict[str, Any] | None,
    workgroup_name: str | None,
    execution_parameters: list[str] | None = None,
    client_token: str | None = None,
    check: Any = None,
) -> str:
    """Queue a query; its id. Refused for an unknown workgroup or when no output location is known.

    ``check``: the caller's rights (iam_enforcement.caller_check), for what the query reads."""
    from moto.athena.models import Execution, athena_backends

    backend = athena_backends[account_id][region]
    workgroup_name = workgroup_name or "primary"
    workgroup = backend.work_groups.get(workgroup_name)
    if workgroup is None:
        raise Refused(f"WorkGroup {workgroup_name} is not found.")
    if client_token:
        with _LOCK:
            known = _TOKENS.get((account_id, region, client_token))
        if known is not None:
            return known
    if not sql or not sql.strip():
        raise Refused("QueryString must not be empty.")
    configuration = dict(result_configuration or {})
    group_configuration = (workgroup.configuration or {}).get("ResultConfiguration") or {}
    enforced = bool((workgroup.configuration or {}).get("EnforceWorkGroupConfiguration"))
    location = configuration.get("OutputLocation")
    if group_configuration.get("OutputLocation") and (enforced or not location):
        location = group_configuration["OutputLocation"]
    if not location:
        raise Refused(
            "No output location provided. An output location is required either through the Workgroup "
            "result configuration setting or as an API input."
        )
    try:
        split_s3_url(location)
    except ValueError:
        raise Refused(f"OutputLocation {location} is not a valid S3 location (s3://bucket/prefix/).") from None
    if not location.endswith("/"):
        location += "/"
    query_id = str(uuid.uuid4())
    query = Query(
        id=query_id,
        account_id=account_id,
        region=region,
        sql=sql,
        context=dict(context or {}),
        workgroup=workgroup_name,
        output_location=location,
        result_configuration={k: v for k, v in configuration.items() if k != "OutputLocation"},
        execution_parameters=execution_parameters,
        check=check,
    )
    # moto's own record, so ListQueryExecutions (left to moto) lists it under its workgroup
    record = Execution(sql, context, {}, workgroup, execution_parameters)
    record.id = query_id
    backend.executions[query_id] = record
    with _LOCK:
        _QUERIES[query_id] = query
        if client_token:
            _TOKENS[(account_id, region, client_token)] = query_id
    _pool().submit(_execute, query)
    return query_id


def get(account_id: str, query_id: str) -> Query:
    """The query with this id in this account; Refused as Athena refuses an unknown id."""
    with _LOCK:
        query = _QUERIES.get(query_id or "")
    if query is None or query.account_id != account_id:
        raise Refused(f"QueryExecution {query_id} was not found")
    return query


def result_location(account_id: str, query_id: str) -> str | None:
    """Where the query's result file is (``s3://bucket/key``), or None for a query this engine does
    not know: what GetQueryResults reads, with the caller's rights (IAM enforcement checks them)."""
    with _LOCK:
        query = _QUERIES.get(query_id or "")
    if query is None or query.account_id != account_id:
        return None
    return query.output_location + (query.result_name or f"{query.id}.csv")


def stop(account_id: str, query_id: str) -> None:
    """Cancel a queued or running query; a finished one keeps its state."""
    query = get(account_id, query_id)
    with _LOCK:
        if query.state not in {"QUEUED", "RUNNING"}:
            return
        query.cancel.set()
        query.state = "CANCELLED"
        query.reason = "Query cancelled by user"
        query.finished = time.time()
        connection = query.connection
    if connection is not None:
        try:
            connection.interrupt()
        except Exception:  # the query may have ended between the two lines
            pass


def results(account_id: str, query_id: str, max_results: int | None, token: str | None) -> dict[str, Any]:
    """One page of GetQueryResults."""
    query = get(account_id, query_id)
    if query.state in {"QUEUED", "RUNNING"}:
        raise Refused(f"Query has not yet finished. Current state: {query.state}")
    if query.state != "SUCCEEDED":
        raise Refused(f"Query did not finish successfully. Final query state: {query.state}")
    limit = MAX_RESULTS if max_results is None else int(max_results)
    if limit < 1 or limit > MAX_RESULTS:
        raise Refused(
            f"1 validation error detected: Value '{limit}' at 'maxResults' failed to satisfy constraint: "
            f"Member must have value less than or equal to {MAX_RESULTS}"
        )
    start_at = 0
    if token:
        try:
            owner, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
            start_at = int(offset)
            if owner != query.id:
                raise ValueError(owner)
        except ValueError:
            raise Refused("The NextToken is not valid for this query.") from None
    page = query.rows[start_at : start_at + limit]
    answer: dict[str, Any] = {
        "UpdateCount": 0,
        "ResultSet": {
            "Rows": [{"Data": [{} if v is None else {"VarCharValue": v} for v in row]} for row in page],
            "ResultSetMetadata": {"ColumnInfo": query.columns},
        },
    }
    if start_at + limit < len(query.rows):
        answer["NextToken"] = base64.urlsafe_b64encode(f"{query.id}:{start_at + limit}".encode()).decode()
    return answer


# --------------------------------------------------------------------------- moto's side


def _patch_responses() -> None:
    from moto.athena.responses import AthenaResponse

    from helpers.local import iam_enforcement

    originals = {
        name: getattr(AthenaResponse, name)
        for name in ("start_query_execution", "get_query_execution", "get_query_results", "stop_query_execution")
    }

    def answer(call):
        def method(self: AthenaResponse):
            if not STATE["enabled"]:
                original = originals.get(call.__name__)
                return original(self) if original else self.error(f"{call.__name__} is not supported", 400)
            try:
                return json.dumps(call(self))
            except Refused as exc:
                return self.error(str(exc), 400)

        method.__name__ = call.__name__
        return method

    def start_query_execution(self: AthenaResponse) -> dict[str, Any]:
        query_id = start(
            self.current_account,
            self.region,
            self._get_param("QueryString"),
            self._get_param("QueryExecutionContext"),
            self._get_param("ResultConfiguration"),
            self._get_param("WorkGroup"),
            self._get_param("ExecutionParameters"),
            self._get_param("ClientRequestToken"),
            check=iam_enforcement.caller_check(self.current_account, self.headers),
        )
        return {"QueryExecutionId": query_id}

    def get_query_execution(self: AthenaResponse) -> dict[str, Any]:
        return {"QueryExecution": get(self.current_account, self._get_param("QueryExecutionId")).describe()}

    def batch_get_query_execution(self: AthenaResponse) -> dict[str, Any]:
        found, missing = [], []
        for query_id in self._get_param("QueryExecutionIds") or []:
            try:
                found.append(get(self.current_account, query_id).describe())
            except Refused as exc:
                missing.append({"QueryExecutionId": query_id, "ErrorCode": "INVALID_INPUT", "ErrorMessage": str(exc)})
        return {"QueryExecutions": found, "UnprocessedQueryExecutionIds": missing}

    def get_query_results(self: AthenaResponse) -> dict[str, Any]:
        return results(
            self.current_account,
            self._get_param("QueryExecutionId"),
            self._get_param("MaxResults"),
            self._get_param("NextToken"),
        )

    def stop_query_execution(self: AthenaResponse) -> dict[str, Any]:
        stop(self.current_account, self._get_param("QueryExecutionId"))
        return {}

    AthenaResponse.start_query_execution = answer(start_query_execution)
    AthenaResponse.get_query_execution = answer(get_query_execution)
    AthenaResponse.get_query_results = answer(get_query_results)
    AthenaResponse.stop_query_execution = answer(stop_query_execution)
    if not hasattr(AthenaResponse, "batch_get_query_execution"):
        AthenaResponse.batch_get_query_execution = answer(batch_get_query_execution)


def install(enabled: bool = True) -> None:
    """Patch moto's Athena responses (once per process); ``enabled`` False leaves moto's answers."""
    with _LOCK:
        if not STATE["installed"]:
            _patch_responses()
            STATE["installed"] = True
        STATE["enabled"] = enabled
