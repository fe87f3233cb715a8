"""moto as shipped against the launcher the stack uses (``helpers.local.moto_server``).

The launcher caches one folder listing that moto repeats on every request. This
section puts a number on that: the same loop of small ``put_object`` calls against
two fresh servers, one started with ``python -m moto.server``, one with
``python -m helpers.local.moto_server``, in the same run.
"""

from __future__ import annotations

import os
import subprocess

import boto3

from benchmarks.cases import Timing, best_of, log, runs_note
from helpers.local.processes import free_port
from helpers.local.stack import spawn_moto, wait_until_healthy


def _start(module: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = spawn_moto(port, module=module)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(proc, url)
    except RuntimeError as exc:
        proc.kill()
        raise RuntimeError(f"{module} on port {port} {exc}") from exc
    return proc, url


def emulator_cases(requests: int, file_kib: int) -> list[Timing]:
    group = f"Emulator: {requests} small put_object calls"
    payload = os.urandom(file_kib * 1024)
    session = boto3.session.Session(
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - the emulator accepts any key
        region_name="us-east-1",
    )
    out = []
    for name, module, note in [
        ("moto.server as shipped", "moto.server", "lists moto's folder on every request"),
        ("helpers.local.moto_server (the stack's)", "helpers.local.moto_server", "folder listed once"),
    ]:
        log(f"  emulator: {name} ...")
        proc, url = _start(module)
        try:
            s3 = session.client("s3", endpoint_url=url)
            s3.create_bucket(Bucket="bench-emulator")

            def loop(s3=s3):
                for i in range(requests):
                    s3.put_object(Bucket="bench-emulator", Key=f"k/{i:05d}", Body=payload)

            seconds, runs = best_of(loop)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        out.append(Timing(group, name, requests, "requests", seconds, runs_note(note, runs)))
        log(f"    {seconds:7.2f} s")
    return out
