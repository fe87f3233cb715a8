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


_ROOM: dict = {}  # the session's room: its background thread's future, started once


def _room_seats():
    from benchmarks.room import Seat
    from tools.prove_on_aws import new_prefix

    return [
        Seat("ws-01", "twice"),
        Seat("ws-10"),
        Seat("ws-100"),
        Seat("ws-02", "student"),
        Seat(new_prefix(), "proof"),
    ]


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """When a collected test asks for the room, start it now, in the background, and run those tests last.

    The room is a few minutes of other processes (kernels, the AWS CLI, an emulator of its own,
    a PostgreSQL of its own) that share nothing with the other tests, so they run meanwhile; the
    tests that assert on it come last and by then mostly find it done. Settings and environment
    are read here, before any test changes them.
    """
    needing = [item for item in items if "room" in getattr(item, "fixturenames", ())]
    if not needing or config.option.collectonly or "future" in _ROOM:
        return
    items[:] = [item for item in items if item not in needing] + needing
    import tempfile
    from concurrent.futures import ThreadPoolExecutor
    from pathlib import Path

    from benchmarks.room import rehearse
    from helpers.settings import load_settings

    settings, environ = load_settings(), dict(os.environ)
    workdir = Path(tempfile.mkdtemp(prefix="pytest-room-"))
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="room")
    _ROOM["future"] = pool.submit(
        rehearse, _room_seats(), workdir, settings=settings, environ=environ, log=lambda _: None
    )
    _ROOM["workdir"] = workdir
    pool.shutdown(wait=False)


@pytest.fixture(scope="session")
def room():
    """One workshop room, rehearsed once for the whole session (benchmarks.room.rehearse).

    The real notebooks through the same runner as `python -m helpers run`, all seats at once, in
    one account with decoys, each seat with the keys `workshop create` made and IAM enforced as
    AWS does, after `workshop prepare`, then `workshop sweep`. Several test modules assert on
    this one run (tests/test_workshop_rehearsal.py lists which assertion proves what): a seat
    for the series twice in a row (test_lessons), one for the student copies (test_student),
    one for the proof tool (test_prove_on_aws), and ws-10 with ws-100, whose prefixes extend
    one another. Started in the background when collection ends (above).
    """
    import shutil

    future = _ROOM.get("future")
    if future is None:  # asked for outside a collected run (e.g. by a plugin): run it here
        import tempfile
        from concurrent.futures import Future
        from pathlib import Path

        from benchmarks.room import rehearse

        future = Future()
        future.set_result(rehearse(_room_seats(), Path(tempfile.mkdtemp(prefix="pytest-room-")), log=lambda _: None))
    yield future.result()
    if "workdir" in _ROOM:
        shutil.rmtree(_ROOM["workdir"], ignore_errors=True)
