"""The instructor's commands: ``python -m helpers workshop create | prepare | status | sweep``.

A workshop is thirty people on one AWS account. Each participant gets an IAM user named after
their prefix and tagged ``participant=<prefix>``, a member of one IAM group that holds one
customer-managed policy: the participant policy (policies/participant-policy.json), rendered
for the workshop's region and account, which grants ``${aws:PrincipalTag/participant}-*``, so
each user gets their own prefix's resources from the same document. Lesson 06's Glue database
cannot be named ``<prefix>-...`` (Athena wants ``_``, and a policy variable cannot turn ``-``
into ``_``), so each user also carries the tag ``glue_database=<prefix with _>_lake``, and the
policy grants ``database/${aws:PrincipalTag/glue_database}``: that database and its tables. A
personal ``.env`` holds the participant's access key; a one-page handout says how to start.
``prepare`` starts the slow resources (lesson 02's DB instance and security group) before the
room sits down, so lesson 02 finds them ready and reuses them; ``status`` is the room at a glance; ``sweep`` deletes
everything of the series in every region the workshop used, then the users (with whatever is
attached to them), the group and the policy, and proves that nothing is left.

Why a group and a managed policy, not a policy per user: IAM counts all of a user's inline
policies together against 2,048 characters (white space not counted), and the participant
policy is over 3,000 rendered; a managed policy may have 6,144
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html). One policy for
the room also means one document to read and one to fix.

Every command is a dry run that says what it would do, unless ``--yes``. What ``create`` made is
recorded in ``<state>/workshop/workshop.json`` as soon as it exists, so a run that fails half-way
leaves nothing ``sweep`` cannot find; keys and handouts go to ``<state>/workshop/``, which git
ignores. Keys are written to files, never printed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from helpers.errors import TutorialError
from helpers.names import PARTICIPANT_TAG_KEY, SERIES_TAG_KEY, SERIES_TAG_VALUE, Names, glue_database
from helpers.settings import REPO_ROOT, Settings, validate_prefix

POLICY_TEMPLATE = REPO_ROOT / "policies" / "participant-policy.json"
USER_PREFIX = "tutorial-"  # IAM user of participant ws-07: tutorial-ws-07
POLICY_NAME = "aws-storage-for-data-science-participant"  # and "-<workshop id>" for a workshop's
IAM_PATH = "/aws-storage-for-data-science/"  # the workshop's group and policy live under it
WORKSHOP_TAG_KEY = "workshop"
# The policy's word for "this caller's prefix": the tag every participant's IAM user carries.
PRINCIPAL_PREFIX = "${aws:PrincipalTag/" + PARTICIPANT_TAG_KEY + "}"
# Lesson 06's Glue database, by the tag every participant's IAM user carries beside ``participant``:
# IAM fills policy variables with values as they are, so ``${aws:PrincipalTag/participant}`` can give
# ``ws-07-*`` but never ``ws_07_lake`` (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
GLUE_DATABASE_TAG_KEY = "glue_database"
PRINCIPAL_DATABASE = "${aws:PrincipalTag/" + GLUE_DATABASE_TAG_KEY + "}"
_IAM_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")

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


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def render_policy(prefix: str | None, region: str, account_id: str, template: Path = POLICY_TEMPLATE) -> dict:
    """The participant policy for a region and account, as a JSON document (dict).

    With ``prefix`` None it is the workshop's shared document: the prefix stays the policy
    variable ``${aws:PrincipalTag/participant}``, which IAM fills from the tags of whichever user
    calls. With a prefix, it is written in literally: a learner on their own account attaches the
    policy to whatever identity they use (an IAM user, an SSO role), tagged or not, and reads
    their own names in it.
    """
    values = {"${Region}": region, "${Account}": account_id}
    if prefix is not None:
        values[PRINCIPAL_PREFIX] = validate_prefix(prefix)
        values[PRINCIPAL_DATABASE] = glue_database(prefix)
    text = _fill(template.read_text(encoding="utf-8"), values)
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


ACRONYMS = {"rds": "RDS", "kms": "KMS", "vpc": "VPC", "ec2": "EC2", "s3": "S3", "athena": "Athena", "glue": "Glue"}


def _words(sid: str) -> str:
    """``OwnBuckets`` -> ``own buckets``: a statement's Sid, read aloud."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", sid).lower().split()
    return " ".join(ACRONYMS.get(word, word) for word in words)


def policy_summary(template: Path = POLICY_TEMPLATE) -> str:
    """What the participant policy allows, one line per statement, for the README (a test keeps
    the README's copy equal to this, so the list a learner reads is the policy itself)."""
    policy = json.loads(
        _fill(
            template.read_text(encoding="utf-8"),
            {
                "${Region}": "REGION",
                "${Account}": "ACCOUNT",
                PRINCIPAL_PREFIX: "PREFIX",
                PRINCIPAL_DATABASE: "PREFIX_lake",
            },
        )
    )
    lines = []
    for statement in policy["Statement"]:
        actions = statement["Action"]
        resources = statement["Resource"]
        named = ", ".join(f"`{a}`" for a in ([actions] if isinstance(actions, str) else actions))
        on = ", ".join(f"`{r}`" for r in ([resources] if isinstance(resources, str) else resources))
        conditions = [
            f"`{key}` {'is' if operator == 'StringEquals' else 'matches'} `{value}`"
            for operator, tests in statement.get("Condition", {}).items()
            for key, value in tests.items()
        ]
        condition = f"; only if {' and '.join(conditions)}" if conditions else ""
        lines.append(f"- {_words(statement['Sid'])}: {named} on {on}{condition}")
    lines.append("(`PREFIX_lake`: your prefix with `_` for `-`, e.g. `ws_07_lake` for `ws-07`.)")
    return "\n".join(lines)


def learner_hint(prefix: str, account_id: str) -> str:
    """How a learner on their own account creates and attaches the policy `policy` printed."""
    name = f"{POLICY_NAME}-{prefix}"
    return (
        f"Save it (python -m helpers policy > {name}.json), then, with administrator rights:\n"
        f"  aws iam create-policy --policy-name {name} --policy-document file://{name}.json\n"
        f"  aws iam attach-user-policy --user-name YOUR-IAM-USER "
        f"--policy-arn arn:aws:iam::{account_id}:policy/{name}\n"
        "(or attach-role-policy --role-name ... for a role). Changes take a few seconds to apply."
    )


# --------------------------------------------------------------------------- the record of a workshop


@dataclass
class Workshop:
    """What `create` made, so `sweep` finds exactly that and nothing else."""

    workshop_id: str
    backend: str
    account_id: str
    regions: list[str] = field(default_factory=list)
    participants: list[str] = field(default_factory=list)
    group: str = ""  # set once the group exists
    policy_arn: str = ""  # set once the policy exists

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
        """Written after every step of `create`: the record is the sweep's list."""
        folder = self.folder(settings)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "workshop.json"
        partial = path.with_suffix(".json.part")
        partial.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        partial.replace(path)  # never a half-written record, even if interrupted

    def user(self, prefix: str) -> str:
        return USER_PREFIX + prefix

    @property
    def group_name(self) -> str:
        """The workshop's IAM group (and its policy's name): one per workshop, so two workshops in
        one account never share or delete each other's."""
        return f"{POLICY_NAME}-{self.workshop_id}"


def _require(settings: Settings) -> Workshop:
    found = Workshop.load(settings)
    if found is None:
        raise TutorialError(
            f"No workshop was created from this checkout ({Workshop.folder(settings)} has no workshop.json).",
            "Run `python -m helpers workshop create --participants N --yes` first.",
        )
    return found


def _tags(workshop_id: str, prefix: str | None = None) -> list[dict[str, str]]:
    """A workshop resource's tags; a participant's user also gets the two the policy reads."""
    tags = [{"Key": SERIES_TAG_KEY, "Value": SERIES_TAG_VALUE}, {"Key": WORKSHOP_TAG_KEY, "Value": workshop_id}]
    if not prefix:
        return tags
    return tags + [
        {"Key": PARTICIPANT_TAG_KEY, "Value": prefix},
        {"Key": GLUE_DATABASE_TAG_KEY, "Value": glue_database(prefix)},
    ]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', '')}: {error.get('Message', '')}".strip(": ")
    return (str(exc).splitlines() or [type(exc).__name__])[0]


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


def _existing_user(iam, user: str) -> dict[str, str] | None:
    """The user's tags if the user exists, else None."""
    try:
        return {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user)["Tags"]}
    except iam.exceptions.NoSuchEntityException:
        return None


def _policy_arn(record: Workshop) -> str:
    return f"arn:aws:iam::{record.account_id}:policy{IAM_PATH}{record.group_name}"


def _ensure_policy(iam, record: Workshop, policy: dict) -> str:
    """The workshop's managed policy, created or brought up to date (a new default version when
    the document changed, the oldest spare version deleted first: IAM keeps five); its ARN."""
    document = json.dumps(policy)
    try:
        return iam.create_policy(
            PolicyName=record.group_name,
            Path=IAM_PATH,
            PolicyDocument=document,
            Description="AWS storage for data science: a workshop participant's own resources only",
            Tags=_tags(record.workshop_id),
        )["Policy"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    arn = _policy_arn(record)
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    current = next(v for v in versions if v["IsDefaultVersion"])
    if iam.get_policy_version(PolicyArn=arn, VersionId=current["VersionId"])["PolicyVersion"]["Document"] == policy:
        return arn
    spare = sorted((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
    if len(versions) >= 5:
        iam.delete_policy_version(PolicyArn=arn, VersionId=spare[0]["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=document, SetAsDefault=True)
    return arn


def _ensure_group(iam, record: Workshop) -> str:
    try:
        iam.create_group(GroupName=record.group_name, Path=IAM_PATH)
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    iam.attach_group_policy(GroupName=record.group_name, PolicyArn=record.policy_arn)  # a no-op when attached
    return record.group_name


def _write_env(env_path: Path, settings: Settings, prefix: str, key: dict) -> None:
    env_path.parent.mkdir(parents=True, exist_ok=True)
    env_path.write_text(
        "# Personal settings for the workshop. Keep this file private: it holds an access key.\n"
        f"TUTORIAL_BACKEND={settings.backend}\nTUTORIAL_PREFIX={prefix}\nAWS_DEFAULT_REGION={settings.region}\n"
        f"AWS_ACCESS_KEY_ID={key['AccessKeyId']}\nAWS_SECRET_ACCESS_KEY={key['SecretAccessKey']}\n",
        encoding="utf-8",
    )
    os.chmod(env_path, 0o600)


def create(
    settings: Settings,
    iam,
    account_id: str,
    participants: list[str],
    *,
    yes: bool = False,
    workshop_id: str = "",
    rotate_keys: bool = False,
    log: Log = print,
) -> Workshop:
    """The workshop's managed policy and group, an IAM user per participant (tagged with its
    prefix, a member of the group), an access key in a per-participant ``.env`` file (never
    printed), and a handout.

    Safe to run again, from this checkout or another: what exists is kept (the policy is updated
    if the template changed), each step is recorded as soon as it is done, and a user never gets a
    third key (IAM allows two). A seat's key is created only when its user has none. When the user
    has a key that this checkout does not hold (its ``.env`` was written elsewhere, or lost), the
    seat is reported and left alone: that key may be in a participant's hands, and replacing it
    from here would lock them out in the middle of a lesson. Take the ``.env`` from the checkout
    that made it, or pass ``rotate_keys`` (``--rotate-keys``) to delete that user's keys and write
    a new one here, when you mean the old one to stop working.
    A user of the same name that another workshop (or a person) made is never adopted: ``create``
    stops before changing anything and says whose it is.
    """
    record = Workshop.load(settings) or Workshop(
        workshop_id=workshop_id or f"workshop-{settings.prefix}", backend=settings.backend, account_id=account_id
    )
    if workshop_id and workshop_id != record.workshop_id:
        raise TutorialError(
            f"This checkout already holds workshop {record.workshop_id!r} ({Workshop.folder(settings)}/workshop.json).",
            f"Sweep it first, or drop --workshop-id to add participants to {record.workshop_id!r}.",
        )
    if not _IAM_NAME.match(record.workshop_id):
        raise TutorialError(
            f"--workshop-id {record.workshop_id!r} cannot name IAM resources.",
            "Use up to 64 letters, digits and the characters +=,.@_- (e.g. pydata-2025).",
        )
    folder = Workshop.folder(settings)
    policy = render_policy(None, settings.region, account_id)
    existing = {prefix: _existing_user(iam, record.user(prefix)) for prefix in participants}
    foreign = {p: tags.get(WORKSHOP_TAG_KEY, "none") for p, tags in existing.items() if tags is not None}
    foreign = {p: owner for p, owner in foreign.items() if owner != record.workshop_id}
    if foreign:
        names = ", ".join(f"{record.user(p)} (workshop {owner!r})" for p, owner in sorted(foreign.items()))
        raise TutorialError(
            f"These IAM users exist already and do not belong to workshop {record.workshop_id!r}: {names}.",
            "Give the same --workshop-id as the checkout that made them, or choose other participant names.",
        )
    log(
        f"{'creating' if yes else 'would create'}  group {record.group_name} holding policy {record.group_name} "
        f"({len(policy_actions(policy))} actions, each user's on its own {PRINCIPAL_PREFIX}-*)"
    )
    for prefix in participants:
        state = "exists, kept" if existing[prefix] is not None else ("creating" if yes else "would create")
        log(
            f"{state:<13} IAM user {record.user(prefix)} "
            f"(tags participant={prefix}, {GLUE_DATABASE_TAG_KEY}={glue_database(prefix)}, in the group)"
        )
    if not yes:
        log("\nDry run: nothing was created. Add --yes to create the above.")
        return record

    if settings.region not in record.regions:
        record.regions.append(settings.region)
    record.save(settings)
    record.policy_arn = _ensure_policy(iam, record, policy)
    record.save(settings)
    record.group = _ensure_group(iam, record)
    record.save(settings)
    unkeyed: list[str] = []
    for prefix in participants:
        user = record.user(prefix)
        if existing[prefix] is None:
            try:
                iam.create_user(UserName=user, Tags=_tags(record.workshop_id, prefix))
            except iam.exceptions.EntityAlreadyExistsException:
                pass  # made a moment ago by another run of the same workshop
        else:
            iam.tag_user(UserName=user, Tags=_tags(record.workshop_id, prefix))  # the policy reads this tag
        if prefix not in record.participants:
            record.participants.append(prefix)
            record.save(settings)  # from now on, `sweep` knows this user
        iam.add_user_to_group(GroupName=record.group, UserName=user)
        env_path = folder / f"{prefix}.env"
        keys = [k["AccessKeyId"] for k in iam.list_access_keys(UserName=user)["AccessKeyMetadata"]]
        held = seat_keys(settings, prefix)[0] if env_path.is_file() else ""
        if held in keys:
            pass  # this checkout holds the seat's working key
        elif keys and not rotate_keys:
            unkeyed.append(prefix)
            continue
        else:
            for old in keys:
                iam.delete_access_key(UserName=user, AccessKeyId=old)
            _write_env(env_path, settings, prefix, iam.create_access_key(UserName=user)["AccessKey"])
            if keys:
                log(f"replaced      {len(keys)} key(s) of {user}: the old one(s) no longer work")
        (folder / f"{prefix}-handout.md").write_text(handout(prefix, settings, env_path.name), encoding="utf-8")
    log(f"\nKeys and handouts: {folder} (git-ignored; hand each participant their two files)")
    log(
        "New keys can be refused for a few seconds after they are made (IAM is eventually consistent): "
        "hand them out, then start."
    )
    if unkeyed:
        raise TutorialError(
            f"{len(unkeyed)} seat(s) have a key this checkout does not hold: {', '.join(unkeyed)} "
            f"(no {unkeyed[0]}.env here, or it holds another key). No key was added: IAM allows two per user.",
            "Copy their .env files from the checkout that ran `create` first, or run "
            "`python -m helpers workshop create ... --rotate-keys --yes` to replace their keys "
            "(the old keys stop working).",
        )
    return record


def seat_keys(settings: Settings, prefix: str) -> tuple[str, str]:
    """(access key id, secret) from the participant's ``.env`` that `create` wrote (for rehearsals)."""
    from dotenv import dotenv_values

    values = dotenv_values(Workshop.folder(settings) / f"{prefix}.env")
    return values.get("AWS_ACCESS_KEY_ID") or "", values.get("AWS_SECRET_ACCESS_KEY") or ""


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
    steps = [
        (cleanup.WORKGROUP, "06"),
        (cleanup.GLUE_DATABASE, "06"),
        (cleanup.TABLE, "03"),
        (cleanup.DB_INSTANCE, "02"),
        (cleanup.BUCKET, "01"),
    ]
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

Step = tuple[str, Callable[[], object]]  # (what, the call that deletes it)


def _listed(iam, operation: str, result_key: str, **kwargs) -> list:
    """Every item of an IAM listing, all pages."""
    if iam.can_paginate(operation):
        return [item for page in iam.get_paginator(operation).paginate(**kwargs) for item in page[result_key]]
    return getattr(iam, operation)(**kwargs)[result_key]


# What IAM refuses to delete a user with, and how each goes: (what, listing, its result key, the
# field naming one (None: the item is the name), deletion, its parameter). Login profile and
# virtual MFA devices are handled apart. https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteUser.html
USER_ATTACHMENTS = (
    ("access key", "list_access_keys", "AccessKeyMetadata", "AccessKeyId", "delete_access_key", "AccessKeyId"),
    (
        "signing certificate",
        "list_signing_certificates",
        "Certificates",
        "CertificateId",
        "delete_signing_certificate",
        "CertificateId",
    ),  # noqa: E501
    (
        "SSH public key",
        "list_ssh_public_keys",
        "SSHPublicKeys",
        "SSHPublicKeyId",
        "delete_ssh_public_key",
        "SSHPublicKeyId",
    ),  # noqa: E501
    (
        "service-specific credential",
        "list_service_specific_credentials",
        "ServiceSpecificCredentials",
        "ServiceSpecificCredentialId",
        "delete_service_specific_credential",
        "ServiceSpecificCredentialId",
    ),  # noqa: E501
    (
        "MFA device (deactivated)",
        "list_mfa_devices",
        "MFADevices",
        "SerialNumber",
        "deactivate_mfa_device",
        "SerialNumber",
    ),  # noqa: E501
    ("inline policy", "list_user_policies", "PolicyNames", None, "delete_user_policy", "PolicyName"),
    (
        "attached policy",
        "list_attached_user_policies",
        "AttachedPolicies",
        "PolicyArn",
        "detach_user_policy",
        "PolicyArn",
    ),  # noqa: E501
    ("membership of group", "list_groups_for_user", "Groups", "GroupName", "remove_user_from_group", "GroupName"),
)


def _user_steps(iam, user: str, notes: list[str]) -> list[Step]:
    """Everything IAM refuses to delete a user with, as deletions to make first: access keys,
    login profile, signing certificates, SSH public keys, service-specific (Git) credentials, MFA
    devices (deactivated; a virtual one deleted too), inline policies, attached managed policies,
    group memberships. A listing that fails is noted, not fatal: DeleteUser itself then says
    whether anything is left."""
    steps: list[Step] = []
    for what, listing, result_key, field_name, deletion, parameter in USER_ATTACHMENTS:
        try:
            items = _listed(iam, listing, result_key, UserName=user)
        except Exception as exc:  # any failure to list is a note (an emulator may not know the call)
            notes.append(f"could not list {what}s: {_reason(exc)}")
            continue
        for item in items:
            value = item if field_name is None else item[field_name]
            call = getattr(iam, deletion)
            steps.append((f"{what} {value}", lambda c=call, p=parameter, v=value: c(UserName=user, **{p: v})))
            if deletion == "deactivate_mfa_device" and value.startswith("arn:"):  # a virtual device: its ARN
                steps.append(
                    (f"virtual MFA device {value}", lambda v=value: iam.delete_virtual_mfa_device(SerialNumber=v))
                )
    try:
        iam.get_login_profile(UserName=user)
        steps.append(("login profile (console password)", lambda: iam.delete_login_profile(UserName=user)))
    except iam.exceptions.NoSuchEntityException:
        pass
    except (ClientError, BotoCoreError) as exc:
        notes.append(f"could not read the login profile: {_reason(exc)}")
    return steps


def _run(iam, steps: list[Step], failures: list[str]) -> None:
    """Each deletion in turn; one that fails is recorded with its reason, and the next is tried."""
    for what, call in steps:
        try:
            call()
        except iam.exceptions.NoSuchEntityException:
            pass  # gone already: what we wanted
        except (ClientError, BotoCoreError) as exc:
            failures.append(f"{what}: {_reason(exc)}")


def _delete_after(
    iam, what: str, steps: Callable[[], list[Step]], delete: Callable[[], object], log: Log, notes: Iterable[str] = ()
) -> str | None:
    """The deletions that must come first (each failure recorded, the next tried), then ``delete``;
    None once ``what`` is gone, else why not (IAM's answer first, then what failed before it)."""
    failures: list[str] = []
    try:
        _run(iam, steps(), failures)
        delete()
    except iam.exceptions.NoSuchEntityException:
        pass  # gone already
    except (ClientError, BotoCoreError) as exc:
        why = "; ".join([_reason(exc), *failures, *notes])
        log(f"NOT deleted   {what}: {why}")
        return f"{what}: {why}"
    log(f"deleted       {what}")
    return None


def _delete_user(iam, user: str, *, yes: bool, log: Log) -> str | None:
    """Delete one user and everything attached to it; None when it is gone, else why not."""
    notes: list[str] = []
    try:
        iam.get_user(UserName=user)
    except iam.exceptions.NoSuchEntityException:
        log(f"already gone  iam user {user}")
        return None
    steps = _user_steps(iam, user, notes)
    if not yes:
        log(f"would delete  iam user {user} and its {', '.join(what for what, _ in steps) or 'nothing attached'}")
        return f"iam user {user} (dry run)"
    return _delete_after(iam, f"iam user {user}", lambda: steps, lambda: iam.delete_user(UserName=user), log, notes)


def _detach_steps(iam, arn: str) -> list[Step]:
    """Detach a managed policy from every group, user and role that holds it."""
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    steps: list[Step] = []
    for kind, key, field_name, detach in (
        ("group", "PolicyGroups", "GroupName", iam.detach_group_policy),
        ("user", "PolicyUsers", "UserName", iam.detach_user_policy),
        ("role", "PolicyRoles", "RoleName", iam.detach_role_policy),
    ):
        for entity in entities[key]:
            name = entity[field_name]
            steps.append(
                (f"attached to {kind} {name}", lambda d=detach, f=field_name, n=name: d(PolicyArn=arn, **{f: n}))
            )
    return steps


def _delete_group(iam, group: str, *, yes: bool, log: Log) -> str | None:
    """The workshop's group, its members, inline and attached policies first; None once gone."""
    try:
        members = [u["UserName"] for u in _listed(iam, "get_group", "Users", GroupName=group)]
    except iam.exceptions.NoSuchEntityException:
        return None
    if not yes:
        log(f"would delete  iam group {group} ({len(members)} member(s) left)")
        return f"iam group {group} (dry run)"

    def steps() -> list[Step]:
        found: list[Step] = [
            (f"member {name}", lambda n=name: iam.remove_user_from_group(GroupName=group, UserName=n))
            for name in members
        ]
        for attached in _listed(iam, "list_attached_group_policies", "AttachedPolicies", GroupName=group):
            arn = attached["PolicyArn"]
            found.append(
                (f"attached policy {arn}", lambda a=arn: iam.detach_group_policy(GroupName=group, PolicyArn=a))
            )
        for name in _listed(iam, "list_group_policies", "PolicyNames", GroupName=group):
            found.append(
                (f"inline policy {name}", lambda n=name: iam.delete_group_policy(GroupName=group, PolicyName=n))
            )
        return found

    return _delete_after(iam, f"iam group {group}", steps, lambda: iam.delete_group(GroupName=group), log)


def _delete_policy(iam, arn: str, *, yes: bool, log: Log) -> str | None:
    """The workshop's managed policy, detached from anything an administrator attached it to and
    its older versions deleted first (https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeletePolicy.html)."""
    try:
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    except iam.exceptions.NoSuchEntityException:
        return None
    if not yes:
        log(f"would delete  iam policy {arn}")
        return f"iam policy {arn} (dry run)"

    def steps() -> list[Step]:
        found = _detach_steps(iam, arn)
        for version in versions:
            if not version["IsDefaultVersion"]:
                number = version["VersionId"]
                found.append(
                    (f"version {number}", lambda v=number: iam.delete_policy_version(PolicyArn=arn, VersionId=v))
                )
        return found

    return _delete_after(iam, f"iam policy {arn}", steps, lambda: iam.delete_policy(PolicyArn=arn), log)


def delete_users(iam, record: Workshop, *, yes: bool, log: Log = print) -> list[str]:
    """Delete the workshop's IAM users (the record's, and any other user tagged with this
    workshop), each with whatever is attached to it, whether `create` or an administrator put it
    there; then the group and the managed policy. A user that cannot be deleted is reported with
    the reason, and the sweep goes on with the next one, so one stuck user never leaves the others
    with working keys. Returns what is left, each with its reason (in a dry run: what would go)."""
    users = [record.user(p) for p in record.participants]
    users += [u for u in workshop_users_left(iam, record) if u not in users]
    left = [why for user in users if (why := _delete_user(iam, user, yes=yes, log=log))]
    group = _delete_group(iam, record.group or record.group_name, yes=yes, log=log)
    policy = _delete_policy(iam, record.policy_arn or _policy_arn(record), yes=yes, log=log)
    return left + [why for why in (group, policy) if why]


def workshop_users_left(iam, record: Workshop) -> list[str]:
    """Users still tagged with this workshop, found by listing (proof, not the record's word)."""
    found = []
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            if not user["UserName"].startswith(USER_PREFIX):
                continue
            try:
                tags = {t["Key"]: t["Value"] for t in iam.list_user_tags(UserName=user["UserName"])["Tags"]}
            except iam.exceptions.NoSuchEntityException:
                continue  # deleted while we listed
            if tags.get(WORKSHOP_TAG_KEY) == record.workshop_id:
                found.append(user["UserName"])
    return found
