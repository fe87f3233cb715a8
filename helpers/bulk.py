"""Fast paths for moving many rows: S3 CSV -> PostgreSQL with COPY.

Why: the default ways (``pandas.to_sql``, a loop of inserts) send one statement per row, or
a few, and at a million rows the round trips, not the data, are what you wait for.
PostgreSQL's ``COPY ... FROM STDIN`` takes the whole file in one statement. (DynamoDB's
``Table.batch_writer()``, 25 items per request, is taught in lesson 05's own cells: a helper
would hide the call the lesson is about.)

* :func:`copy_csv_from_s3` streams the S3 object straight into ``COPY``: no temporary file,
  no DataFrame, so memory stays flat however large the CSV is. It checks the CSV header
  against the table before sending a byte (a CSV with other columns is refused with a
  :class:`~helpers.errors.TutorialError`), and runs in the caller's transaction.
* :func:`peak_rss_mib` reports the process's peak resident memory, to show the first point.
"""

from __future__ import annotations

import csv
import io
import resource
import sys
from dataclasses import dataclass

from helpers.errors import TutorialError

USERS_COLUMNS = ["id", "name", "age", "email", "city", "score", "signup_date"]
USERS_DDL = (
    "CREATE TABLE {} (id integer PRIMARY KEY, name text NOT NULL, age integer, email text, city text, "
    "score numeric(7, 2), signup_date date)"
)

COPY_CHUNK = 1 << 16  # bytes handed to COPY per read; psycopg2's default (8 KiB) costs more calls


@dataclass(frozen=True)
class CopyResult:
    """What :func:`copy_csv_from_s3` did: the table, the columns in CSV order, rows loaded."""

    table: str
    columns: tuple[str, ...]
    rows: int


class _HeaderedStream:
    """A read(size) file over an S3 body whose first line (the header) was already consumed."""

    def __init__(self, body, leftover: bytes) -> None:
        self._body = body
        self._leftover = leftover

    def read(self, size: int = -1) -> bytes:
        if self._leftover:
            out, self._leftover = self._leftover, b""
            return out
        return self._body.read(size if size and size > 0 else COPY_CHUNK)

    def readline(self, size: int = -1) -> bytes:  # psycopg2 only needs read(), kept for file-likeness
        return self.read(size)


def read_header(body, limit: int = 1 << 20) -> tuple[list[str], bytes]:
    """Read the CSV's first line from a stream; return its column names and the bytes after it."""
    buf = b""
    while b"\n" not in buf:
        chunk = body.read(COPY_CHUNK)
        if not chunk:
            break
        buf += chunk
        if len(buf) > limit:
            raise TutorialError(
                "The CSV's first line is longer than 1 MiB: this does not look like a header.",
                "Check that the object is a CSV with a header row (name,age,...).",
            )
    line, _, rest = buf.partition(b"\n")
    text = line.decode("utf-8-sig").rstrip("\r")
    names = next(csv.reader([text]), [])
    return [n.strip() for n in names], rest


def table_columns(conn, table: str) -> list[str]:
    """The table's column names in order; TutorialError if there is no such table."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) "
            "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            (table,),
        )
        found = [row[0] for row in cur.fetchall()]
    if not found:
        raise TutorialError(f"Table {table!r} does not exist (or has no columns).", "Create it before loading into it.")
    return found


def check_columns(header: list[str], expected: list[str], where: str) -> None:
    """Refuse a CSV whose header is not exactly the expected set of columns (order may differ)."""
    missing = [c for c in expected if c not in header]
    extra = [c for c in header if c not in expected]
    dupes = sorted({c for c in header if header.count(c) > 1})
    if missing or extra or dupes:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        if dupes:
            parts.append(f"repeated {', '.join(dupes)}")
        raise TutorialError(
            f"{where} has columns {', '.join(header) or '(none)'}; the table expects "
            f"{', '.join(expected)} ({'; '.join(parts)}).",
            "Fix the CSV (or pass columns=[...] naming the table columns it holds). Nothing was loaded.",
        )


def copy_csv_from_s3(
    conn, bucket: str, key: str, table: str, *, columns: list[str] | None = None, s3=None
) -> CopyResult:
    """Load a CSV object (with a header row) from S3 into ``table`` with ``COPY FROM STDIN``.

    The object is streamed: only one chunk is in memory at a time. The header is checked
    first against ``columns`` (default: all the table's columns); the CSV may list them in
    any order. Quoting follows PostgreSQL's CSV format (RFC 4180: ``"a, b"`` and ``""``
    inside quotes). An empty unquoted field becomes NULL. The load runs in ``conn``'s
    current transaction: commit it (or use ``with conn:``) to keep the rows.
    """
    from psycopg2 import sql

    if s3 is None:
        import boto3

        s3 = boto3.client("s3")
    expected = list(columns) if columns else table_columns(conn, table)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except s3.exceptions.NoSuchKey as exc:
        raise TutorialError(f"s3://{bucket}/{key} does not exist.", "Upload the CSV first, or fix the key.") from exc
    try:
        header, rest = read_header(body)
        check_columns(header, expected, f"s3://{bucket}/{key}")
        statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv)").format(
            sql.Identifier(*table.split(".")), sql.SQL(", ").join(map(sql.Identifier, header))
        )
        with conn.cursor() as cur:
            cur.copy_expert(statement, _HeaderedStream(body, rest), size=COPY_CHUNK)
            rows = cur.rowcount
    finally:
        body.close()
    return CopyResult(table=table, columns=tuple(header), rows=rows)


# --------------------------------------------------------------------------- memory


def peak_rss_mib() -> float:
    """This process's peak resident set size in MiB.

    On Linux this is ``VmHWM`` from /proc/self/status, which starts afresh when a program starts.
    ``getrusage().ru_maxrss`` (the fallback, used on macOS) is kept across ``exec``: a child
    started from a big Jupyter kernel would report the kernel's size, not its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def users_csv(rows: int, *, start: int = 1, header: bool = True) -> bytes:
    """A deterministic users-like CSV (id,name,age,email,city,score,signup_date) of ``rows`` rows."""
    cities = ["Berlin", "Lagos", "Lima", "Osaka", "Perth", "Quebec, QC", "São Paulo", "Tromsø"]
    first = ["Ada", "Matt", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Frances"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(USERS_COLUMNS)
    for i in range(start, start + rows):
        name = f"{first[i % 8]} {['Sosna', 'Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov'][i % 6]}"
        writer.writerow(
            [
                i,
                name,
                18 + i % 60,
                f"user{i}@example.com",
                cities[i % 8],
                f"{(i * 7919) % 100000 / 100:.2f}",
                f"2022-{1 + i % 12:02d}-{1 + i % 28:02d}",
            ]
        )
    return out.getvalue().encode("utf-8")
