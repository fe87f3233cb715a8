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
    from helpers.settings import new_prefix

    os.environ["TUTORIAL_BACKEND"] = "local"
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # Each worker (pytest -n, the Makefile's test-unit) is a participant of its own: it
        # inherited the controller's prefix, and two workers on one prefix would clean up
        # each other's resources.
        os.environ["TUTORIAL_TEST_PREFIX"] = new_prefix()
    elif not os.environ.get("TUTORIAL_TEST_PREFIX"):
        os.environ["TUTORIAL_TEST_PREFIX"] = new_prefix()
    os.environ["TUTORIAL_PREFIX"] = os.environ["TUTORIAL_TEST_PREFIX"]
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        # The folder where the session's one room is claimed, run and reported (below); the
        # workers inherit it, so however many there are, the room runs once.
        import tempfile

        os.environ["TUTORIAL_TEST_ROOM_DIR"] = tempfile.mkdtemp(prefix="pytest-room-")


def pytest_unconfigure(config: pytest.Config) -> None:
    import shutil

    if not os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("TUTORIAL_TEST_ROOM_DIR"):
        shutil.rmtree(os.environ.pop("TUTORIAL_TEST_ROOM_DIR"), ignore_errors=True)


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


ROOM_WAIT = 1500  # seconds a test that asks for the room waits for its report


def _room_seats():
    from benchmarks.room import Seat
    from tools.prove_on_aws import new_prefix

    # Three seats serve every assertion (tests/test_workshop_rehearsal.py lists which proves what):
    # ws-10 and ws-100 extend one another, so each must never see the other's; the proof seat's
    # lessons 00-04 each run twice in a row, so one run proves both the proof tool and the reruns.
    return [
        Seat("ws-10", "core"),
        Seat("ws-100", "student"),
        Seat(new_prefix(), "proof", twice=True),
    ]


def _room_dir():
    from pathlib import Path

    return Path(os.environ["TUTORIAL_TEST_ROOM_DIR"])


def _rehearse_into(folder) -> None:
    """Run the room and leave its report (or why it failed) in ``folder`` for every process."""
    import pickle
    import traceback

    from benchmarks.room import rehearse
    from helpers.settings import load_settings

    settings, environ = load_settings(), dict(os.environ)
    try:
        report = rehearse(_room_seats(), folder / "room", settings=settings, environ=environ, log=lambda _: None)
        (folder / "report.tmp").write_bytes(pickle.dumps(report))
        (folder / "report.tmp").rename(folder / "report.pickle")
    except BaseException:
        (folder / "failed.txt").write_text(traceback.format_exc())
        raise


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # a hook of pytest-xdist's, absent under -p no:xdist
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Under ``pytest -n`` (load distribution, as ``make test`` runs it), nbval's cells of all the
    notebooks go to one worker together, in order, while tests are shared out one by one as usual.

    The lessons build on one another (lesson 04 deletes what 01-03 made) and each worker is a
    participant of its own, so the notebooks must be neither split between workers nor
    interleaved with other tests. They are the largest unit, so they start first, and the other
    workers run the tests meanwhile. (pytest-xdist's own ``--dist loadgroup`` cannot group them
    under pytest 9, which no longer takes a node id from ``item._nodeid``.)
    """
    if config.getvalue("dist") != "load":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class LessonsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return "notebooks" if nodeid.split("::", 1)[0].endswith(".ipynb") else nodeid

    return LessonsTogether(config, log)


@pytest.hookimpl(trylast=True)  # after -k, -m and --deselect have removed what will not run
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config, items: list[pytest.Item]) -> None:
    """When a collected test asks for the room, start it now, in the background, and run those tests last.

    The room is a few minutes of other processes (kernels, the AWS CLI, an emulator of its own,
    a PostgreSQL of its own) that share nothing with the other tests, so they run meanwhile; the
    tests that assert on it come last and by then mostly find it done. Under pytest -n every
    worker collects every test: the first to claim the room's folder (an atomic mkdir) runs it,
    and the others read its report. Settings and environment are read here, before any test
    changes them.
    """
    needing = [item for item in items if "room" in getattr(item, "fixturenames", ())]
    if not needing or config.option.collectonly:
        return
    items[:] = [item for item in items if item not in needing] + needing
    folder = _room_dir()
    try:
        (folder / "claimed").mkdir()
    except FileExistsError:
        return  # another worker runs it
    import threading

    threading.Thread(target=_rehearse_into, args=(folder,), name="room", daemon=False).start()


@pytest.fixture(scope="session")
def room():
    """One workshop room, rehearsed once for the whole session (benchmarks.room.rehearse).

    The real notebooks through the same runner as `python -m helpers run`, all seats at once, in
    one account with decoys, each seat with the keys `workshop create` made and IAM enforced as
    AWS does, after `workshop prepare`, then `workshop sweep`. Several test modules assert on
    this one run (tests/test_workshop_rehearsal.py lists which assertion proves what): ws-10 runs
    the workshop's core path (test_core_path), ws-100 the student copies (test_student), and a
    seat the proof tool over the series with lessons 00-04 each twice in a row (test_prove_on_aws,
    test_lessons); ws-10 and ws-100 have prefixes that extend one another. Started in the
    background when collection ends (above).
    """
    import pickle
    import time

    folder = _room_dir()
    if not (folder / "claimed").exists():  # asked for outside a collected run: run it here
        (folder / "claimed").mkdir()
        _rehearse_into(folder)
    deadline = time.monotonic() + ROOM_WAIT
    while not (folder / "report.pickle").exists():
        if (folder / "failed.txt").exists():
            pytest.fail("the room could not be rehearsed:\n" + (folder / "failed.txt").read_text())
        if time.monotonic() > deadline:
            pytest.fail(f"the room sent no report within {ROOM_WAIT} s (its files: {folder})")
        time.sleep(1)
    return pickle.loads((folder / "report.pickle").read_bytes())
