"""Resource names and tags, all derived from one prefix.

Why: a workshop puts thirty learners on one AWS account. If every name starts with
the learner's prefix and every resource carries the series' tags, two learners
never collide and cleanup can find exactly what the series created, and nothing
else, by asking for those tags.

S3 bucket names are global across all AWS accounts, so the bucket also carries a
short hash of the account id and region: stable for one learner (lesson 04 finds
lesson 01's bucket), different for anyone else.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection
from dataclasses import dataclass

from helpers.errors import TutorialError

SERIES_TAG_KEY = "tutorial"
SERIES_TAG_VALUE = "aws-storage-for-data-science"
PARTICIPANT_TAG_KEY = "participant"

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def validate_bucket_name(name: str) -> str:
    """Check the S3 naming rules locally, so a bad name fails with a reason.

    (moto accepts some names real S3 rejects, so checking here keeps the lessons
    honest on both backends.)
    """
    problems = []
    if not 3 <= len(name) <= 63:
        problems.append(f"it has {len(name)} characters (3-63 allowed)")
    if name != name.lower():
        problems.append("it contains uppercase letters")
    if "_" in name:
        problems.append("it contains underscores")
    if ".." in name or ".-" in name or "-." in name:
        problems.append("it has adjacent dots/hyphens")
    if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name):
        problems.append("it looks like an IP address")
    if not problems and not _BUCKET_RE.match(name):
        problems.append("it must start and end with a letter or digit and use only a-z, 0-9, '.', '-'")
    if problems:
        raise TutorialError(
            f"{name!r} is not a valid S3 bucket name: {'; '.join(problems)}.",
            "Use 3-63 lowercase letters, digits and hyphens, starting and ending with a "
            "letter or digit (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html).",
        )
    return name


def account_hash(account_id: str, region: str) -> str:
    """Eight hex characters that differ between accounts and regions."""
    return hashlib.sha256(f"{account_id}:{region}".encode()).hexdigest()[:8]


@dataclass(frozen=True)
class Names:
    """The names of everything the series creates, for one participant."""

    prefix: str
    account_id: str
    region: str

    @property
    def bucket(self) -> str:
        return validate_bucket_name(f"{self.prefix}-{account_hash(self.account_id, self.region)}-data")

    @property
    def db_instance(self) -> str:
        return f"{self.prefix}-postgres"

    @property
    def security_group(self) -> str:
        return f"{self.prefix}-postgres-sg"

    @property
    def table(self) -> str:
        """The article's ``users`` table, prefixed so participants do not share it."""
        return f"{self.prefix}-users"

    def tags(self) -> list[dict[str, str]]:
        """Tags in the ``[{"Key": ..., "Value": ...}]`` shape most AWS APIs take."""
        return [
            {"Key": SERIES_TAG_KEY, "Value": SERIES_TAG_VALUE},
            {"Key": PARTICIPANT_TAG_KEY, "Value": self.prefix},
        ]

    def as_dict(self) -> dict[str, str]:
        return {
            "bucket": self.bucket,
            "db_instance": self.db_instance,
            "security_group": self.security_group,
            "table": self.table,
        }


def tags_dict(tags: list[dict[str, str]] | None) -> dict[str, str]:
    """``[{"Key": k, "Value": v}]`` (any capitalisation AWS uses) to ``{k: v}``."""
    out: dict[str, str] = {}
    for tag in tags or []:
        key = tag.get("Key", tag.get("key"))
        value = tag.get("Value", tag.get("value", ""))
        if key is not None:
            out[key] = value
    return out


def series_participant(
    tags: list[dict[str, str]] | dict[str, str] | None, name: str, scope: Collection[str] | None = None
) -> str | None:
    """The participant a resource belongs to, or None when it is not provably the series'.

    The one rule for "is this ours?", used by cleanup, status and the tests (lesson 04 writes
    the same rule out in its own code, to teach it; a test checks that the two agree). A
    resource is the series' when it carries ``tutorial=aws-storage-for-data-science`` AND a
    ``participant`` tag, and its name starts with that participant's prefix: the tags are the
    proof, the name a second guard against a tag copied by hand onto something unrelated.
    ``scope`` limits the answer to some participants (None: anyone's).
    """
    found = tags if isinstance(tags, dict) else tags_dict(tags)
    if found.get(SERIES_TAG_KEY) != SERIES_TAG_VALUE:
        return None
    participant = found.get(PARTICIPANT_TAG_KEY, "")
    if not participant or not name.startswith(participant):
        return None
    if scope is not None and participant not in scope:
        return None
    return participant
