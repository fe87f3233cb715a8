"""The moto launcher: same answers as moto's own module listing, computed once."""

from __future__ import annotations

import boto3
import pytest
from moto import backends
from support import free_port

from helpers.local import moto_server
from helpers.local.stack import spawn_moto, wait_until_healthy


def test_cached_listing_matches_moto_and_reads_the_folder_once():
    calls = []
    original = backends.list_of_moto_modules

    def counting():
        calls.append(1)
        return original()

    cached = moto_server.cached_module_listing(counting)
    first = cached()
    assert first == tuple(original())
    assert "s3" in first and "dynamodb" in first
    assert "127.0.0.1:5055" not in first  # a Host header is not a module: the lookup moto makes
    for _ in range(100):
        assert cached() == first
    assert len(calls) == 1


def test_patch_installs_once_and_survives_a_moto_without_the_function(monkeypatch):
    monkeypatch.setattr(backends, "list_of_moto_modules", backends.list_of_moto_modules)
    assert moto_server.patch_moto() is True
    assert hasattr(backends.list_of_moto_modules, "cache_info")
    assert moto_server.patch_moto() is False  # already patched: not wrapped twice

    monkeypatch.delattr(backends, "list_of_moto_modules")
    assert moto_server.patch_moto() is False


@pytest.mark.timeout(60)
def test_the_launcher_serves_s3_and_dynamodb():
    port = free_port()
    proc = spawn_moto(port)  # the launcher, as the stack starts it
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(proc, url)
        session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-east-1")
        s3 = session.client("s3", endpoint_url=url)
        s3.create_bucket(Bucket="launcher-check")
        s3.put_object(Bucket="launcher-check", Key="k", Body=b"v")
        assert s3.get_object(Bucket="launcher-check", Key="k")["Body"].read() == b"v"
        ddb = session.client("dynamodb", endpoint_url=url)
        assert ddb.list_tables()["TableNames"] == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)
