"""The instructor's commands: ``python -m helpers workshop create | prepare | status | sweep``.

A workshop is thirty people on one AWS account. Each participant gets an IAM user named after
their prefix, holding only the participant policy (policies/participant-policy.json, rendered
for their prefix, region and account), and a personal ``.env`` with its access key; a
one-page handout says how to start. ``prepare`` starts the slow resources (lesson 02's DB
instance and security group) before the room sits down, so lesson 02 finds them ready and
reuses them; ``status`` is the room at a glance; ``sweep`` deletes everything of the series in
every region the workshop used, then the users, keys and policies ``create`` made, and proves
that nothing is left.

Every command is a dry run that says what it would do, unless ``--yes``. What ``create`` made is
recorded in ``<state>/workshop/workshop.json``; keys and handouts go to ``<state>/workshop/``,
which git ignores. Keys are written to files, never printed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from helpers.errors import TutorialError
from helpers.names import PARTICIPANT_TAG_KEY, SERIES_TAG_KEY, SERIES_TAG_VALUE, Names
from helpers.settings import REPO_ROOT, Settings, validate_prefix

POLICY_TEMPLATE = REPO_ROOT / "policies" / "participant-policy.json"
USER_PREFIX = "tutorial-"  # IAM user of participant ws-07: tutorial-ws-07
POLICY_NAME = "aws-storage-for-data-science-participant"
WORKSHOP_TAG_KEY = "workshop"

# Lesson 02's DB instance, exactly as the lesson creates it (a test compares the two), so that
# `prepare` starts what the lesson would have started and the lesson reuses it.
LESSON_02_DB = {
    "Engine": "postgres",
    "DBInstanceClass": "db.t4g.micro",
    "AllocatedStorage": 20,
    "StorageType": "gp2",
    "DBName": "my_database",
    "MasterUsername": "postgres",
    "ManageMasterUserPassword": True,
    "BackupRetentionPeriod": 0,
    "EnablePerformanceInsights": False,
    "AutoMinorVersionUpgrade": False,
    "MultiAZ": False,
    "PubliclyAccessible": True,
}
SECURITY_GROUP_DESCRIPTION = "PostgreSQL for the AWS storage tutorial, from one address only"

Log = Callable[[str], None]


# --------------------------------------------------------------------------- participants and policy


def participant_names(count: int | None = None, names_file: Path | None = None) -> list[str]:
    """``ws-01`` ... ``ws-NN``, or the names in a file (one per line, ``#`` comments allowed).

    Names become prefixes, so they are validated as such; one name followed by a hyphen must
    not start another (``ws-al`` and ``ws-al-2``), because the policy grants ``<prefix>-*``.
    """
    if names_file is not None:
        lines = [line.split("#", 1)[0].strip() for line in names_file.read_text(encoding="utf-8").splitlines()]
        names = [line for line in lines if line]
    elif count is not None:
        if not 1 <= count <= 200:
            raise TutorialError(f"--participants {count}: a workshop has 1 to 200 participants.", "Pick a count.")
        names = [f"ws-{i:02d}" for i in range(1, count + 1)]
    else:
        raise TutorialError("Who takes part?", "Give --participants N or --participants-file FILE.")
    for name in names:
        validate_prefix(name)
    if len(set(names)) != len(names):
        raise TutorialError("A participant name appears twice.", "Make every name unique.")
    for a in names:
        for b in names:
            if a != b and b.startswith(a + "-"):
                raise TutorialError(
                    f"Participant {a!r} would be allowed {b!r}'s resources (the policy grants {a}-*).",
                    f"Rename one of them, e.g. {b.replace('-', '', 1)}.",
                )
    return names


def render_policy(prefix: str, region: str, account_id: str, template: Path = POLICY_TEMPLATE) -> dict:
    """The participant policy for one prefix, region and account, as a JSON document (dict)."""
    text = template.read_text(encoding="utf-8")
    for key, value in {"Prefix": validate_prefix(prefix), "Region": region, "Account": account_id}.items():
        text = text.replace("${" + key + "}", value)
    left = re.findall(r"\$\{\w+\}", text)
    if left:
        raise TutorialError(f"{template.name} has placeholders nobody fills: {sorted(set(left))}.")
    return json.loads(text)


def policy_actions(policy: dict) -> list[str]:
    """Every action the policy names, sorted."""
    found: set[str] = set()
    for statement in policy["Statement"]:
        actions = statement["Action"]
        found.update([actions] if isinstance(actions, str) else actions)
    return sorted(found)


# --------------------------------------------------------------------------- the record of a workshop


@dataclass
class Workshop:
    """What `create` made, so `sweep` finds exactly that and nothing else."""

    workshop_id: str
    backend: str
    account_id: str
    regions: list[str] = field(default_factory=list)
    participants: list[str] = field(default_factory=list)

    @staticmethod
    def folder(settings: Settings) -> Path:
        return settings.state_dir / "workshop"

    @classmethod
    def load(cls, settings: Settings) -> Workshop | None:
        path = cls.folder(settings) / "workshop.json"
        if not path.is_file():
            return None
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    def save(self, settings: Settings) -> None:
        folder = self.folder(settings)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "workshop.json").write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    def user(self, prefix: str) -> str:
        return USER_PREFIX + prefix


def _require(settings: Settings) -> Workshop:
    found = Workshop.load(settings)
    if found is None:
        raise TutorialError(
            f"No workshop was created from this checkout ({Workshop.folder(settings)} has no workshop.json).",
            "Run `python -m helpers workshop create --participants N --yes` first.",
        )
    return found


def _tags(workshop_id: str, prefix: str) -> list[dict[str, str]]:
    return [
        {"Key": SERIES_TAG_KEY, "Value": SERIES_TAG_VALUE},
        {"Key": PARTICIPANT_TAG_KEY, "Value": prefix},
        {"Key": WORKSHOP_TAG_KEY, "Value": workshop_id},
    ]


# --------------------------------------------------------------------------- create


def handout(prefix: str, settings: Settings, env_file: str) -> str:
    """One page for one participant: how to start, and their prefix."""
    return f"""# AWS storage for data science: your workshop seat

Your prefix: **{prefix}**. Every resource you create starts with it, and you may touch only those.

1. Get the notebooks: clone the repository (or open it on Binder or Codespaces, as the instructor says).
2. Copy your personal settings file `{env_file}` to `.env` at the repository's root. It holds your
   access key: never paste it into a notebook, a chat or a screenshot, and never commit it.
3. Run `make lab` (or `make lessons` to run everything headless), and open `00_setup_and_secrets`.
   The first cell prints your backend ({settings.backend}), region ({settings.region}) and prefix ({prefix}).
4. Work through lessons 01 to 04 in order. Lesson 02's database may already be running: the
   instructor started it for you, and the lesson reuses it.
5. At the end, lesson 04 deletes what you created. The instructor sweeps whatever is left.
"""


def create(
    settings: Settings,
    iam,
    account_id: str,
    participants: list[str],
    *,
    yes: bool = False,
    workshop_id: str = "",
    log: Log = print,
) -> Workshop:
    """An IAM user per participant with the participant policy, an access key in a per-participant
    ``.env`` file (never printed), and a handout. Idempotent: an existing user gets its policy
    refreshed, and keeps the key it has."""
    record = Workshop.load(settings) or Workshop(
        workshop_id=workshop_id or f"workshop-{settings.prefix}", backend=settings.backend, account_id=account_id
    )
    folder = Workshop.folder(settings)
    verb = "creating" if yes else "would create"
    for prefix in participants:
        user = record.user(prefix)
        policy = render_policy(prefix, settings.region, account_id)
        log(f"{verb} IAM user {user} with policy {POLICY_NAME} ({len(policy_actions(policy))} actions, {prefix}-*)")
        if not yes:
            continue
        try:
            iam.create_user(UserName=user, Tags=_tags(record.workshop_id, prefix))
            new_user = True
        except iam.exceptions.EntityAlreadyExistsException:
            new_user = False
        iam.put_user_policy(UserName=user, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(policy))
        env_path = folder / f"{prefix}.env"
        if new_user or not env_path.exists():
            key = iam.create_access_key(UserName=user)["AccessKey"]
            folder.mkdir(parents=True, exist_ok=True)
            env_path.write_text(
                "# Personal settings for the workshop. Keep this file private: it holds an access key.\n"
                f"TUTORIAL_BACKEND={settings.backend}\nTUTORIAL_PREFIX={prefix}\nAWS_DEFAULT_REGION={settings.region}\n"
                f"AWS_ACCESS_KEY_ID={key['AccessKeyId']}\nAWS_SECRET_ACCESS_KEY={key['SecretAccessKey']}\n",
                encoding="utf-8",
            )
            os.chmod(env_path, 0o600)
        (folder / f"{prefix}-handout.md").write_text(handout(prefix, settings, env_path.name), encoding="utf-8")
        if prefix not in record.participants:
            record.participants.append(prefix)
    if settings.region not in record.regions:
        record.regions.append(settings.region)
    if yes:
        record.save(settings)
        log(f"\nKeys and handouts: {folder} (git-ignored; hand each participant their two files)")
    else:
        log("\nDry run: nothing was created. Add --yes to create the above.")
    return record


def seat_keys(settings: Settings, prefix: str) -> tuple[str, str]:
    """(access key id, secret) from the participant's ``.env`` that `create` wrote (for rehearsals)."""
    from dotenv import dotenv_values

    values = dotenv_values(Workshop.folder(settings) / f"{prefix}.env")
    return values["AWS_ACCESS_KEY_ID"] or "", values["AWS_SECRET_ACCESS_KEY"] or ""


# --------------------------------------------------------------------------- prepare


def prepare(settings: Settings, ec2, rds, account_id: str, *, yes: bool = False, log: Log = print) -> list[str]:
    """Start every participant's lesson-02 security group and DB instance (5-15 minutes on AWS),
    with the lesson's own names, tags and settings; return the instances started."""
    record = _require(settings)
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise TutorialError(
            f"Region {settings.region} has no default VPC, which lesson 02 uses.",
            "Create one with `aws ec2 create-default-vpc`.",
        )
    vpc_id = vpcs[0]["VpcId"]
    started = []
    for prefix in record.participants:
        names = Names(prefix=prefix, account_id=account_id, region=settings.region)
        tags = [{"Key": SERIES_TAG_KEY, "Value": SERIES_TAG_VALUE}, {"Key": PARTICIPANT_TAG_KEY, "Value": prefix}]
        try:
            rds.describe_db_instances(DBInstanceIdentifier=names.db_instance)
            log(f"ready already  {names.db_instance}")
            continue
        except rds.exceptions.DBInstanceNotFoundFault:
            pass
        log(f"{'starting' if yes else 'would start'}       {names.db_instance} (and {names.security_group})")
        if not yes:
            continue
        groups = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": [names.security_group]}]
        )["SecurityGroups"]
        group_id = (
            groups[0]["GroupId"]
            if groups
            else ec2.create_security_group(
                GroupName=names.security_group,
                Description=SECURITY_GROUP_DESCRIPTION,
                VpcId=vpc_id,
                TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
            )["GroupId"]
        )
        rds.create_db_instance(
            DBInstanceIdentifier=names.db_instance, VpcSecurityGroupIds=[group_id], Tags=tags, **LESSON_02_DB
        )
        started.append(names.db_instance)
    if not yes:
        log("\nDry run: nothing was started. Add --yes to start the above (billable on AWS from now on).")
    return started


# --------------------------------------------------------------------------- status


def progress(kinds: Iterable[str]) -> str:
    """How far a participant got, from what of theirs exists."""
    from helpers import cleanup

    have = set(kinds)
    if not have:
        return "nothing alive (not started, or cleaned up)"
    steps = [(cleanup.TABLE, "03"), (cleanup.DB_INSTANCE, "02"), (cleanup.BUCKET, "01")]
    last = next((lesson for kind, lesson in steps if kind in have), "02 (prepared)")
    return f"lesson {last} or later"


def status(settings: Settings, found, record: Workshop) -> str:
    """The room: one row per participant, with regions, resources alive, the billable ones, progress."""
    rows = [("participant", "regions", "alive", "billable", "how far")]
    for prefix in record.participants:
        mine = [r for r in found if r.participant == prefix]
        rows.append(
            (
                prefix,
                ",".join(sorted({r.region for r in mine})) or "-",
                str(len(mine)),
                str(sum(r.billable for r in mine))
                if not settings.is_local
                else f"{sum(r.billable for r in mine)} (free here)",
                progress(r.kind for r in mine),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    searched = ", ".join(getattr(found, "regions", []) or record.regions)
    return "\n".join([*lines, f"Searched regions: {searched}"])


# --------------------------------------------------------------------------- sweep


def delete_users(iam, record: Workshop, *, yes: bool, log: Log = print) -> list[str]:
    """Delete the users `create` made (their keys and inline policies first); return those still there."""
    left = []
    for prefix in record.participants:
        user = record.user(prefix)
        try:
            keys = iam.list_access_keys(UserName=user)["AccessKeyMetadata"]
        except iam.exceptions.NoSuchEntityException:
            log(f"already gone  iam user {user}")
            continue
        if not yes:
            log(f"would delete  iam user {user} ({len(keys)} key(s), policy {POLICY_NAME})")
            left.append(user)
            continue
        for key in keys:
            iam.delete_access_key(UserName=user, AccessKeyId=key["AccessKeyId"])
        for name in iam.list_user_policies(UserName=user)["PolicyNames"]:
            iam.delete_user_policy(UserName=user, PolicyName=name)
        iam.delete_user(UserName=user)
        log(f"deleted       iam user {user}")
    return left


def workshop_users_left(iam, record: Workshop) -> list[str]:
    """Users still tagged with this workshop, found by listing (proof, not the record's word)."""
    found = []
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            if not user["UserName"].startswith(USER_PREFIX):
                continue
            tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user["UserName"])["Tags"]}
            if tags.get(WORKSHOP_TAG_KEY) == record.workshop_id:
                found.append(user["UserName"])
    return found
