"""Test session setup shared by tests/ and the notebook tests (nbval over notebooks/).

* Tests never reach real AWS: the backend is forced to ``local``.
* The session uses a prefix of its own, so it neither collides with nor cleans up
  the resources of a developer working in the same checkout (the same isolation
  two workshop participants get).
* Kernels started by nbval inherit this environment.
"""

from __future__ import annotations

import os

import pytest


def pytest_configure(config: pytest.Config) -> None:
    os.environ["TUTORIAL_BACKEND"] = "local"
    if not os.environ.get("TUTORIAL_TEST_PREFIX"):
        from helpers.settings import new_prefix

        os.environ["TUTORIAL_TEST_PREFIX"] = new_prefix()
    os.environ["TUTORIAL_PREFIX"] = os.environ["TUTORIAL_TEST_PREFIX"]
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


@pytest.fixture(scope="session")
def settings():
    from helpers.settings import load_settings

    return load_settings()


@pytest.fixture(scope="session")
def local_stack(settings):
    """The shared local stack, started if needed (left running: it is cheap and reused)."""
    from helpers.local import stack

    stack.up(settings)
    stack.apply_local_env(settings)
    return settings


@pytest.fixture(scope="session")
def room(tmp_path_factory):
    """One workshop room, rehearsed once for the whole session (benchmarks.room.rehearse).

    The real notebooks through the same runner as `python -m helpers run`, all seats at once, in
    one account with decoys, each seat with the keys `workshop create` made and IAM enforced as
    AWS does, after `workshop prepare`, then `workshop sweep`. Several test modules assert on
    this one run (tests/test_workshop_rehearsal.py lists which assertion proves what): a seat
    for the series twice in a row (test_lessons), one for the student copies (test_student),
    one for the proof tool (test_prove_on_aws), and ws-10 with ws-100, whose prefixes extend
    one another.
    """
    from benchmarks.room import Seat, rehearse
    from tools.prove_on_aws import new_prefix

    seats = [
        Seat("ws-01", "twice"),
        Seat("ws-10"),
        Seat("ws-100"),
        Seat("ws-02", "student"),
        Seat(new_prefix(), "proof"),
    ]
    return rehearse(seats, tmp_path_factory.mktemp("room"), log=lambda _: None)
