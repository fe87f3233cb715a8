"""Find and delete everything the series created, and nothing else.

How a resource is recognised as the series' own: it carries the tag
``tutorial=aws-storage-for-data-science`` AND a ``participant`` tag, and its name
starts with that participant's prefix. The tags are the proof; the name is a second
guard against a tag copied by hand onto something unrelated. A resource whose name
starts with your prefix but lacks the tags is never touched: a name is easy to
reuse by accident, a tag set is not.

One exception follows from how RDS works: the Secrets Manager secret that RDS
creates for ``ManageMasterUserPassword=True`` is tagged by RDS, not by us, with
``aws:rds:primaryDBInstanceArn``. It counts as the series' when that tag points at
a DB instance of the series (RDS normally deletes it with the instance; we delete
it only if it outlived the instance).

Usage: ``python -m helpers clean`` (dry run), ``python -m helpers clean --yes``,
``--all-participants`` for an instructor after a workshop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from helpers.names import PARTICIPANT_TAG_KEY, SERIES_TAG_KEY, SERIES_TAG_VALUE, tags_dict
from helpers.settings import Settings

BUCKET = "s3 bucket"
TABLE = "dynamodb table"
DB_INSTANCE = "rds db instance"
SECRET = "rds master secret"  # noqa: S105 - a resource type label, not a secret
SECURITY_GROUP = "security group"

# Whether the resource costs money while it exists on real AWS (Free Tier aside).
BILLABLE = {BUCKET: True, TABLE: True, DB_INSTANCE: True, SECRET: True, SECURITY_GROUP: False}
# Listing and deletion order: the DB instance must be gone before its secret and security group.
ORDER = [BUCKET, TABLE, DB_INSTANCE, SECRET, SECURITY_GROUP]
RDS_SECRET_TAG = "aws:rds:primaryDBInstanceArn"  # noqa: S105 - a tag key
GONE_CODES = {
    "NoSuchBucket",
    "ResourceNotFoundException",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "InvalidGroup.NotFound",
}

Log = Callable[[str], None]


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str
    participant: str
    ident: str = ""  # what the delete call needs when it is not the name (group id, ARN)

    @property
    def billable(self) -> bool:
        return BILLABLE[self.kind]


# --------------------------------------------------------------------------- recognising


def series_participant(tags: dict[str, str], name: str, scope: Collection[str] | None) -> str | None:
    """The participant a resource belongs to, or None if it is not the series' (or out of scope)."""
    if tags.get(SERIES_TAG_KEY) != SERIES_TAG_VALUE:
        return None
    participant = tags.get(PARTICIPANT_TAG_KEY, "")
    if not participant or not name.startswith(participant):
        return None
    if scope is not None and participant not in scope:
        return None
    return participant


def _may_be_ours(name: str, scope: Collection[str] | None) -> bool:
    """Cheap name pre-filter, so we ask for tags only of plausible resources."""
    return scope is None or any(name.startswith(p) for p in scope)


# --------------------------------------------------------------------------- finding


def find_buckets(settings: Settings, scope: Collection[str] | None) -> list[Resource]:
    from helpers.aws import client

    s3 = client("s3", settings)
    found = []
    for bucket in (b for page in s3.get_paginator("list_buckets").paginate() for b in page.get("Buckets", [])):
        name = bucket["Name"]
        if not _may_be_ours(name, scope):
            continue
        try:
            tags = tags_dict(s3.get_bucket_tagging(Bucket=name)["TagSet"])
        except ClientError:  # NoSuchTagSet (untagged), gone meanwhile, or not ours to read
            continue
        participant = series_participant(tags, name, scope)
        if participant:
            found.append(Resource(BUCKET, name, participant))
    return found


def find_tables(settings: Settings, scope: Collection[str] | None) -> list[Resource]:
    from helpers.aws import client

    ddb = client("dynamodb", settings)
    found = []
    for page in ddb.get_paginator("list_tables").paginate():
        for name in page.get("TableNames", []):
            if not _may_be_ours(name, scope):
                continue
            try:
                arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
                tags = tags_dict(ddb.list_tags_of_resource(ResourceArn=arn).get("Tags"))
            except ClientError:
                continue
            participant = series_participant(tags, name, scope)
            if participant:
                found.append(Resource(TABLE, name, participant, arn))
    return found


def find_db_instances(settings: Settings, scope: Collection[str] | None) -> list[Resource]:
    from helpers.aws import client

    rds = client("rds", settings)
    found = []
    for page in rds.get_paginator("describe_db_instances").paginate():
        for db in page.get("DBInstances", []):
            name = db["DBInstanceIdentifier"]
            if not _may_be_ours(name, scope):
                continue
            tags = db.get("TagList")
            if tags is None:
                tags = rds.list_tags_for_resource(ResourceName=db["DBInstanceArn"]).get("TagList")
            participant = series_participant(tags_dict(tags), name, scope)
            if participant:
                found.append(Resource(DB_INSTANCE, name, participant, db["DBInstanceArn"]))
    return found


def find_secrets(settings: Settings, scope: Collection[str] | None, instances: Iterable[Resource]) -> list[Resource]:
    """RDS-managed secrets of series instances, and secrets carrying the series' tags."""
    from helpers.aws import client

    owners = {db.ident: db.participant for db in instances}
    sm = client("secretsmanager", settings)
    found = []
    for page in sm.get_paginator("list_secrets").paginate():
        for secret in page.get("SecretList", []):
            tags = tags_dict(secret.get("Tags"))
            participant = owners.get(tags.get(RDS_SECRET_TAG, "")) or series_participant(tags, secret["Name"], scope)
            if participant:
                found.append(Resource(SECRET, secret["Name"], participant, secret["ARN"]))
    return found


def find_security_groups(settings: Settings, scope: Collection[str] | None) -> list[Resource]:
    from helpers.aws import client

    ec2 = client("ec2", settings)
    filters = [{"Name": f"tag:{SERIES_TAG_KEY}", "Values": [SERIES_TAG_VALUE]}]
    found = []
    for page in ec2.get_paginator("describe_security_groups").paginate(Filters=filters):
        for group in page.get("SecurityGroups", []):
            participant = series_participant(tags_dict(group.get("Tags")), group["GroupName"], scope)
            if participant:
                found.append(Resource(SECURITY_GROUP, group["GroupName"], participant, group["GroupId"]))
    return found


def find(
    settings: Settings,
    participants: Collection[str] | None = None,
    *,
    all_participants: bool = False,
    log: Log = print,
) -> list[Resource]:
    """Everything of the series for your prefix (or the given participants, or everyone's).

    A service that cannot be listed is reported and skipped, so one missing
    permission does not hide what the other services hold.
    """
    scope = scope_of(settings, all_participants, participants)
    found: list[Resource] = []
    finders = [find_buckets, find_tables, find_db_instances]
    for finder in finders:
        found += _listed(finder, settings, scope, log)
    instances = [r for r in found if r.kind == DB_INSTANCE]
    found += _listed(lambda s, sc: find_secrets(s, sc, instances), settings, scope, log, "secrets")
    found += _listed(find_security_groups, settings, scope, log)
    return sorted(found, key=lambda r: (ORDER.index(r.kind), r.participant, r.name))


def _listed(finder, settings: Settings, scope, log: Log, what: str = "") -> list[Resource]:
    from helpers.aws import explain

    try:
        return finder(settings, scope)
    except (BotoCoreError, ClientError) as exc:
        error = explain(exc, settings)
        if "credentials" in error.problem.lower() or "not answering" in error.problem.lower():
            raise error from exc
        log(f"could not list {what or finder.__name__.removeprefix('find_')}: {error.problem}")
        return []


def listing(resources: list[Resource], empty: str = "Nothing of the series was found.") -> str:
    """A table of resources: type, name, participant, and whether it costs money on AWS."""
    if not resources:
        return empty
    rows = [("type", "name", "participant", "billable on AWS")]
    rows += [(r.kind, r.name, r.participant, "yes" if r.billable else "no") for r in resources]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


# --------------------------------------------------------------------------- deleting


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def empty_and_delete_bucket(s3, name: str) -> None:
    """Abort unfinished multipart uploads, delete every object version and delete marker
    (page by page), then the bucket.

    Unfinished uploads are invisible in object listings but their parts are stored (and
    billed) until aborted, so an interrupted bulk upload must not outlive the bucket.
    """
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=name):
        for upload in page.get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        keys = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if keys:  # a page holds at most 1000 entries, the delete_objects limit
            errors = s3.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True}).get("Errors", [])
            if errors:
                raise RuntimeError(f"{len(errors)} object(s) could not be deleted, e.g. {errors[0].get('Message')}")
    s3.delete_bucket(Bucket=name)


def delete_table(ddb, name: str, settings: Settings) -> None:
    ddb.delete_table(TableName=name)
    delay = 1 if settings.is_local else 5
    ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": delay, "MaxAttempts": 120})


def start_db_deletion(rds, name: str) -> None:
    """Ask RDS to delete the instance: no final snapshot, no retained automated backups."""
    try:
        rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
    except ClientError as exc:
        if _code(exc) != "InvalidDBInstanceState" or "deleting" not in str(exc).lower():
            raise  # an instance already being deleted just needs waiting for


def wait_db_deleted(name: str, settings: Settings) -> None:
    from helpers import rds

    rds.wait_until_deleted(name, settings, poll=1 if settings.is_local else 15)


def delete_secret(sm, arn: str) -> None:
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def delete_security_group(ec2, group_id: str, settings: Settings, *, patience: float | None = None) -> None:
    """Delete the group, retrying while AWS still sees the deleted DB's network interfaces."""
    patience = (5 if settings.is_local else 15 * 60) if patience is None else patience
    deadline = time.monotonic() + patience
    while True:
        try:
            ec2.delete_security_group(GroupId=group_id)
            return
        except ClientError as exc:
            if _code(exc) != "DependencyViolation" or time.monotonic() > deadline:
                raise
        time.sleep(1 if settings.is_local else 20)


def _attempt(resource: Resource, action: Callable[[], None], settings: Settings, log: Log) -> bool:
    """Run one deletion; report it; never let one failure stop the others."""
    from helpers.aws import explain

    label = f"{resource.kind} {resource.name}"
    try:
        action()
    except ClientError as exc:
        if _code(exc) in GONE_CODES:
            log(f"already gone  {label}")
            return True
        log(f"FAILED        {label}: {explain(exc, settings).problem}")
        return False
    except Exception as exc:  # noqa: BLE001 - report and go on with the rest
        log(f"FAILED        {label}: {type(exc).__name__}: {exc}")
        return False
    log(f"deleted       {label}")
    return True


def delete_all(resources: list[Resource], settings: Settings, log: Log = print) -> list[Resource]:
    """Delete ``resources`` in a safe order; return those whose deletion failed."""
    from helpers.aws import client

    s3, ddb, rds = client("s3", settings), client("dynamodb", settings), client("rds", settings)
    sm, ec2 = client("secretsmanager", settings), client("ec2", settings)
    of = {kind: [r for r in resources if r.kind == kind] for kind in ORDER}
    failed = []
    started = [db for db in of[DB_INSTANCE] if _try_start_db(rds, db, settings, log)]
    failed += [db for db in of[DB_INSTANCE] if db not in started]
    for r in of[BUCKET]:
        if not _attempt(r, lambda r=r: empty_and_delete_bucket(s3, r.name), settings, log):
            failed.append(r)
    for r in of[TABLE]:
        if not _attempt(r, lambda r=r: delete_table(ddb, r.name, settings), settings, log):
            failed.append(r)
    for r in started:
        if not _attempt(r, lambda r=r: wait_db_deleted(r.name, settings), settings, log):
            failed.append(r)
    for r in of[SECRET]:
        if not _secret_gone(sm, r, log) and not _attempt(r, lambda r=r: delete_secret(sm, r.ident), settings, log):
            failed.append(r)
    # Waiting for a network interface to be released only makes sense if every instance went away.
    patience = 0 if any(r.kind == DB_INSTANCE for r in failed) else None
    for r in of[SECURITY_GROUP]:
        if not _attempt(r, lambda r=r: delete_security_group(ec2, r.ident, settings, patience=patience), settings, log):
            failed.append(r)
    return failed


def _try_start_db(rds, db: Resource, settings: Settings, log: Log) -> bool:
    from helpers.aws import explain

    try:
        start_db_deletion(rds, db.name)
        return True
    except ClientError as exc:
        if _code(exc) in GONE_CODES:
            return True
        log(f"FAILED        {db.kind} {db.name}: {explain(exc, settings).problem}")
        return False


def _secret_gone(sm, secret: Resource, log: Log) -> bool:
    """RDS deletes its managed secret together with the instance; check before deleting it ourselves."""
    try:
        described = sm.describe_secret(SecretId=secret.ident)
    except ClientError as exc:
        if _code(exc) == "ResourceNotFoundException":
            log(f"already gone  {secret.kind} {secret.name} (RDS deleted it with the instance)")
            return True
        raise
    return "DeletedDate" in described


# --------------------------------------------------------------------------- the command


def scope_of(settings: Settings, all_participants: bool, participants: Collection[str] | None) -> set[str] | None:
    if participants is not None:
        return set(participants)
    return None if all_participants else {settings.prefix}


def clean(
    settings: Settings,
    yes: bool = False,
    all_participants: bool = False,
    participants: Collection[str] | None = None,
    log: Log = print,
) -> list[Resource]:
    """List the series' resources; with ``yes``, delete them and return what is left.

    ``participants`` restricts the run to those prefixes (it wins over
    ``all_participants``); by default only your own prefix is touched. A dry run
    (the default) returns what was found and deletes nothing.
    """
    scope = scope_of(settings, all_participants, participants)
    who = "all participants" if scope is None else "participant " + ", ".join(sorted(scope))
    found = find(settings, scope, all_participants=scope is None, log=log)
    log(f"The series' resources ({who}, {settings.backend} backend):")
    log(listing(found))
    if not found or not yes:
        if found:
            log("\nDry run: nothing was deleted. Run `python -m helpers clean --yes` to delete the above.")
        return found
    log("")
    delete_all(found, settings, log)
    left = find(settings, scope, all_participants=scope is None, log=log)
    log("\nLeft afterwards:")
    log(listing(left, empty="Nothing of the series is left."))
    return left
