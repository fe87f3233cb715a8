"""``python -m benchmarks``: the comparisons of benchmarks/run.py, or one of the separate sections.

Two sections have programs of their own, because they need none of the others' set-up (the local
stack, a PostgreSQL database) and write their own results:

* ``--only datalake``: lesson 06's data lake (benchmarks/datalake.py, its own emulator);
* ``--only setup``: fresh setup with cold caches, pip against uv (benchmarks/fresh_setup.py).

Each is asked for alone; everything else goes to benchmarks/run.py as before.
"""

from __future__ import annotations

import sys

SEPARATE = ("datalake", "setup")


def sections(argv: list[str]) -> set[str]:
    """The sections ``--only`` names (``--only a,b`` or ``--only=a,b``); empty when it is not given."""
    for i, arg in enumerate(argv):
        if arg == "--only" and i + 1 < len(argv):
            return {s.strip() for s in argv[i + 1].split(",") if s.strip()}
        if arg.startswith("--only="):
            return {s.strip() for s in arg.split("=", 1)[1].split(",") if s.strip()}
    return set()


def main(argv: list[str]) -> int:
    wanted = sections(argv)
    separate = wanted & set(SEPARATE)
    if (separate and wanted != separate) or len(separate) > 1:
        print(
            f"--only {','.join(sorted(separate))} runs on its own: "
            + "; ".join(f"`python -m benchmarks --only {s}`" for s in sorted(wanted)),
            file=sys.stderr,
        )
        return 2
    if separate == {"datalake"}:
        from benchmarks import datalake

        return datalake.main(argv)
    if separate == {"setup"}:
        from benchmarks import fresh_setup

        return fresh_setup.main(argv)
    from benchmarks.run import main as run_main

    return run_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
