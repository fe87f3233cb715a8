"""Prove the series on a real AWS account, and leave nothing behind: ``make test-aws``.

The lessons only ever run against the emulator in CI. A maintainer with an account runs this
to check them where it counts. It

1. refuses to start on AWS without an explicit confirmation (the flag below, or
   ``TUTORIAL_AWS_PROOF_CONFIRM=yes`` for the GitHub workflow): it creates billable
   resources, for about half an hour;
2. uses a prefix of its own (``proof-`` and six random characters), so it can neither
   collide with nor clean up a learner's resources in the same account;
3. runs every lesson with papermill on the chosen backend;
4. asks, in every region the run used, whether the lessons left anything of the series
   behind: lesson 04 and lesson 05 must delete all they created, so anything found is a
   failure;
5. sweeps whatever is there in a final step, also when a lesson failed or the run was
   interrupted, and fails if even the sweep leaves something.

``--backend local`` runs the same code against the local emulator; the test suite does that,
since CI cannot reach AWS.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

CONFIRM_FLAG = "--i-accept-aws-charges"
CONFIRM_ENV = "TUTORIAL_AWS_PROOF_CONFIRM"
PREFIX_START = "proof-"


# What the proof prints when the lessons deleted all they created (the look before its sweep).
LESSONS_LEFT_NOTHING = "Nothing: the lessons cleaned up after themselves."


def new_prefix() -> str:
    from helpers.settings import new_prefix as generate

    return generate(PREFIX_START)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.prove_on_aws", description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", choices=("aws", "local"), default="aws", help="where to run (default: aws)")
    p.add_argument(CONFIRM_FLAG, dest="confirmed", action="store_true", help="yes, create billable resources")
    p.add_argument("--prefix", default="", help=f"resource prefix, must start with {PREFIX_START!r} (default: random)")
    p.add_argument("--notebooks-dir", default=None, help="folder of NN_*.ipynb lessons (default: notebooks/)")
    p.add_argument("--output-dir", default=None, help="where executed copies go (default: runs/proof-<prefix>/)")
    p.add_argument("only", nargs="*", help="lesson numbers (default: all)")
    return p.parse_args(argv)


def refusal(args: argparse.Namespace) -> str | None:
    """Why the run must not start, or None."""
    if args.backend == "aws" and not (args.confirmed or os.environ.get(CONFIRM_ENV, "").lower() == "yes"):
        return (
            "This runs every lesson on your AWS account: two small RDS instances, a bucket and a table,\n"
            "for about half an hour (a few cents; see README, 'Proving the series on AWS').\n"
            f"Confirm with `make test-aws CONFIRM=yes`, `python -m tools.prove_on_aws {CONFIRM_FLAG}`,\n"
            f"or {CONFIRM_ENV}=yes."
        )
    if args.prefix and not args.prefix.startswith(PREFIX_START):
        return (
            f"--prefix {args.prefix!r} does not start with {PREFIX_START!r}. A proof run uses a prefix of its own,\n"
            "so that its final sweep can never touch a learner's resources in the same account."
        )
    return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    why = refusal(args)
    if why:
        print(why, file=sys.stderr)
        return 2
    prefix = args.prefix or new_prefix()
    os.environ["TUTORIAL_BACKEND"] = args.backend
    os.environ["TUTORIAL_PREFIX"] = prefix

    from helpers import cleanup, regions, runner
    from helpers.errors import TutorialError
    from helpers.local import stack
    from helpers.settings import load_settings

    try:
        settings = load_settings()
        if settings.is_local:
            stack.up(settings)
            stack.apply_local_env(settings)
        regions.remember(settings)
    except TutorialError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    directory = Path(args.notebooks_dir) if args.notebooks_dir else runner.NOTEBOOK_DIR
    notebooks = runner.lesson_notebooks(directory, only=args.only or None)
    output_dir = Path(args.output_dir) if args.output_dir else settings.runs_dir / prefix
    print(f"Proof run on the {settings.backend} backend, prefix {prefix}, {len(notebooks)} lesson(s)\n")

    results: list = []
    left_by_lessons = None
    left_after_sweep = None
    try:
        results = runner.run_notebooks(notebooks, output_dir)
        print("\nWhat the lessons left behind (they must delete everything they create):")
        left_by_lessons = cleanup.find(settings, regions=regions.used(settings))
        print(cleanup.listing(left_by_lessons, empty=LESSONS_LEFT_NOTHING))
    finally:
        # Always, even after a failed lesson or Ctrl-C: nothing billable may outlive the run.
        print("\nFinal sweep of the proof prefix:")
        try:
            left_after_sweep = cleanup.clean(settings, yes=True, regions=regions.used(settings))
        except TutorialError as exc:
            print(f"sweep failed: {exc}")
    print()
    if results:
        print(runner.summary_table(results))
    verdict = verdicts(results, left_by_lessons, left_after_sweep)
    passed = "Proof passed: every lesson ran, and nothing of the series is left."
    print("\n" + ("\n".join(verdict) if verdict else passed))
    return 1 if verdict else 0


def verdicts(results: list, left_by_lessons, left_after_sweep) -> list[str]:
    """Every reason the proof failed; empty when it passed."""
    out = [f"FAILED lesson {r.notebook}: {r.detail}" for r in results if r.status != "ok"]
    if left_by_lessons is None:
        out.append("FAILED: the run stopped before the lessons' leftovers could be checked.")
    elif left_by_lessons or not left_by_lessons.complete:
        names = ", ".join(r.name for r in left_by_lessons) or "(some services could not be listed)"
        out.append(f"FAILED: the lessons left resources behind: {names}")
    if left_after_sweep is None:
        out.append("FAILED: the final sweep did not finish; run `python -m helpers clean --yes` with this prefix.")
    elif left_after_sweep or not left_after_sweep.complete:
        names = ", ".join(r.name for r in left_after_sweep) or "(some services could not be listed)"
        out.append(f"FAILED: still there after the sweep, delete by hand: {names}")
    return out


if __name__ == "__main__":
    sys.exit(main())
