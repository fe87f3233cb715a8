"""The lessons as a learner runs them: twice in a row, and nothing of the series left after 04.

nbval (make test-notebooks) checks each lesson's outputs once; this checks what nbval
cannot: that every lesson survives being run again on top of its own resources, and
that lesson 04 removes everything 01-03 created. The runs twice in a row are a seat of the
session's workshop room (conftest.py ``room``), so they also happen as a participant, under the
participant policy, with others working in the same account.
"""

from __future__ import annotations

import pytest
from support import random_prefix

from helpers.runner import NOTEBOOK_DIR, lesson_notebooks, run_notebooks
from helpers.settings import load_settings

LESSONS = ["00_setup_and_secrets", "01_s3", "02_rds_postgres", "03_dynamodb", "04_cleanup"]


@pytest.mark.timeout(1500)
def test_every_lesson_runs_twice_and_cleanup_leaves_nothing(room):
    """The room's seat that runs twice (conftest.py ``room``: the proof seat): lessons 00-04 each
    run twice in a row, on top of their own resources, under the participant policy; then the
    bonus lessons once; then nothing of the seat's is left for the final cleanup to find."""
    (seat,) = [run for run in room.seats if run.seat.runs_twice]
    ran = [(notebook, status) for notebook, status, _ in seat.lessons]
    bonus = [path.stem for path in lesson_notebooks() if path.stem not in LESSONS]
    expected = [name for lesson in LESSONS for name in (lesson, f"{lesson}_again")] + bonus
    assert ran == [(name, "ok") for name in expected], seat.failures
    assert seat.returncode == 0, seat.output[-3000:]
    assert seat.lessons_left_nothing, f"lesson 04 left resources behind:\n{seat.output[-3000:]}"


def test_a_short_lived_link_is_fetched_in_the_cell_that_signs_it():
    """On AWS a link lives LINK_EXPIRES_SECONDS (2 s); a learner reading between two cells takes
    longer, so a link signed in one cell and first fetched in the next is already dead. moto never
    enforces expiry, so only the notebook's shape can show this."""
    import nbformat

    nb = nbformat.read(NOTEBOOK_DIR / "01_s3.ipynb", as_version=4)
    signing = [c.source for c in nb.cells if c.cell_type == "code" and "ExpiresIn=LINK_EXPIRES_SECONDS" in c.source]
    assert signing, "lesson 01 no longer signs a short-lived link; update this test"
    for source in signing:
        after = source.split("ExpiresIn=LINK_EXPIRES_SECONDS", 1)[1]
        assert "fetch(" in after, f"this cell signs a short link but does not fetch it:\n{source}"


def test_committed_outputs_show_the_one_documentation_prefix():
    """A refresh from a checkout with its own prefix must not rename every resource in the outputs."""
    import re

    import nbformat

    from tools.notebooks import OUTPUT_PREFIX

    seen = set()
    for path in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
                seen.update(re.findall(r"\bPrefix\s+(ds-[a-z0-9]+)", text))
    assert seen == {OUTPUT_PREFIX}


@pytest.mark.timeout(300)
def test_plain_papermill_from_any_folder_neither_reads_nor_litters_it(local_stack, monkeypatch, tmp_path):
    """`papermill notebooks/NN.ipynb out.ipynb` from the repository root or anywhere else: lesson 00
    must not look for ../.gitignore relative to that folder, and lesson 01 must not write its files
    there, nor upload what it finds there with `aws s3 cp . --recursive`."""
    import subprocess
    import sys

    import boto3

    from helpers.names import Names

    prefix = random_prefix()
    monkeypatch.setenv("TUTORIAL_PREFIX", prefix)
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    (elsewhere / "file9.csv").write_text("name,age\nnot,ours\n")  # what `--include "file*"` would pick up
    before = sorted(p.name for p in elsewhere.iterdir())
    for lesson, cwd in (("00_setup_and_secrets", NOTEBOOK_DIR.parent), ("01_s3", elsewhere)):
        source, executed = NOTEBOOK_DIR / f"{lesson}.ipynb", tmp_path / f"{lesson}.ipynb"
        done = subprocess.run(
            [sys.executable, "-m", "papermill", str(source), str(executed)],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert done.returncode == 0, f"{lesson} from {cwd}:\n{done.stderr[-2000:]}"
    assert sorted(p.name for p in elsewhere.iterdir()) == before
    settings = load_settings()
    account = boto3.client("sts").get_caller_identity()["Account"]
    bucket = Names(prefix=prefix, account_id=account, region=settings.region).bucket
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix="csv/").get("Contents", [])]
    assert keys == ["csv/file1.csv", "csv/file2.csv"]
    from helpers import cleanup

    cleanup.clean(settings, yes=True, log=lambda _: None)


@pytest.mark.timeout(300)
def test_an_interrupted_lesson_05_leaves_nothing_that_status_does_not_report(local_stack, monkeypatch, tmp_path):
    """Lesson 05 creates its own DB instance; if it stops halfway (here: a bad parameter right
    after the instance is up), `python -m helpers status` must list that instance, its security
    group and its bucket, and `clean --yes` must remove them."""
    from helpers import cleanup
    from helpers.__main__ import alive_report

    prefix = random_prefix()
    monkeypatch.setenv("TUTORIAL_PREFIX", prefix)
    results = run_notebooks(
        [NOTEBOOK_DIR / "05_bulk_loading.ipynb"],
        tmp_path,
        parameters={"ROWS": "not a number"},
        progress=False,
        log=lambda _: None,
    )
    assert results[0].status == "FAILED"
    settings = load_settings()
    report = alive_report(settings)
    for name in (f"{prefix}-bulk-pg", f"{prefix}-bulk-sg", "-bulk"):
        assert name in report, report
    assert cleanup.DB_INSTANCE in report
    assert not cleanup.clean(settings, yes=True, log=lambda _: None)


def test_every_sanitizer_section_is_one_nbval_reads():
    """nbval reads `regex: ...` and `replace: ...` pairs with a strict pattern; a section it cannot
    read (an empty `replace:` without its space, say) is silently ignored, and its outputs flap."""
    import re

    from nbval.plugin import get_sanitize_patterns

    text = (NOTEBOOK_DIR.parent / "tests" / "sanitize.cfg").read_text()
    sections = re.findall(r"^\[.+\]$", text, flags=re.MULTILINE)
    assert len(get_sanitize_patterns(text)) == len(sections)


def _create_db_instance_arguments(lesson: str) -> dict:
    """The constant keyword arguments a lesson passes to create_db_instance (names and variables left out)."""
    import ast

    import nbformat

    nb = nbformat.read(NOTEBOOK_DIR / f"{lesson}.ipynb", as_version=4)
    for cell in nb.cells:
        for node in ast.walk(ast.parse(cell.source)) if cell.cell_type == "code" else []:
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "create_db_instance":
                return {kw.arg: kw.value.value for kw in node.keywords if isinstance(kw.value, ast.Constant)}
    raise AssertionError(f"{lesson} no longer calls create_db_instance")


def test_lesson_05_creates_its_instance_as_lesson_02_does():
    """Same engine, storage and password handling; left out, StorageType is gp3 on RDS
    (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html), where the
    lessons and the README say gp2. Only the initial database and the master user differ."""
    from helpers.workshop import LESSON_02_DB

    lesson_02 = _create_db_instance_arguments("02_rds_postgres")
    lesson_05 = _create_db_instance_arguments("05_bulk_loading")
    assert {"AllocatedStorage", "StorageType", "ManageMasterUserPassword"} <= set(lesson_05)
    own = {"DBName", "MasterUsername"}
    lesson_02["DBInstanceClass"] = LESSON_02_DB["DBInstanceClass"]  # lesson 02's is a parameter, defaulting to it
    assert {k: v for k, v in lesson_05.items() if k not in own} == {
        k: lesson_02.get(k) for k in lesson_05 if k not in own
    }


def test_lesson_03_waits_for_the_tags_of_a_new_table(monkeypatch, capsys):
    """On AWS ListTagsOfResource is eventually consistent: right after CreateTable it may answer with
    no tags (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TagResource.html).
    The lesson's create cell asks again, a bounded number of times, so that the tags are there when
    lesson 04 looks for the table by them."""
    import time
    from types import SimpleNamespace

    import boto3
    import nbformat

    nb = nbformat.read(NOTEBOOK_DIR / "03_dynamodb.ipynb", as_version=4)
    [source] = [
        c.source
        for c in nb.cells
        if c.cell_type == "code" and "create_table(" in c.source and "list_tags_of_resource" in c.source
    ]
    tags = [{"Key": "tutorial", "Value": "aws-storage-for-data-science"}, {"Key": "participant", "Value": "ws-01"}]

    class LateTags:
        """DynamoDB for a table that exists already; its tags show after `empty_answers` empty listings."""

        class exceptions:  # noqa: N801 - the shape of a boto3 client's exceptions attribute
            class ResourceNotFoundException(Exception):
                pass

            class ResourceInUseException(Exception):
                pass

        def __init__(self, empty_answers: int) -> None:
            self.empty_answers, self.listings = empty_answers, 0

        def describe_table(self, TableName):
            arn = f"arn:aws:dynamodb:us-east-1:123456789012:table/{TableName}"
            return {"Table": {"TableName": TableName, "TableStatus": "ACTIVE", "TableArn": arn}}

        def create_table(self, **kwargs):
            raise self.exceptions.ResourceInUseException(kwargs["TableName"])

        def get_waiter(self, name):
            return SimpleNamespace(wait=lambda **kwargs: None)

        def list_tags_of_resource(self, ResourceArn):
            self.listings += 1
            return {"Tags": [] if self.listings <= self.empty_answers else tags}

    slept = []
    monkeypatch.setattr(time, "sleep", slept.append)
    late = LateTags(empty_answers=2)
    monkeypatch.setattr(boto3, "client", lambda service, *a, **k: late)
    tut = SimpleNamespace(names=SimpleNamespace(table="ws-01-users"), tags=tags)
    namespace = {"TABLE": None, "tut": tut, "READ_CAPACITY_UNITS": 1, "WRITE_CAPACITY_UNITS": 1}
    exec(source, namespace)  # noqa: S102
    assert late.listings == 3 and 0 < sum(slept) <= 5

    never = LateTags(empty_answers=1000)
    monkeypatch.setattr(boto3, "client", lambda service, *a, **k: never)
    slept.clear()
    exec(source, {**namespace, "TABLE": None})  # noqa: S102
    assert never.listings <= 10 and sum(slept) <= 10  # bounded: a table without tags does not hang the lesson
