"""Shared plumbing for the "AWS storage for data science" notebook series.

Lessons start with::

    from helpers import setup
    tut = setup()

which loads the settings, makes sure the backend answers (starting the local stack
when needed) and prints who and where you are. Everything else the lessons do with
boto3, psycopg2 and pandas directly.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from helpers.errors import TutorialError, install_notebook_hints
from helpers.names import Names
from helpers.settings import Settings, load_settings

__all__ = ["Tutorial", "TutorialError", "setup"]

BILLING_NOTE = (
    "NOTE: the aws backend creates real, billable resources in your account (an S3 bucket,\n"
    "a small RDS PostgreSQL instance with a public IPv4 address, a DynamoDB table). The Free\n"
    "Tier may cover them (accounts opened since 15 July 2025: Free Tier credits, up to $200\n"
    "for 6 months; older accounts: the 12-month offers, while they last), but an RDS instance\n"
    "left running costs money, and so does its public IPv4 address ($0.005 an hour, not\n"
    "covered by EC2's free IPv4 hours): lesson 04 deletes everything, and so does\n"
    "`python -m helpers clean --yes`."
)


@dataclass(frozen=True)
class Tutorial:
    """What a lesson needs after setup: the settings and its resource names."""

    settings: Settings
    names: Names
    account_id: str
    arn: str
    endpoint: str = ""  # the STS endpoint botocore resolved (shown on the aws backend)

    @property
    def region(self) -> str:
        return self.settings.region

    @property
    def tags(self) -> list[dict[str, str]]:
        return self.names.tags()

    def workdir(self, lesson: str) -> Path:
        """A scratch folder for the files a lesson writes (git-ignored, under the state folder).

        Why not the current folder: papermill and Jupyter may be started anywhere, and a lesson
        must neither litter that folder nor upload what it finds there (``aws s3 cp . --recursive``).
        Why one per prefix: participants who share a state folder (a rehearsed room, the tests
        beside ``make lessons``) ran lesson 01 at the same moment in one folder, and one read a
        ``file1.csv`` that another had just truncated to rewrite it (pandas: EmptyDataError).
        """
        path = self.settings.state_dir / "work" / self.settings.prefix / lesson
        path.mkdir(parents=True, exist_ok=True)
        return path

    def banner(self) -> str:
        from helpers.aws import EMULATOR_ACCOUNT, mask_account

        s = self.settings
        if s.is_local:
            where = f"local (emulator {s.endpoint_url}"
            where += ", PostgreSQL from DATABASE_URL)" if s.database_url else ", embedded PostgreSQL)"
            account = (
                f"{self.account_id} (the emulator's fake account)"
                if self.account_id == EMULATOR_ACCOUNT
                else self.account_id
            )
        else:
            # The endpoint botocore really resolved: an endpoint variable or config line
            # that redirects "AWS" shows here instead of hiding behind the word "aws".
            where = f"aws (your AWS account, {self.endpoint or 'endpoint not resolved'})"
            account = mask_account(self.account_id)
        # These four lines are compared by nbval in every lesson's committed output: keep them.
        lines = [
            f"Backend   {where}",
            f"Region    {s.region}",
            f"Account   {account}",
            f"Prefix    {s.prefix}",
        ]
        lines += [f"Endpoint  {service} -> {url}" for service, url in s.service_endpoints]
        if s.restored_env:
            lines.append(
                "Note      setup() had pointed this kernel at the local backend; it set back what it had "
                f"changed: {', '.join(s.restored_env)}"
            )
        if not s.is_local:
            lines += ["", BILLING_NOTE]
        return "\n".join(lines)


def _put_interpreter_scripts_on_path() -> None:
    """Make ``!aws ...`` in a notebook run the AWS CLI pinned in requirements.txt.

    A Jupyter kernel started from ``.venv/bin/jupyter`` (or by nbval/papermill) runs
    the venv's Python but inherits a PATH without ``.venv/bin``, so a shell command
    ``aws`` finds a different CLI, or none at all.
    """
    scripts = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "")
    if scripts not in path.split(os.pathsep):
        os.environ["PATH"] = scripts + (os.pathsep + path if path else "")


def setup(*, quiet: bool = False) -> Tutorial:
    """Load settings, make sure the backend answers, print a banner; return the context.

    On the local backend this starts the emulator and PostgreSQL if they are not
    running (a few seconds, once) and points boto3 and the AWS CLI at them through
    environment variables, so lesson code stays plain ``boto3.client("s3")``.
    When the stack is already up this costs a few milliseconds plus one STS call.
    """
    import boto3

    from helpers import aws
    from helpers.local import stack

    install_notebook_hints()  # first, so that a problem found below reads as cause + fix
    settings = load_settings()
    from helpers import regions

    regions.remember(settings)  # cleanup searches every region used, not only today's
    _put_interpreter_scripts_on_path()
    if settings.is_local:
        if not stack.is_up(settings):
            stack.up(settings)
        stack.apply_local_env(settings)
    else:
        os.environ["AWS_DEFAULT_REGION"] = settings.region
    # boto3's default session caches the credentials it found first; re-running this
    # cell after editing .env must see the new ones.
    boto3.DEFAULT_SESSION = None
    identity = aws.whoami(settings)
    tut = Tutorial(
        settings=settings,
        names=Names(prefix=settings.prefix, account_id=identity.account_id, region=settings.region),
        account_id=identity.account_id,
        arn=identity.arn,
        endpoint=identity.endpoint_url,
    )
    if not quiet:
        print(tut.banner())
    return tut
