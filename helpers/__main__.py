"""Command line: ``python -m helpers up | down | status | env | run | clean``."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from helpers.errors import TutorialError
from helpers.settings import load_settings


def cmd_up(args: argparse.Namespace) -> int:
    from helpers.local import stack

    settings = load_settings()
    print(stack.up(settings))
    print('\nPoint a terminal at it with:  eval "$(python -m helpers env)"')
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from helpers.local import stack

    stopped = stack.down(load_settings())
    print("stopped: " + ", ".join(stopped) if stopped else "nothing was running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from helpers.local import stack

    settings = load_settings()
    print(settings)
    if settings.is_local:
        print(stack.status(settings))
    if reach_backend(settings):
        print()
        print(alive_report(settings))
    return 0


def reach_backend(settings) -> bool:
    """Point boto3 at the backend; False (with a note) when the local stack is down.

    A stopped emulator keeps nothing (its state lives in memory), so there is
    nothing of the series to list or delete then.
    """
    from helpers.local import stack

    if not settings.is_local:
        return True
    if not stack.is_up(settings):
        print("The local stack is down, so nothing of the series exists right now.")
        return False
    stack.apply_local_env(settings)
    return True


def alive_report(settings) -> str:
    """What of the series exists for this prefix in the regions used and, on AWS, what of it costs money.

    The report names the regions it searched: resources made under another
    AWS_DEFAULT_REGION exist there, whatever this region says.
    """
    from helpers import cleanup

    try:
        found = cleanup.find(settings)
    except TutorialError as exc:
        return f"Could not list the series' resources: {exc}"
    lines = [f"Resources of the series for {settings.prefix}:", cleanup.listing(found)]
    billable = [r for r in found if r.billable]
    if not settings.is_local and billable:
        names = ", ".join(f"{r.name} ({r.region})" for r in billable)
        lines.append(f"\nBillable on AWS while they exist: {names}. Delete with `python -m helpers clean --yes`.")
    lines.append(cleanup.ALL_REGIONS_HINT)
    return "\n".join(lines)


def cmd_env(args: argparse.Namespace) -> int:
    """Print shell exports so a terminal, the AWS CLI and psql reach the same stack.

    On the aws backend it prints the opposite: ``unset`` lines for what an earlier
    ``eval "$(python -m helpers env)"`` on the local backend left in this shell, so
    the same eval switches a terminal to AWS. Nothing is unset behind the learner's
    back: the lines are printed for them to run.

    On the local backend it also defines a shell function ``aws`` (bash and zsh) that
    passes ``--endpoint-url`` to the few commands AWS CLI v1 would otherwise send to a
    fixed AWS host whatever the environment says, ``aws rds ...`` among them (see
    stack.aws_cli_shell_function); the aws backend's lines remove it again.
    """
    from helpers.local import postgres, stack
    from helpers.settings import LocalLeftoversError

    try:
        settings = load_settings()
    except LocalLeftoversError as exc:
        print("# TUTORIAL_BACKEND=aws, but this shell still has the local backend's settings.")
        print('# Undo them with:  eval "$(python -m helpers env)"')
        if exc.in_environment:
            print("unset " + " ".join(exc.in_environment))
        print(stack.aws_cli_shell_function_undo())
        if exc.in_env_file:
            print(f"# and delete from .env: {', '.join(exc.in_env_file)}")
        return 0
    if not settings.is_local:
        print("# TUTORIAL_BACKEND=aws: your shell already reaches AWS; nothing to export.")
        return 0
    exports = dict(stack.local_aws_env(settings))
    target = postgres.pg_target(settings)
    exports.update({"PGHOST": target.host, "PGPORT": str(target.port)})
    print('# local backend: paste into a shell, or run  eval "$(python -m helpers env)"')
    for key, value in exports.items():
        if value:
            print(f"export {key}={shlex.quote(value)}")
        else:
            print(f"unset {key}")
    print("unset AWS_PROFILE")
    print("# AWS CLI v1 ignores these endpoints for rds (and sqs, emr, docdb, neptune, health):")
    print(stack.aws_cli_shell_function())
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from helpers import runner

    settings = load_settings()
    directory = Path(args.notebooks_dir) if args.notebooks_dir else runner.NOTEBOOK_DIR
    notebooks = runner.lesson_notebooks(directory, only=args.only)
    if not notebooks:
        raise TutorialError(
            f"No notebook matches {args.only or '*'} in {directory}.", "List them with `ls notebooks/`."
        )
    output_dir = Path(args.output_dir) if args.output_dir else settings.runs_dir
    run = runner.run_series(settings, notebooks, output_dir, keep=args.keep, kernel_name=args.kernel, core=args.core)
    print()
    print(runner.summary_table(run.results))
    if args.keep:
        print("\n--keep: the series' resources were left in place; remove them with `python -m helpers clean --yes`.")
    elif run.cleanup is not None and not run.cleaned:
        print("\n" + run.cleanup.closing())  # what is left, what could not be searched, what to do
    return 1 if run.failed or not run.cleaned else 0


def cmd_clean(args: argparse.Namespace) -> int:
    from helpers import cleanup

    settings = load_settings()
    if not reach_backend(settings):
        return 0
    left = cleanup.clean(settings, yes=args.yes, all_participants=args.all_participants, all_regions=args.all_regions)
    incomplete = not getattr(left, "complete", True)
    return 1 if (args.yes and left) or incomplete else 0


def cmd_workshop(args: argparse.Namespace) -> int:
    """The instructor's commands (helpers/workshop): a dry run unless --yes."""
    from helpers import aws, cleanup, workshop

    settings = load_settings()
    if not reach_backend(settings):
        return 2
    account = aws.whoami(settings).account_id
    iam = aws.client("iam", settings)
    if args.action == "create":
        names_file = Path(args.participants_file) if args.participants_file else None
        participants = workshop.participant_names(args.participants, names_file)
        workshop.create(
            settings,
            iam,
            account,
            participants,
            yes=args.yes,
            workshop_id=args.workshop_id or "",
            rotate_keys=args.rotate_keys,
        )
        return 0
    record = workshop._require(settings)
    if args.action == "prepare":
        workshop.prepare(settings, aws.client("ec2", settings), aws.client("rds", settings), account, yes=args.yes)
        return 0
    clients = cleanup.Clients(settings)
    regions = sorted(set(record.regions) | set(cleanup.regions_to_search(settings, clients, True, log=print)))
    if args.action == "status":
        found = cleanup.find(settings, record.participants, regions=regions, clients=clients)
        print(workshop.status(settings, found, record))
        return 0 if found.complete else 1
    # sweep: the series' resources of every participant in every enabled region, then the users.
    cleanup.clean(settings, yes=args.yes, participants=record.participants, regions=regions, clients=clients)
    iam_left = workshop.delete_users(iam, record, yes=args.yes)
    if not args.yes:
        print("\nDry run: nothing was deleted. Add --yes to sweep.")
        return 0
    users = workshop.workshop_users_left(iam, record)
    proof = cleanup.find(settings, record.participants, regions=regions, clients=clients, log=print)
    if proof or users or iam_left or not proof.complete:
        print(f"\nNOT clean: {len(proof)} resource(s) and {len(users)} user(s) remain; run the sweep again.")
        for why in iam_left:
            print(f"  left: {why}")
        return 1
    print(f"\nSwept: nothing of the workshop is left in {', '.join(regions)}, and no workshop user remains.")
    return 0


def cmd_policy(args: argparse.Namespace) -> int:
    """The participant policy for your prefix, region and account, for `aws iam create-policy`.

    The prefix is written in literally (no principal-tag variable, as the workshop's shared copy
    has): a learner attaches it to whatever identity they use, tagged or not. The JSON goes to
    stdout, so it can be redirected to a file; how to attach it goes to stderr.
    """
    import json

    from helpers import aws, workshop

    settings = load_settings()
    if not reach_backend(settings):
        return 2
    account = aws.whoami(settings).account_id
    print(json.dumps(workshop.render_policy(settings.prefix, settings.region, account), indent=2))
    print(workshop.learner_hint(settings.prefix, account), file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the local stack (moto + PostgreSQL); quick if already up")
    sub.add_parser("down", help="stop the local stack")
    sub.add_parser("status", help="settings, and what runs where")
    sub.add_parser("env", help="shell exports for the AWS CLI and psql")
    run = sub.add_parser("run", help="execute the lessons in order with papermill")
    run.add_argument("only", nargs="*", help="notebook numbers or names (default: all)")
    run.add_argument("--keep", action="store_true", help="keep the resources (no cleanup at the end)")
    run.add_argument("--notebooks-dir", default=None, help="folder of NN_*.ipynb lessons (default: notebooks/)")
    run.add_argument("--output-dir", default=None, help="where executed copies go (default: runs/)")
    run.add_argument("--kernel", default=None, help="Jupyter kernel name (default: the notebook's)")
    run.add_argument(
        "--core",
        action="store_true",
        help="run each lesson's core path only: cells tagged deep-dive are left out (a two-hour workshop)",
    )
    clean = sub.add_parser("clean", help="delete the series' resources (dry run unless --yes)")
    clean.add_argument("--yes", action="store_true", help="really delete")
    clean.add_argument("--all-participants", action="store_true", help="every participant's, not only yours")
    clean.add_argument(
        "--all-regions",
        action="store_true",
        help="search every region enabled for the account, not only the regions this checkout used",
    )
    ws = sub.add_parser("workshop", help="instructors: create | prepare | status | sweep (dry run unless --yes)")
    ws.add_argument("action", choices=("create", "prepare", "status", "sweep"))
    ws.add_argument("--participants", type=int, default=None, help="create: this many participants, ws-01 ...")
    ws.add_argument("--participants-file", default=None, help="create: a file of participant names, one a line")
    ws.add_argument("--workshop-id", default=None, help="create: a name for this workshop (tags its users)")
    ws.add_argument(
        "--rotate-keys",
        action="store_true",
        help="create: replace the keys of seats whose .env this checkout lacks (their old keys stop working)",
    )
    ws.add_argument("--yes", action="store_true", help="really do it")
    sub.add_parser("policy", help="the least-privilege IAM policy for your prefix, for aws iam create-policy")
    args = parser.parse_args(argv)
    handler = {
        "up": cmd_up,
        "down": cmd_down,
        "status": cmd_status,
        "env": cmd_env,
        "run": cmd_run,
        "clean": cmd_clean,
        "workshop": cmd_workshop,
        "policy": cmd_policy,
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
