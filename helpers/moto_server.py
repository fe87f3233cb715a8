"""Start moto's server with one speed fix: ``python -m helpers.moto_server -H HOST -p PORT``.

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


def main(argv: list[str] | None = None) -> None:
    from moto import server

    patch_moto()
    server.main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
