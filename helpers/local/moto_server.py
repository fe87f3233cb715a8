"""Start moto's server as the local backend needs it: ``python -m helpers.local.moto_server -H HOST -p PORT``.

Five additions to moto as shipped:

* AWS's pace and refusals (helpers/local/aws_lifecycle.py), switched by ``TUTORIAL_AWS_LIFECYCLE``
  (on unless ``off``) and paced by ``TUTORIAL_AWS_LIFECYCLE_PACE`` in this process's environment;
* AWS's quotas and the refusals moto lacks (helpers/local/aws_limits.py), switched by
  ``TUTORIAL_AWS_LIMITS`` (on unless ``off``), with ``TUTORIAL_AWS_RDS_INSTANCE_QUOTA`` DB instances
  per region (AWS: 40);
* S3's handling of a PUT body labelled as a web form: stored as sent (helpers/local/s3_fidelity.py);
* Athena that runs queries, with DuckDB over the emulator's S3 and Glue (helpers/local/athena_engine.py),
  switched by ``TUTORIAL_AWS_ATHENA`` (on unless ``off``);
* one speed fix, below.

Why not ``python -m moto.server`` directly: on every request moto (5.2) asks
``moto.backends.list_of_moto_modules()`` whether the Host header names one of its
service packages, and that function lists moto's package folder and stats about
175 entries each time, twice per request. Profiled under a stream of small S3
uploads, that was about a third of the server's CPU time. The folder cannot
change while the server runs, so we read it once and answer from memory. The
answers are identical (tests/test_moto_server.py checks that), and if a future
moto drops the function the server simply starts unpatched.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable


def cached_module_listing(listing: Callable[[], Iterable[str]]) -> Callable[[], tuple[str, ...]]:
    """Wrap moto's folder listing so it runs once; a tuple keeps ``in`` and iteration working."""

    @functools.cache
    def modules() -> tuple[str, ...]:
        return tuple(listing())

    modules.__doc__ = listing.__doc__
    return modules


def patch_moto() -> bool:
    """Install the cached listing in ``moto.backends``; False when there is nothing to patch."""
    from moto import backends

    original = getattr(backends, "list_of_moto_modules", None)
    if original is None or hasattr(original, "cache_info"):
        return False
    backends.list_of_moto_modules = cached_module_listing(original)
    return True


def lifecycle_from_env(environ: dict[str, str] | os._Environ = os.environ) -> tuple[bool, float]:
    """(enabled, pace) as the stack passed them; the defaults when unset or unreadable."""
    from helpers.settings import DEFAULT_LIFECYCLE_PACE

    enabled = environ.get("TUTORIAL_AWS_LIFECYCLE", "on").strip().lower() not in {"0", "off", "false", "no"}
    try:
        pace = float(environ.get("TUTORIAL_AWS_LIFECYCLE_PACE", DEFAULT_LIFECYCLE_PACE))
    except ValueError:
        pace = DEFAULT_LIFECYCLE_PACE
    return enabled, pace


def limits_from_env(environ: dict[str, str] | os._Environ = os.environ) -> tuple[bool, int]:
    """(enabled, DB instances per region) for aws_limits; the defaults when unset or unreadable."""
    from helpers.local.aws_limits import RDS_DB_INSTANCES

    enabled = environ.get("TUTORIAL_AWS_LIMITS", "on").strip().lower() not in {"0", "off", "false", "no"}
    try:
        quota = int(environ.get("TUTORIAL_AWS_RDS_INSTANCE_QUOTA", RDS_DB_INSTANCES))
    except ValueError:
        quota = RDS_DB_INSTANCES
    return enabled, quota


def serve_with_lifecycle(server_module) -> None:
    """Make ``server_module.main`` build its WSGI app behind the lifecycle middleware."""
    from helpers.local import aws_lifecycle

    base = server_module.DomainDispatcherApplication

    class LifecycleApplication(base):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._with_lifecycle = aws_lifecycle.wrap(super().__call__)

        def __call__(self, environ, start_response):
            return self._with_lifecycle(environ, start_response)

    server_module.DomainDispatcherApplication = LifecycleApplication


def main(argv: list[str] | None = None) -> None:
    from moto import server

    from helpers.local import athena_engine, aws_lifecycle, aws_limits, iam_enforcement, s3_fidelity

    patch_moto()
    enabled, pace = lifecycle_from_env()
    aws_lifecycle.install(enabled, pace)
    aws_limits.install(*limits_from_env())
    s3_fidelity.install()  # always: S3 stores a PUT body whatever its Content-Type
    athena_engine.install(athena_engine.enabled_from_env())
    iam_enforcement.install(os.environ.get("TUTORIAL_AWS_IAM", "").strip().lower() == "enforce")
    serve_with_lifecycle(server)
    server.main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
