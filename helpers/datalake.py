"""Plumbing for lesson 06 (S3 as a data lake): a DuckDB connection that reads ``s3://`` paths.

Why a helper: DuckDB reads S3 through its ``httpfs`` extension, which it would normally download
from the internet on first use, and it does not read boto3's credential chain by itself. Both are
plumbing, not the lesson: the lesson's cells hold the SQL. :func:`duckdb_connect` therefore

* loads ``httpfs`` from the PyPI package ``duckdb-ext-httpfs`` (installed by requirements.txt), so
  it works offline and on a locked-down network, with the same version as the ``duckdb`` package;
* makes a temporary S3 secret from what boto3 finds (the same keys, session token and region your
  ``boto3.client("s3")`` uses) and from the S3 endpoint boto3 resolved: on AWS, the regional S3
  endpoint with virtual-hosted-style URLs; on the local backend, ``AWS_ENDPOINT_URL`` (botocore and
  aiobotocore read it; DuckDB does not), path-style and plain HTTP, as the emulator answers.

Everything else that reads this bucket (pandas through s3fs, the local Athena engine, the
benchmarks) needs no endpoint of its own: s3fs uses aiobotocore, which reads ``AWS_ENDPOINT_URL``
like botocore does, and the local Athena engine and the benchmark call :func:`duckdb_connect` or
:func:`s3_secret_options` rather than keeping a copy.

DuckDB's S3 settings: https://duckdb.org/docs/stable/core_extensions/httpfs/s3api.html
S3 path-style and virtual-hosted-style requests:
https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html
Endpoints from the environment (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3):
https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from helpers.errors import TutorialError

if TYPE_CHECKING:  # imported lazily: the helpers package must import without DuckDB
    import boto3
    import duckdb

__all__ = ["duckdb_connect", "extension_directory", "format_bytes", "s3_secret_options", "s3_secret_sql"]

EXTENSION_PACKAGE = "duckdb_ext"  # the import name of the PyPI package duckdb-ext-httpfs
SECRET_NAME = "series_s3"  # noqa: S105 - the name of a DuckDB secret, not a secret
# Hosts of AWS's own S3 endpoints: virtual-hosted style there, the style S3 recommends
# (VirtualHosting.html above); any other endpoint is an emulator and gets path style.
AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")


def extension_directory() -> Path:
    """The folder holding the ``httpfs`` extension that pip installed (``<dir>/v<version>/<platform>/``)."""
    spec = importlib.util.find_spec(EXTENSION_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise TutorialError(
            "DuckDB's httpfs extension is not installed (the PyPI package duckdb-ext-httpfs).",
            "Run `make setup` (or `pip install -r requirements.txt`): it installs the version that matches duckdb.",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "extensions"


def _quote(value: str) -> str:
    """A SQL string literal (CREATE SECRET takes no query parameters)."""
    return "'" + value.replace("'", "''") + "'"


def s3_secret_options(session: boto3.Session | None = None) -> dict[str, str]:
    """The options of a DuckDB S3 secret for what ``session`` (default: a new boto3 session) finds.

    Keys, session token and region come from boto3's credential chain, so a profile, SSO or an
    assumed role works as it does for ``boto3.client("s3")``. The endpoint is the one boto3 resolved
    for S3 (``AWS_ENDPOINT_URL_S3``, then ``AWS_ENDPOINT_URL``, then AWS's regional endpoint).
    """
    import boto3

    session = session or boto3.Session()
    credentials = session.get_credentials()
    if credentials is None:
        raise TutorialError(
            "boto3 found no AWS credentials, so DuckDB could not sign its S3 requests.",
            "Run the lesson's first cell (setup) first; on the aws backend, set keys or a profile as lesson 00 shows.",
        )
    frozen = credentials.get_frozen_credentials()
    region = session.region_name or "us-east-1"
    endpoint = session.client("s3", region_name=region).meta.endpoint_url
    url = urlsplit(endpoint)
    on_aws = (url.hostname or "").endswith(AWS_HOST_SUFFIXES)
    options = {
        "KEY_ID": frozen.access_key,
        "SECRET": frozen.secret_key,
        "REGION": region,
        "ENDPOINT": url.netloc,
        "URL_STYLE": "vhost" if on_aws else "path",
        "USE_SSL": "true" if url.scheme == "https" else "false",
    }
    if frozen.token:
        options["SESSION_TOKEN"] = frozen.token
    return options


def s3_secret_sql(options: dict[str, str], name: str = SECRET_NAME) -> str:
    """``CREATE OR REPLACE TEMPORARY SECRET`` for ``options`` (held in memory, never written to disk)."""
    parts = ["TYPE s3"]
    for key, value in options.items():
        parts.append(f"{key} {value}" if key == "USE_SSL" else f"{key} {_quote(value)}")
    return f"CREATE OR REPLACE TEMPORARY SECRET {name} ({', '.join(parts)})"


def duckdb_connect(
    session: boto3.Session | None = None, database: str = ":memory:", config: dict[str, Any] | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-process DuckDB connection with ``httpfs`` loaded and an S3 secret from boto3's settings.

    ``autoinstall_known_extensions`` is off: DuckDB would otherwise try to download a missing
    extension from the internet, which fails (slowly) offline; everything the series needs is
    installed by pip.
    """
    import duckdb

    settings = {
        "extension_directory": str(extension_directory()),
        "autoinstall_known_extensions": False,
        **(config or {}),
    }
    con = duckdb.connect(database, config=settings)
    try:
        con.execute("LOAD httpfs")
        con.execute(s3_secret_sql(s3_secret_options(session)))
    except duckdb.Error as exc:
        con.close()
        raise TutorialError(
            f"DuckDB could not get ready to read S3: {str(exc).splitlines()[0]}",
            "Check that duckdb and duckdb-ext-httpfs have the same version (requirements.txt pins both).",
        ) from exc
    return con


def format_bytes(n: float) -> str:
    """``1536`` -> ``1.5 KB``: decimal units, as S3 and Athena bill them (1 TB = 10^12 bytes)."""
    size, unit = float(n), "bytes"
    for unit in ("bytes", "KB", "MB", "GB", "TB"):  # noqa: B007 - the unit reached is the answer
        if abs(size) < 1000 or unit == "TB":
            break
        size /= 1000
    return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
