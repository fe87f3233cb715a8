"""A workshop room rehearsed for real, and one participant refused on another's resources.

The room (the session fixture ``room`` in conftest.py, :func:`benchmarks.room.rehearse`, the same
code as ``python -m benchmarks --room N``): three seats in one account, each with the keys
``workshop create`` made and IAM enforced as AWS does, after ``workshop prepare``, alongside
decoys that belong to no participant (a bucket, a table, a security group, a DB instance), all
running the real notebooks at once (``python -m helpers run``, or the proof tool, which runs the
lessons through the same runner); then ``workshop sweep``.

One run serves what used to take six runs of the series. Where each old test's proof went:

* ``test_workshop_rehearsal::test_the_whole_series_passes_as_a_participant_holding_only_the_policy``
  (one seat, lessons 00-05 and cleanup under the policy): every seat here holds only the policy;
  :func:`test_every_seat_ran_every_lesson_without_a_failure` and
  :func:`test_the_lessons_left_nothing_for_the_runners_cleanup`.
* ``test_workshop::test_two_participants_at_once_do_not_collide`` (two runs at once, one's
  cleanup leaves the other's resources): three runs at once, with IAM enforced, so touching
  another's resource is refused and fails a lesson
  (:func:`test_every_seat_ran_every_lesson_without_a_failure`); no seat's notebooks or cleanup
  listing names another's resource (:func:`test_no_participant_saw_another_or_a_decoy`), which
  also covers ws-10 against ws-100, the prefixes that extend one another; and the decoys outlive
  everyone's cleanup and the sweep (:func:`test_the_sweep_left_nothing_and_the_decoys_are_intact`).
* ``test_lessons::test_every_lesson_runs_twice_and_cleanup_leaves_nothing``: the seat whose lessons
  00-04 run twice in a row (the proof seat), asserted in tests/test_lessons.py.
* ``test_core_path::test_the_core_path_of_lessons_00_to_04_runs_green_and_leaves_nothing_behind``
  (a run of its own, with ``--keep``, then a look for leftovers): the ``core`` seat, asserted in
  tests/test_core_path.py (the runner's final cleanup, as the participant, must find nothing).
* ``test_student::test_before_an_answer_every_check_says_not_yet_and_with_the_solutions_right``:
  the ``student`` seat ("Not yet") and the answered seats ("Right"), asserted in tests/test_student.py.
* ``test_prove_on_aws::test_the_real_series_passes_the_proof_on_the_local_backend``: the ``proof``
  seat, asserted in tests/test_prove_on_aws.py (a proof run in a shared account, over lessons that
  run twice in a row: the proof passes only if the reruns do too).
"""

from __future__ import annotations

import dataclasses
import json
import os
import urllib.request
from pathlib import Path

import boto3
import pytest
from support import error_code, free_port

from benchmarks.room import KINDS, WORKSHOP_LESSONS, Seat, _seat_command, mentions, set_desk
from helpers import workshop
from helpers.local import iam_enforcement, stack
from helpers.runner import NOTEBOOK_DIR, lesson_notebooks
from helpers.settings import load_settings

ROOM_TIMEOUT = 1500  # the first test to ask for the room waits for the whole rehearsal


@pytest.mark.timeout(ROOM_TIMEOUT)
def test_every_seat_ran_every_lesson_without_a_failure(room):
    assert room.failed_seats() == {}
    assert set(room.failures_per_lesson().values()) == {0}
    lessons = {path.name[:2] for path in lesson_notebooks()}
    for run in room.seats:
        ran = {notebook[:2] for notebook, _, _ in run.lessons}
        workshop = set(WORKSHOP_LESSONS)
        assert ran == (workshop if run.seat.kind in ("student", "core") else lessons), run.seat


def test_every_seat_runs_the_lessons_from_a_folder_of_its_own(tmp_path):
    """A real participant has a checkout of their own, so each seat runs its own copy of the
    lessons (the files a lesson writes go to a folder per participant: tests/test_setup.py)."""
    (tmp_path / "student").mkdir()
    (tmp_path / "student" / "00_setup_and_secrets.ipynb").write_text("{}")
    seats = [Seat(f"ws-{n:02d}", kind) for n, kind in enumerate(KINDS * 2)]
    folders = []
    for seat in seats:
        desk = set_desk(seat, tmp_path / "desks" / seat.prefix, tmp_path / "student")
        command = _seat_command(seat, tmp_path / "out" / seat.prefix, desk)
        folder = command[command.index("--notebooks-dir") + 1]
        assert any(Path(folder).glob("[0-9][0-9]_*.ipynb")), seat
        folders.append(folder)
    assert str(NOTEBOOK_DIR) not in folders
    assert len(set(folders)) == len(seats)


def test_a_proof_seat_that_runs_twice_runs_the_proof_tool_over_each_lesson_twice(tmp_path):
    """The session's room folds the runs twice in a row into its proof seat: the proof tool, over a
    desk where lessons 00-04 each come twice and the bonus lessons once."""
    from helpers.runner import lesson_notebooks as lessons_in

    seat = Seat("proof-0a1b2c", "proof", twice=True)
    desk = set_desk(seat, tmp_path / "desk", tmp_path / "student")
    command = _seat_command(seat, tmp_path / "out", desk)
    assert command[0] == "tools.prove_on_aws" and command[command.index("--notebooks-dir") + 1] == str(desk)
    ran = [path.stem for path in lessons_in(desk)]
    assert ran[:2] == ["00_setup_and_secrets", "00_setup_and_secrets_again"]
    assert len(ran) == len(lesson_notebooks()) + len(WORKSHOP_LESSONS)
    assert not Seat("proof-0a1b2c", "proof").runs_twice and Seat("ws-01", "twice").runs_twice


@pytest.mark.timeout(ROOM_TIMEOUT)
def test_no_participant_saw_another_or_a_decoy(room):
    assert room.seen() == {}
    # what "saw" means is checked, not assumed: each seat's own prefix is all over its outputs
    for run in room.seats:
        assert mentions(run.output, [run.seat.prefix]) == [run.seat.prefix]


@pytest.mark.timeout(ROOM_TIMEOUT)
def test_the_sweep_left_nothing_and_the_decoys_are_intact(room):
    assert room.sweep_returncode == 0, room.sweep_output[-3000:]
    assert room.left_after_sweep == []
    assert len(room.decoys) == 4 and room.decoys_missing_after_sweep == []


@pytest.mark.timeout(ROOM_TIMEOUT)
def test_the_lessons_left_nothing_for_the_runners_cleanup(room):
    """Lesson 04 (and 05, for its own instance) delete all they created: the runner's final
    cleanup, as the participant, finds nothing of theirs, while every other seat still works."""
    for run in room.seats:
        assert run.lessons_left_nothing, f"{run.seat.prefix}:\n{run.output[-3000:]}"


@pytest.mark.timeout(ROOM_TIMEOUT)
def test_the_room_reports_peak_memory(room):
    assert room.emulator_peak_mib and room.emulator_peak_mib > 50
    assert room.postgres_peak_mib and room.postgres_peak_mib > 1


# --------------------------------------------------------------------------- refusals, call by call


@pytest.fixture(scope="module")
def emulator():
    port = free_port()
    proc = stack.spawn_moto(port, env={**os.environ, "TUTORIAL_AWS_IAM": "off", "TUTORIAL_AWS_LIFECYCLE_PACE": "0.5"})
    url = f"http://127.0.0.1:{port}"
    stack.wait_until_healthy(proc, url)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def switch(url: str, on: bool) -> dict:
    request = urllib.request.Request(
        url + iam_enforcement.CONTROL_PATH, data=json.dumps({"enforce": on}).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the local emulator
        return json.loads(response.read())


PARTICIPANTS = ["ws-01", "ws-02"]


@pytest.fixture(scope="module")
def seats(emulator, tmp_path_factory):
    """Two participants created by the kit (enforcement off, as an administrator), their keys.

    The kit's record and keys go to a state folder of this module's own, so the checkout's
    workshop (if an instructor made one) is neither read nor swept.
    """
    settings = dataclasses.replace(load_settings(), state_dir=tmp_path_factory.mktemp("workshop-state"))
    iam = boto3.client(
        "iam",
        endpoint_url=emulator,
        region_name=settings.region,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - the emulator's dummy administrator key
    )
    workshop.create(settings, iam, "123456789012", PARTICIPANTS, yes=True, log=lambda _: None)
    return settings, {prefix: workshop.seat_keys(settings, prefix) for prefix in PARTICIPANTS}


def as_participant(keys: tuple[str, str], url: str, service: str):
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=keys[0], aws_secret_access_key=keys[1]
    )


def test_enforcement_is_switched_at_run_time(emulator):
    assert switch(emulator, True) == {"enforce": True}
    assert switch(emulator, False) == {"enforce": False}


def test_a_participant_is_refused_on_another_participants_resources(seats, emulator):
    settings, keys = seats
    ec2_b, rds_b, ddb_b = (as_participant(keys["ws-02"], emulator, s) for s in ("ec2", "rds", "dynamodb"))
    switch(emulator, True)
    try:
        vpc = ec2_b.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        tags = [{"Key": "tutorial", "Value": "aws-storage-for-data-science"}, {"Key": "participant", "Value": "ws-02"}]
        group = ec2_b.create_security_group(
            GroupName="ws-02-postgres-sg",
            Description="b's",
            VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
        )["GroupId"]
        ddb_b.create_table(
            TableName="ws-02-users",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=tags,
        )
        instance = rds_b.create_db_instance(
            DBInstanceIdentifier="ws-02-postgres", VpcSecurityGroupIds=[group], Tags=tags, **workshop.LESSON_02_DB
        )["DBInstance"]
        ec2_a, rds_a, ddb_a, sm_a = (
            as_participant(keys["ws-01"], emulator, s) for s in ("ec2", "rds", "dynamodb", "secretsmanager")
        )
        refused = {"AccessDenied", "AccessDeniedException", "403", "UnauthorizedOperation"}
        assert error_code(lambda: ddb_a.describe_table(TableName="ws-02-users")) in refused
        assert error_code(lambda: ddb_a.delete_table(TableName="ws-02-users")) in refused
        assert error_code(lambda: ddb_a.put_item(TableName="ws-02-users", Item={"id": {"N": "1"}})) in refused
        assert error_code(lambda: ec2_a.delete_security_group(GroupId=group)) in refused
        assert (
            error_code(lambda: rds_a.delete_db_instance(DBInstanceIdentifier="ws-02-postgres", SkipFinalSnapshot=True))
            in refused
        )
        secret = instance["MasterUserSecret"]["SecretArn"]
        assert error_code(lambda: sm_a.get_secret_value(SecretId=secret)) in refused
        # ...and impersonating someone else's tag does not open a door either
        a_tags = [
            {"Key": "tutorial", "Value": "aws-storage-for-data-science"},
            {"Key": "participant", "Value": "ws-02"},
        ]
        assert (
            error_code(
                lambda: ec2_a.create_security_group(
                    GroupName="ws-01-x",
                    Description="x",
                    VpcId=vpc,
                    TagSpecifications=[{"ResourceType": "security-group", "Tags": a_tags}],
                )
            )
            in refused
        )
        # while the owner reaches all of it
        assert error_code(lambda: ddb_b.describe_table(TableName="ws-02-users")) is None
        assert (
            error_code(
                lambda: as_participant(keys["ws-02"], emulator, "secretsmanager").get_secret_value(SecretId=secret)
            )
            is None
        )
    finally:
        switch(emulator, False)
