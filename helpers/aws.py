"""Small boto3 plumbing shared by the helpers: clients with timeouts, identity, errors.

Lesson cells call plain ``boto3.client("s3")`` so the learner sees the real API.
Helpers use :func:`client`, which adds what a lesson should not have to think about:
short timeouts and few retries, so that a dead emulator or a dropped Wi-Fi link
gives an error in seconds instead of a hang.
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
)

from helpers.errors import TutorialError, advice
from helpers.settings import Settings, is_local_url

HELPER_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2, "mode": "standard"})


def client(service: str, settings: Settings | None = None, **kwargs):
    """A boto3 client with the helpers' timeouts, in the settings' region."""
    if settings is not None:
        kwargs.setdefault("region_name", settings.region)
    kwargs.setdefault("config", HELPER_CONFIG)
    return boto3.client(service, **kwargs)


@dataclass(frozen=True)
class Identity:
    account_id: str
    arn: str
    endpoint_url: str = ""  # where botocore sent the call, e.g. https://sts.us-east-1.amazonaws.com


def explain(exc: BaseException, settings: Settings) -> TutorialError:
    """Turn a botocore failure into a TutorialError that says what to do (words: helpers.errors.advice)."""
    found = advice(exc, local=settings.is_local, region=settings.region)
    if found:
        return TutorialError(*found)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return TutorialError(f"AWS said {error.get('Code', '')}: {error.get('Message', '')}")
    if isinstance(exc, BotoCoreError):
        return TutorialError(f"boto3 failed: {exc}")
    return TutorialError(str(exc))


def whoami(settings: Settings) -> Identity:
    """STS GetCallerIdentity, the cheapest call that proves credentials and endpoint work.

    Also returns the endpoint botocore resolved, for the banner: on the aws backend a
    learner should see ``https://sts.<region>.amazonaws.com``, not only the word "aws".
    On aws, an endpoint on this machine is refused before any call: the environment
    was checked when the settings were loaded, so it comes from ``endpoint_url`` in the
    AWS config file (a profile or its ``services`` section).
    """
    try:
        sts = client("sts", settings)
    except BotoCoreError as exc:
        raise explain(exc, settings) from exc
    endpoint = sts.meta.endpoint_url
    if not settings.is_local and is_local_url(endpoint):
        raise TutorialError(
            f"TUTORIAL_BACKEND=aws, but botocore sends STS to {endpoint}, an emulator on this machine "
            "(endpoint_url in your AWS config file).",
            "Remove that endpoint_url line from ~/.aws/config (or the file AWS_CONFIG_FILE names), or choose "
            "another profile with AWS_PROFILE.",
        )
    try:
        found = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as exc:
        raise explain(exc, settings) from exc
    return Identity(account_id=found["Account"], arn=found["Arn"], endpoint_url=endpoint)


def mask_account(account_id: str) -> str:
    """Show only the ends of an account id: enough to recognise it, not to copy it."""
    if len(account_id) != 12:
        return account_id
    return account_id[:2] + "*" * 6 + account_id[-4:]


# moto's fixed account id, and the one AWS documentation uses as an example.
EMULATOR_ACCOUNT = "123456789012"
