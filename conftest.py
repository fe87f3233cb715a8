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
