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
from collections.abc import Callable, Collection
from dataclasses import dataclass

from helpers.errors import TutorialError

SERIES_TAG_KEY = "tutorial"
SERIES_TAG_VALUE = "aws-storage-for-data-science"
PARTICIPANT_TAG_KEY = "participant"

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
BUCKET_RULES = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"
# S3 reserves these starts and ends of general purpose bucket names (BUCKET_RULES): access point,
# Object Lambda, Multi-Region Access Point, directory bucket and table bucket names use them.
RESERVED_BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
RESERVED_BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
DB_INSTANCE_RULES = "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html"
SECURITY_GROUP_RULES = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html"
TABLE_RULES = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html"
_SECURITY_GROUP_CHARS = re.compile(r"^[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*$")


def bucket_name_problems(name: str) -> list[str]:
    """Why S3 would refuse ``name`` as a general purpose bucket name (empty when it would not)."""
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
    problems += [f"it starts with {p!r}, which S3 reserves" for p in RESERVED_BUCKET_PREFIXES if name.startswith(p)]
    problems += [f"it ends with {s!r}, which S3 reserves" for s in RESERVED_BUCKET_SUFFIXES if name.endswith(s)]
    if not problems and not _BUCKET_RE.match(name):
        problems.append("it must start and end with a letter or digit and use only a-z, 0-9, '.', '-'")
    return problems


def validate_bucket_name(name: str) -> str:
    """Check the S3 naming rules locally, so a bad name fails with a reason.

    (moto accepts some names real S3 rejects, so checking here keeps the lessons
    honest on both backends.)
    """
    problems = bucket_name_problems(name)
    if problems:
        raise TutorialError(
            f"{name!r} is not a valid S3 bucket name: {'; '.join(problems)}.",
            "Use 3-63 lowercase letters, digits and hyphens, starting and ending with a "
            f"letter or digit, and none of the prefixes or suffixes S3 reserves ({BUCKET_RULES}).",
        )
    return name


def db_instance_problems(name: str) -> list[str]:
    """Why RDS would refuse ``name`` as a DB instance identifier (DB_INSTANCE_RULES): 1-63 letters,
    digits or hyphens, a letter first, no two hyphens in a row, no hyphen last."""
    problems = []
    if not 1 <= len(name) <= 63:
        problems.append(f"it has {len(name)} characters (1-63 allowed)")
    if not re.fullmatch(r"[A-Za-z0-9-]*", name):
        problems.append("it may hold only letters, digits and hyphens")
    if not name[:1].isalpha() or not name[:1].isascii():
        problems.append("its first character must be a letter")
    if "--" in name:
        problems.append("it has two consecutive hyphens")
    if name.endswith("-"):
        problems.append("it ends with a hyphen")
    return problems


def security_group_problems(name: str) -> list[str]:
    """Why EC2 would refuse ``name`` as a VPC security group name (SECURITY_GROUP_RULES): up to 255
    characters from its set, and not starting with ``sg-`` (the start of every group's id)."""
    problems = []
    if not 1 <= len(name) <= 255:
        problems.append(f"it has {len(name)} characters (1-255 allowed)")
    if name.lower().startswith("sg-"):
        problems.append("it starts with 'sg-', which EC2 reserves for security group ids")
    if not _SECURITY_GROUP_CHARS.match(name):
        problems.append("it has characters EC2 does not allow (a-z, A-Z, 0-9, spaces and ._-:/()#,@[]+=&;{}!$*)")
    return problems


def table_name_problems(name: str) -> list[str]:
    """Why DynamoDB would refuse ``name`` as a table name (TABLE_RULES): 3-255 of a-z, A-Z, 0-9, _ - ."""
    problems = []
    if not 3 <= len(name) <= 255:
        problems.append(f"it has {len(name)} characters (3-255 allowed)")
    if not re.fullmatch(r"[A-Za-z0-9_.-]*", name):
        problems.append("it may hold only letters, digits, '_', '-' and '.'")
    return problems


def account_hash(account_id: str, region: str) -> str:
    """Eight hex characters that differ between accounts and regions."""
    return hashlib.sha256(f"{account_id}:{region}".encode()).hexdigest()[:8]


# Each kind of name the series builds: what AWS calls it, its rules, and where AWS states them.
_KINDS = {
    "bucket": ("S3 bucket name", bucket_name_problems, BUCKET_RULES),
    "db_instance": ("RDS DB instance identifier", db_instance_problems, DB_INSTANCE_RULES),
    "security_group": ("security group name", security_group_problems, SECURITY_GROUP_RULES),
    "table": ("DynamoDB table name", table_name_problems, TABLE_RULES),
}


@dataclass(frozen=True)
class Names:
    """The names of everything the series creates, for one participant.

    Each name is checked against its service's rules when it is read, so a name AWS would
    refuse fails here with the rule it breaks, not later with an AWS error.
    """

    prefix: str
    account_id: str
    region: str

    def unchecked(self) -> dict[str, str]:
        """Every name, built but not checked (what :func:`prefix_problems` examines)."""
        return {
            "bucket": f"{self.prefix}-{account_hash(self.account_id, self.region)}-data",
            "db_instance": f"{self.prefix}-postgres",
            "security_group": f"{self.prefix}-postgres-sg",
            # The article's ``users`` table, prefixed so participants do not share it.
            "table": f"{self.prefix}-users",
        }

    def _checked(self, attribute: str) -> str:
        name = self.unchecked()[attribute]
        if attribute == "bucket":
            return validate_bucket_name(name)
        kind, problems_of, rules = _KINDS[attribute]
        problems = problems_of(name)
        if problems:
            raise TutorialError(f"{name!r} is not a valid {kind}: {'; '.join(problems)}.", f"See {rules}.")
        return name

    @property
    def bucket(self) -> str:
        return self._checked("bucket")

    @property
    def db_instance(self) -> str:
        return self._checked("db_instance")

    @property
    def security_group(self) -> str:
        return self._checked("security_group")

    @property
    def table(self) -> str:
        return self._checked("table")

    @property
    def glue_database(self) -> str:
        """Lesson 06's Glue database (:func:`glue_database`): ``ds-k3x9q2`` -> ``ds_k3x9q2_lake``.

        Not in :meth:`as_dict`: it cannot start with ``<prefix>-`` (cleanup recognises it by
        :func:`glue_database_belongs_to` instead)."""
        name = glue_database(self.prefix)
        problems = glue_database_problems(name)
        if problems:
            raise TutorialError(
                f"{name!r} is not a valid Athena database name: {'; '.join(problems)}.", f"See {ATHENA_NAMES}."
            )
        return name

    @property
    def athena_workgroup(self) -> str:
        """Lesson 06's Athena workgroup, if one is made: ``<prefix>-lake``."""
        return athena_workgroup(self.prefix)

    def tags(self) -> list[dict[str, str]]:
        """Tags in the ``[{"Key": ..., "Value": ...}]`` shape most AWS APIs take."""
        return [
            {"Key": SERIES_TAG_KEY, "Value": SERIES_TAG_VALUE},
            {"Key": PARTICIPANT_TAG_KEY, "Value": self.prefix},
        ]

    def as_dict(self) -> dict[str, str]:
        return {attribute: getattr(self, attribute) for attribute in _KINDS}


def prefix_problems(prefix: str) -> list[str]:
    """Why ``prefix`` would give a name AWS refuses, one sentence per name (empty when none would).

    A prefix is checked through the names it builds, so a rule of any service (``sg-`` for
    security groups, ``sthree-`` for buckets, a letter first for RDS) is caught when the
    settings are read, not at the lesson whose call AWS refuses. The account and region only
    change the bucket's hash (hex digits), never its validity, so sample ones are used.
    Lesson 05's ``<prefix>-bulk-pg``, ``-bulk-sg`` and ``-bulk-users`` follow the same rules
    with a fixed suffix of the same kind, so a prefix accepted here gives valid names there too.
    """
    found = []
    for attribute, name in Names(prefix, "000000000000", "us-east-1").unchecked().items():
        kind, problems_of, _ = _KINDS[attribute]
        problems = problems_of(name)
        if problems:
            found.append(f"the {kind} {name!r} would be refused: {'; '.join(problems)}")
    return found


def belongs_to(name: str, prefix: str) -> bool:
    """Whether ``name`` is one a participant with ``prefix`` would create: ``<prefix>-...``.

    The hyphen matters: participants ``ws-10`` and ``ws-100`` share an account in a workshop,
    and ``ws-100-users`` starts with ``ws-10`` but is not ws-10's.
    """
    return name.startswith(prefix + "-")


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
    tags: list[dict[str, str]] | dict[str, str] | None,
    name: str,
    scope: Collection[str] | None = None,
    owns: Callable[[str, str], bool] | None = None,
) -> str | None:
    """The participant a resource belongs to, or None when it is not provably the series'.

    The one rule for "is this ours?", used by cleanup, status and the tests (lesson 04 writes
    the same rule out in its own code, to teach it; a test checks that the two agree). A
    resource is the series' when it carries ``tutorial=aws-storage-for-data-science`` AND a
    ``participant`` tag, and its name starts with that participant's prefix followed by a hyphen
    (:func:`belongs_to`: ``ws-100-users`` is not ws-10's): the tags are the proof, the name a
    second guard against a tag copied by hand onto something unrelated.
    ``scope`` limits the answer to some participants (None: anyone's). ``owns`` replaces the name
    rule for a kind whose names cannot start with ``<prefix>-`` (a Glue database:
    :func:`glue_database_belongs_to`).
    """
    found = tags if isinstance(tags, dict) else tags_dict(tags)
    if found.get(SERIES_TAG_KEY) != SERIES_TAG_VALUE:
        return None
    participant = found.get(PARTICIPANT_TAG_KEY, "")
    if not participant or not (owns or belongs_to)(name, participant):
        return None
    if scope is not None and participant not in scope:
        return None
    return participant


# --------------------------------------------------------------------------- lesson 06: the data lake

# Athena wants database names in lowercase, and a name with a hyphen must be quoted in every query
# (https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html), so the series
# keeps to lowercase letters, digits and underscores. A prefix holds lowercase letters, digits and
# single hyphens; the Glue database is the prefix with "_" for "-", which is one-to-one: no two
# prefixes give the same database name.
GLUE_DATABASE_SUFFIX = "_lake"
WORKGROUP_SUFFIX = "-lake"


def glue_database(prefix: str) -> str:
    """Lesson 06's Glue database for ``prefix``: ``ws-07`` -> ``ws_07_lake``."""
    return prefix.replace("-", "_") + GLUE_DATABASE_SUFFIX


ATHENA_NAMES = "https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html"


def glue_database_problems(name: str) -> list[str]:
    """Why ``name`` would not do as a Glue database that Athena queries (ATHENA_NAMES): 1-255 bytes,
    lowercase (Athena lowers names in DDL and runs queries with lowercase names), and only letters,
    digits and ``_`` so that no query has to quote it."""
    problems = []
    if not 1 <= len(name.encode()) <= 255:
        problems.append(f"it has {len(name.encode())} bytes (1-255 allowed)")
    if not re.fullmatch(r"[a-z0-9_]*", name):
        problems.append("it may hold only lowercase letters, digits and '_'")
    return problems


def glue_database_belongs_to(name: str, prefix: str) -> bool:
    """Whether the Glue database ``name`` is the one ``prefix`` would create.

    Exactly one name per prefix, so ws-10's ``ws_10_lake`` is never ws-100's ``ws_100_lake``
    (the counterpart of :func:`belongs_to`, which a database name cannot satisfy: it has no hyphen).
    """
    return name == glue_database(prefix)


def athena_workgroup(prefix: str) -> str:
    """Lesson 06's Athena workgroup for ``prefix``: ``ws-07-lake`` (a ``<prefix>-`` name like the rest)."""
    return prefix + WORKGROUP_SUFFIX
