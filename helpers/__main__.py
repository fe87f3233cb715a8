"""Command line: ``python -m helpers up | down | status | env | run | clean``."""

from __future__ import annotations

import argparse
import shlex
import sys

from helpers.errors import TutorialError
from helpers.settings import load_settings


def cmd_up(args: argparse.Namespace) -> int:
    from helpers import stack

    settings = load_settings()
    print(stack.up(settings))
    print("\nPoint a terminal at it with:  eval \"$(python -m helpers env)\"")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from helpers import stack

    stopped = stack.down(load_settings())
    print("stopped: " + ", ".join(stopped) if stopped else "nothing was running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from helpers import stack

    settings = load_settings()
    print(settings)
    if settings.is_local:
        print(stack.status(settings))
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    """Print shell exports so a terminal, the AWS CLI and psql reach the same stack."""
    from helpers import stack

    settings = load_settings()
    if not settings.is_local:
        print("# TUTORIAL_BACKEND=aws: your shell already reaches AWS; nothing to export.")
        return 0
    exports = dict(stack.local_aws_env(settings))
    target = stack.pg_target(settings)
    exports.update({"PGHOST": target.host, "PGPORT": str(target.port)})
    print("# local backend: paste into a shell, or run  eval \"$(python -m helpers env)\"")
    for key, value in exports.items():
        if value:
            print(f"export {key}={shlex.quote(value)}")
        else:
            print(f"unset {key}")
    print("unset AWS_PROFILE")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from helpers import runner, stack

    settings = load_settings()
    notebooks = runner.lesson_notebooks(only=args.only)
    if not notebooks:
        raise TutorialError(f"No notebook matches {args.only}.", "List them with `ls notebooks/`.")
    if settings.is_local:
        print(stack.up(settings))
        stack.apply_local_env(settings)
    print(f"Running {len(notebooks)} notebook(s) on the {settings.backend} backend; executed copies go to runs/\n")
    with runner.quiet_kernel_warnings():
        results = runner.run_notebooks(notebooks, settings.runs_dir, kernel_name=args.kernel)
    failed = any(r.status == "FAILED" for r in results)
    if failed and not args.keep:
        try:
            from helpers import cleanup
        except ImportError:
            cleanup = None
        if cleanup is not None:
            print("\nA lesson failed: removing what the series created (use --keep to keep it).")
            cleanup.clean(settings, yes=True)
    print()
    print(runner.summary_table(results))
    return 1 if failed else 0


def cmd_clean(args: argparse.Namespace) -> int:
    from helpers import cleanup

    settings = load_settings()
    found = cleanup.clean(settings, yes=args.yes, all_participants=args.all_participants)
    return 0 if found is not None else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the local stack (moto + PostgreSQL); quick if already up")
    sub.add_parser("down", help="stop the local stack")
    sub.add_parser("status", help="settings, and what runs where")
    sub.add_parser("env", help="shell exports for the AWS CLI and psql")
    run = sub.add_parser("run", help="execute the lessons in order with papermill")
    run.add_argument("only", nargs="*", help="notebook numbers or names (default: all)")
    run.add_argument("--keep", action="store_true", help="do not clean up after a failed lesson")
    run.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's)")
    clean = sub.add_parser("clean", help="delete the series' resources (dry run unless --yes)")
    clean.add_argument("--yes", action="store_true", help="really delete")
    clean.add_argument("--all-participants", action="store_true", help="every participant's, not only yours")
    args = parser.parse_args(argv)
    handler = {
        "up": cmd_up,
        "down": cmd_down,
        "status": cmd_status,
        "env": cmd_env,
        "run": cmd_run,
        "clean": cmd_clean,
    }[args.command]
    try:
        return handler(args)
    except TutorialError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
