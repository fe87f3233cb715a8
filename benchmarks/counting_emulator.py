"""The stack's emulator with a meter on it: ``python -m benchmarks.counting_emulator -H HOST -p PORT``.

The data lake benchmark (benchmarks/datalake.py) has to say how many bytes each way of asking a
question read from S3. Client libraries count differently or not at all (s3fs reads ahead, DuckDB
caches, the local Athena reads inside the emulator), so the count is taken where the bytes leave:
this process is ``helpers.local.moto_server`` (moto with every behaviour the stack adds, the local
Athena included) with one more WSGI layer that adds up the body bytes of every successful
GetObject response (200, or 206 for a ranged GET), per object key.

``GET /moto-api/tutorial/bench-reads`` answers the counts so far as JSON (``{"objects":
{"bucket/key": [gets, bytes]}}``); ``DELETE`` on the same path sets them back to zero. Nothing
else changes: a request that is not an object GET passes through untouched.

A GetObject is ``GET /bucket/key`` in path style, which is how every client in the benchmark
reaches an emulator on 127.0.0.1 (botocore and DuckDB's httpfs use path style for an IP
address; DuckDB is also told ``URL_STYLE 'path'``). Listing a bucket is ``GET /bucket`` (no key)
and is not counted: it reads no object. The REST shape is AWS's:
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html (and the ``Range`` header that
yields 206 Partial Content: https://www.rfc-editor.org/rfc/rfc9110#name-range).
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import unquote

CONTROL_PATH = "/moto-api/tutorial/bench-reads"

# Query parameters that make a GET on an object path something other than reading its bytes
# (its tags, ACL, attributes, parts or retention): https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
NOT_OBJECT_READS = ("tagging", "acl", "attributes", "uploadId", "retention", "legal-hold", "torrent")


class Reads:
    """GetObject calls and body bytes served, per ``bucket/key``; safe across the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, list[int]] = {}

    def add(self, key: str, gets: int, nbytes: int) -> None:
        with self._lock:
            seen = self._objects.setdefault(key, [0, 0])
            seen[0] += gets
            seen[1] += nbytes

    def snapshot(self) -> dict[str, list[int]]:
        with self._lock:
            return {k: list(v) for k, v in self._objects.items()}

    def reset(self) -> None:
        with self._lock:
            self._objects.clear()


def object_key(environ: dict) -> str | None:
    """``bucket/key`` when the request reads an object's bytes, else None (lists, HEADs, puts, sub-resources)."""
    if environ.get("REQUEST_METHOD") != "GET":
        return None
    path = unquote(environ.get("PATH_INFO", ""))
    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket or not key or path.startswith("/moto-api"):
        return None
    query = environ.get("QUERY_STRING", "")
    params = {p.split("=", 1)[0] for p in query.split("&") if p}
    if params & set(NOT_OBJECT_READS):
        return None
    return f"{bucket}/{key}"


def metered(app: Callable, reads: Reads) -> Callable:
    """WSGI middleware: count the bytes of each object GET's body as it is sent; answer CONTROL_PATH."""

    def middleware(environ, start_response):
        if environ.get("PATH_INFO") == CONTROL_PATH:
            return _control(environ, start_response, reads)
        key = object_key(environ)
        if key is None:
            return app(environ, start_response)
        status: list[int] = []

        def remember(code, headers, exc_info=None):
            status.append(int(code.split()[0]))
            return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

        return _counted(app(environ, remember), key, status, reads)

    return middleware


def _counted(body: Iterable[bytes], key: str, status: list[int], reads: Reads) -> Iterator[bytes]:
    sent = 0
    try:
        for chunk in body:
            sent += len(chunk)
            yield chunk
    finally:
        close = getattr(body, "close", None)
        if close is not None:
            close()
        if status and status[0] in (200, 206):
            reads.add(key, 1, sent)


def _control(environ, start_response, reads: Reads):
    if environ.get("REQUEST_METHOD") == "DELETE":
        reads.reset()
    body = json.dumps({"objects": reads.snapshot()}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def serve_metered(server_module, reads: Reads) -> None:
    """Make ``server_module.main`` build its app behind the meter (inside the stack's own layers)."""
    base = server_module.DomainDispatcherApplication

    class MeteredApplication(base):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._metered = metered(super().__call__, reads)

        def __call__(self, environ, start_response):
            return self._metered(environ, start_response)

    server_module.DomainDispatcherApplication = MeteredApplication


def main(argv: list[str] | None = None) -> None:
    from moto import server

    from helpers.local import moto_server

    serve_metered(server, Reads())
    moto_server.main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
