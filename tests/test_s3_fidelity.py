"""The emulator stores a PUT body as S3 does, whatever its Content-Type (helpers/local/s3_fidelity.py).

Lesson 01's exercise sends bytes through a presigned PUT link with plain urllib, which labels a
body it is given no label for ``application/x-www-form-urlencoded``. S3 stores the bytes and the
label (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html); moto as shipped
parses the body as a form and stores something else. Each case runs against the launcher the
stack uses (``python -m helpers.local.moto_server``) and, to prove the test can tell, against
``python -m moto.server``.
"""

from __future__ import annotations

import os
import urllib.request

import boto3
import pytest
from botocore.config import Config
from support import free_port

from helpers.local import stack

BODIES = {
    "text": b"Sent through a presigned link, without any AWS keys.\n",
    "looks like a form": b"key=value&tagging=a%3Db",
    "binary": bytes(range(256)),
}
LABELS = {
    "no label (urllib says form)": None,
    "form": "application/x-www-form-urlencoded",
    "text/plain": "text/plain",
}


def _spawn(module: str):
    port = free_port()
    env = {**os.environ, "TUTORIAL_AWS_LIFECYCLE": "off", "TUTORIAL_AWS_LIMITS": "off"}
    proc = stack.spawn_moto(port, module=module, env=env)
    url = f"http://127.0.0.1:{port}"
    stack.wait_until_healthy(proc, url, timeout=120)  # a loaded machine starts moto slowly
    return proc, url


@pytest.fixture(scope="module")
def emulators():
    """{"launcher": url, "moto": url}: the stack's emulator and moto as shipped."""
    procs, urls = [], {}
    try:
        for name, module in (("launcher", stack.LAUNCHER), ("moto", "moto.server")):
            proc, url = _spawn(module)
            procs.append(proc)
            urls[name] = url
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def _s3(url: str):
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(signature_version="s3v4"),
    )


def _put_through_link(url: str, body: bytes, label: str | None) -> tuple[bytes, str]:
    """PUT ``body`` through a presigned link with urllib; return (stored bytes, stored Content-Type)."""
    s3 = _s3(url)
    bucket = "fidelity"
    s3.create_bucket(Bucket=bucket)
    link = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "in/obj"}, ExpiresIn=300)
    headers = {"Content-Type": label} if label else {}
    request = urllib.request.Request(link, data=body, method="PUT", headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own local emulator
        assert response.status == 200
    stored = s3.get_object(Bucket=bucket, Key="in/obj")
    return stored["Body"].read(), stored["ContentType"]


@pytest.mark.parametrize("label", LABELS.values(), ids=LABELS.keys())
@pytest.mark.parametrize("body", BODIES.values(), ids=BODIES.keys())
def test_the_object_holds_the_bytes_sent_whatever_the_label(emulators, body, label):
    stored, content_type = _put_through_link(emulators["launcher"], body, label)
    assert stored == body
    assert content_type == (label or "application/x-www-form-urlencoded")


def test_moto_as_shipped_loses_a_form_labelled_body(emulators):
    """Why the patch exists: without it the same PUT stores something other than what was sent."""
    stored, _ = _put_through_link(emulators["moto"], BODIES["text"], None)
    assert stored != BODIES["text"]
    stored, _ = _put_through_link(emulators["moto"], BODIES["text"], "text/plain")
    assert stored == BODIES["text"]


def test_a_browser_form_upload_is_still_parsed_as_a_form(emulators):
    """POST with multipart/form-data is S3's browser upload: the object is the form's file field."""
    s3 = _s3(emulators["launcher"])
    s3.create_bucket(Bucket="fidelity-post")
    post = s3.generate_presigned_post("fidelity-post", "up/${filename}", ExpiresIn=300)
    boundary = "----tutorialboundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in post["fields"].items()
    ]
    payload = (
        "".join(parts).encode()
        + f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'.encode()
        + b"Content-Type: text/plain\r\n\r\nfile body\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        post["url"], data=payload, method="POST", headers={"Content-Type": f"multipart/form-data; boundary={boundary}"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - our own local emulator
        assert response.status in (200, 204)
    assert s3.get_object(Bucket="fidelity-post", Key="up/a.txt")["Body"].read() == b"file body"
