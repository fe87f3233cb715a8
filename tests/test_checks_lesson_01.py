"""Lesson 01's self-checks against the wrong answers a learner plausibly gives.

Each wrong answer is what a learner might leave in the exercise cell: the cell's own set-up lines
(from the notebook) followed by their code instead of the solution, run as the notebook runs it
(``!aws ...`` lines through the pinned AWS CLI, ``{BUCKET}`` filled in). The check must say "Not
yet" with a hint, and a "wrong:" line that names the mistake; the notebook's solution must say
"Right". "skipped" is the exercise cell not run at all. Everything runs against plain moto, in a
server of this module's own.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from urllib.request import urlopen

import boto3
import nbformat
import pytest
from botocore.config import Config
from support import assert_not_yet, in_process_moto, use_moto

from helpers import exercises
from helpers.runner import NOTEBOOK_DIR

LESSON = NOTEBOOK_DIR / "01_s3.ipynb"
SOLUTION = "### BEGIN SOLUTION"
AWS_CLI = Path(sys.executable).parent / "aws"


def exercise_cells() -> list[tuple[str, str]]:
    """(exercise cell, its self-check cell) sources, in the lesson's order."""
    cells = nbformat.read(LESSON, as_version=4).cells
    pairs = []
    for i, cell in enumerate(cells):
        if "exercise" in cell.metadata.get("tags", []):
            check = cells[i + 1]
            assert "self-check" in check.metadata.get("tags", [])
            pairs.append((cell.source, check.source))
    return pairs


def exercise(check_name: str) -> str:
    (source,) = [cell for cell, check in exercise_cells() if check_name in check]
    return source


def check_cell(check_name: str) -> str:
    (source,) = [check for _, check in exercise_cells() if check_name in check]
    return source


def set_up(check_name: str) -> str:
    """The exercise cell's lines before the solution."""
    return exercise(check_name).split(SOLUTION)[0]


def run_cell(source: str, ns: dict) -> None:
    """Run a notebook cell as IPython would: ``!`` lines in a shell (with ``{name}`` filled in from
    ``ns``), the rest as Python."""

    def shell(command: str) -> None:
        command = re.sub(r"^aws\b", str(AWS_CLI), command.format_map(ns))
        subprocess.run(command, shell=True, check=False, timeout=120, capture_output=True)  # noqa: S602

    lines = [
        f"__shell__({line.strip()[1:]!r})" if line.strip().startswith("!") else line for line in source.splitlines()
    ]
    ns["__shell__"] = shell
    exec("\n".join(lines), ns)  # noqa: S102 - the learner's cell


@pytest.fixture(scope="module")
def moto_url():
    with in_process_moto() as url:
        yield url


@pytest.fixture
def ns(moto_url, monkeypatch, tmp_path, request) -> dict:
    """What lesson 01's cells define before its exercises: s3, signer, BUCKET (a bucket of this
    test's own), Path and urlopen; the working directory is the lesson's scratch folder."""
    use_moto(monkeypatch, moto_url)
    monkeypatch.chdir(tmp_path)
    s3 = boto3.client("s3")
    bucket = f"ds-test01-{abs(hash(request.node.name)) % 10**8}"
    s3.create_bucket(Bucket=bucket)
    signer = boto3.client("s3", config=Config(signature_version="s3v4"))
    return {"s3": s3, "signer": signer, "BUCKET": bucket, "Path": Path, "urlopen": urlopen}


def said(capsys) -> str:
    return capsys.readouterr().out


# -- only the Python files --------------------------------------------------------------------

CP = "!aws s3 cp project s3://{BUCKET}/"
UPLOAD_WRONG: dict[str, tuple[str | None, str]] = {
    "skipped": (None, "`project` is not set yet"),
    "include before exclude": (CP + 'code/ --recursive --include "*.py" --exclude "*"', "their order matters"),
    "no filters: everything": (CP + "code/ --recursive", "also holds notes.txt, raw.csv"),
    "only the exclude": (CP + 'code/ --recursive --exclude "*.txt"', "also holds raw.csv"),
    "another prefix": (CP + 'py/ --recursive --exclude "*" --include "*.py"', "went under py/, not under code/"),
    "the top of the bucket": (
        CP + ' --recursive --exclude "*" --include "*.py"',
        "went under the top of the bucket, not under code/",
    ),
}


@pytest.mark.parametrize("answer", sorted(UPLOAD_WRONG))
def test_python_upload_check_refuses(answer, ns, capsys):
    code, mistake = UPLOAD_WRONG[answer]
    if code is not None:
        run_cell(set_up("check_python_upload") + code, ns)
    said(capsys)
    exercises.check_python_upload(ns["BUCKET"], "code/", ns=ns)
    assert_not_yet(said(capsys), mistake)


def test_the_lessons_python_upload_is_right(ns, capsys):
    run_cell(exercise("check_python_upload"), ns)
    said(capsys)
    exercises.check_python_upload(ns["BUCKET"], "code/", ns=ns)
    assert said(capsys) == "Right: code/ holds exactly the .py files: clean.py, utils/io.py.\n"


# -- a link to upload through -----------------------------------------------------------------

SEND = (
    "from urllib.request import Request\n"
    'request = Request(put_url, data=message.encode(), method="PUT", headers={"Content-Type": "text/plain"})\n'
    "urlopen(request, timeout=10)\n"
)
PUT_WRONG: dict[str, tuple[str | None, str]] = {
    "skipped": (None, "`upload_key` is not set yet"),
    "signed, never sent": (
        'put_url = signer.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": upload_key})\n',
        "nothing was sent through the link yet",
    ),
    "a GET link, and put_object with credentials": (
        'put_url = signer.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": upload_key})\n'
        "s3.put_object(Bucket=BUCKET, Key=upload_key, Body=message.encode())\n",
        "the link is signed for GET, not PUT",
    ),
    "a link for another key": (
        'put_url = signer.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "incoming/x.txt"})\n'
        + SEND,
        "not at incoming/from-a-colleague.txt",
    ),
    "a plain URL, and put_object with credentials": (
        'put_url = f"{s3.meta.endpoint_url}/{BUCKET}/{upload_key}"\n'
        "s3.put_object(Bucket=BUCKET, Key=upload_key, Body=message.encode())\n",
        "it is not a presigned link",
    ),
    "another text sent": (
        'put_url = signer.generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": upload_key})\n'
        + SEND.replace("message.encode()", 'b"hello"'),
        "holds 'hello', not the message",
    ),
}


@pytest.mark.parametrize("answer", sorted(PUT_WRONG))
def test_presigned_upload_check_refuses(answer, ns, capsys):
    code, mistake = PUT_WRONG[answer]
    if code is not None:
        run_cell(set_up("check_presigned_upload") + code, ns)
    said(capsys)
    exercises.check_presigned_upload(ns["BUCKET"], ns=ns)
    assert_not_yet(said(capsys), mistake)


def test_the_lessons_presigned_upload_is_right(ns, capsys):
    run_cell(exercise("check_presigned_upload"), ns)
    said(capsys)
    exercises.check_presigned_upload(ns["BUCKET"], ns=ns)
    assert said(capsys) == (
        "Right: incoming/from-a-colleague.txt arrived through a link signed for PUT, "
        "sent without any AWS credentials.\n"
    )


WRONG_ANSWERS: dict[str, list[str]] = {
    "check_python_upload": sorted(UPLOAD_WRONG),
    "check_presigned_upload": sorted(PUT_WRONG),
}


def test_the_self_check_cells_pass_no_name_the_exercises_define():
    """Skipping an exercise cell must not make its check cell raise NameError."""
    assert check_cell("check_python_upload").strip().endswith('check_python_upload(BUCKET, "code/")')
    assert check_cell("check_presigned_upload").strip().endswith("check_presigned_upload(BUCKET)")
