"""The self-checks of the "Your turn" exercises (helpers.exercises), against plain moto.

Each check is tried as a learner meets it: before any answer, with a typical wrong answer, and with
a right one. Before and wrong must say "Not yet" with a hint, never raise; right must say "Right".
(The checks of lessons 02, 03 and 04, and the wrong answers each must refuse, are in
test_checks_lesson_NN.py.) The committed notebooks must show every check passing against the solutions.
"""

from __future__ import annotations

from urllib.request import Request, urlopen

import boto3
import nbformat
import pytest
from botocore.config import Config
from support import in_process_moto

from helpers import exercises
from helpers.runner import NOTEBOOK_DIR

PREFIX = "ws-alice"


@pytest.fixture(scope="module")
def moto_url():
    with in_process_moto() as url:
        yield url


@pytest.fixture
def aws(moto_url, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def said(capsys) -> str:
    return capsys.readouterr().out


def assert_not_yet(text: str, *fragments: str) -> None:
    assert text.startswith("Not yet."), text
    assert "\nHint: " in text, text
    assert "Traceback" not in text
    for fragment in fragments:
        assert fragment in text, text


@pytest.fixture
def bucket(aws):
    s3 = boto3.client("s3")
    name = f"{PREFIX}-exercises-{id(s3) % 10_000}"
    s3.create_bucket(Bucket=name)
    return name


def test_python_upload(bucket, tmp_path, capsys):
    project = tmp_path / "project"
    (project / "utils").mkdir(parents=True)
    for name in ("clean.py", "utils/io.py", "notes.txt"):
        (project / name).write_text("x\n")
    s3 = boto3.client("s3")

    exercises.check_python_upload(bucket, project, "code/")
    assert_not_yet(said(capsys), "there is nothing under")

    for name in ("clean.py", "utils/io.py", "notes.txt"):  # no filters: everything went up
        s3.put_object(Bucket=bucket, Key=f"code/{name}", Body=b"x\n")
    exercises.check_python_upload(bucket, project, "code/")
    assert_not_yet(said(capsys), "right: code/ holds clean.py, utils/io.py", "also holds notes.txt", "--exclude")

    s3.delete_object(Bucket=bucket, Key="code/notes.txt")
    exercises.check_python_upload(bucket, project, "code/")
    assert said(capsys) == "Right: code/ holds exactly the .py files: clean.py, utils/io.py.\n"


def test_presigned_upload(bucket, capsys):
    key, message = "incoming/note.txt", "hello\n"
    exercises.check_presigned_upload(bucket, key, message, ns={})
    assert_not_yet(said(capsys), "`put_url` is not set yet")

    signer = boto3.client("s3", config=Config(signature_version="s3v4"))
    put_url = signer.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    exercises.check_presigned_upload(bucket, key, message, ns={"put_url": put_url})
    assert_not_yet(said(capsys), "right: put_url is a presigned link", f"there is no object {key}")

    request = Request(put_url, data=message.encode(), method="PUT", headers={"Content-Type": "text/plain"})
    with urlopen(request, timeout=10) as response:
        assert response.status == 200
    exercises.check_presigned_upload(bucket, key, message, ns={"put_url": put_url})
    assert said(capsys).startswith("Right: ")


def test_env_file_loaded(tmp_path, monkeypatch, capsys):
    from dotenv import load_dotenv

    env = tmp_path / ".env"
    env.write_text("TUTORIAL_EXERCISE_REGION=eu-west-1\nTUTORIAL_EXERCISE_SUFFIX=raw\n")
    exported = {"TUTORIAL_EXERCISE_REGION": "us-east-2"}
    monkeypatch.setenv("TUTORIAL_EXERCISE_REGION", "us-east-2")
    monkeypatch.delenv("TUTORIAL_EXERCISE_SUFFIX", raising=False)

    exercises.check_env_file_loaded(env, exported)
    assert_not_yet(said(capsys), "TUTORIAL_EXERCISE_SUFFIX is not set: the file was not loaded")
    load_dotenv(env, override=True)
    exercises.check_env_file_loaded(env, exported)
    assert_not_yet(said(capsys), "the file overrode the value exported before (us-east-2)")
    monkeypatch.setenv("TUTORIAL_EXERCISE_REGION", "us-east-2")
    exercises.check_env_file_loaded(env, exported)
    assert said(capsys).startswith("Right: ")


def test_a_check_that_cannot_finish_says_so_without_a_traceback(aws, tmp_path, capsys):
    exercises.check_python_upload("ws-alice-no-such-bucket", tmp_path, "code/")
    assert_not_yet(said(capsys), "the check could not finish: NoSuchBucket", "--include")


def test_every_committed_self_check_shows_the_solution_passing():
    checks = 0
    for path in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if "self-check" in cell.metadata.get("tags", []):
                checks += 1
                text = "".join(out.get("text", "") for out in cell.get("outputs", []))
                assert text.startswith("Right: "), f"{path.name}: {cell.source}\n{text}"
    assert checks >= 8
