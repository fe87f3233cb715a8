"""Find and delete everything the series created, and nothing else.

How a resource is recognised as the series' own (the rule: :func:`helpers.names.series_participant`): it carries the tag
``tutorial=aws-storage-for-data-science`` AND a ``participant`` tag, and its name
starts with that participant's prefix and a hyphen (``ws-100-users`` is not ws-10's).
The tags are the proof; the name is a second guard against a tag copied by hand onto
something unrelated. A resource whose name starts with your prefix but lacks the tags
is never touched: a name is easy to reuse by accident, a tag set is not.

One exception follows from how RDS works: the Secrets Manager secret that RDS
creates for ``ManageMasterUserPassword=True`` (named ``rds!db-...``) is tagged by RDS,
not by us, with ``aws:rds:primaryDBInstanceArn`` (tag keys starting with ``aws:`` are
reserved to AWS, so nobody can copy that one by hand). It counts as the series' when
that tag points at a DB instance of the series. RDS deletes it together with the
instance, and refuses to let anyone else delete it while the instance uses it
(https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-secrets-manager.html,
https://docs.aws.amazon.com/secretsmanager/latest/userguide/service-linked-secrets.html),
so cleanup never deletes it while the instance exists, and tries only if it outlived
the instance.

Where: every region the participant used (:mod:`helpers.regions`), or every region
enabled for the account with ``--all-regions``. Each listing says which regions were
searched, so that "nothing found" never claims more than was looked at.

Faults: a service that cannot be listed (access denied, throttled after botocore's
own retries) is reported and the others are still listed and cleaned; one resource
whose tags the caller may not read (another participant's, under least privilege) is
reported and skipped, and the rest of its service's listing still counts; one failed
deletion never skips the others; nothing waits forever (see :class:`Patience`).

Lesson 06's Glue database and Athena workgroup: the workgroup is named ``<prefix>-lake`` and
follows the rule above; the Glue database cannot (Athena wants ``_``, not ``-``, so it is
``<prefix with _>_lake``, :func:`helpers.names.glue_database`), so its name must be exactly its
participant's database name, and its tags are the same proof. DeleteDatabase takes the tables and
their partitions with it ("you no longer have access to the tables ... and the user-defined
functions in the deleted database", https://docs.aws.amazon.com/glue/latest/webapi/API_DeleteDatabase.html),
so cleanup deletes only the database. The query results Athena wrote live under ``athena-results/``
in the series' bucket and go with it.

Usage: ``python -m helpers clean`` (dry run), ``python -m helpers clean --yes``,
``--all-participants`` and ``--all-regions`` for an instructor after a workshop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
)

from helpers import regions as used_regions
from helpers.names import (
    SERIES_TAG_KEY,
    SERIES_TAG_VALUE,
    athena_workgroup,
    belongs_to,
    glue_database,
    glue_database_belongs_to,
    series_participant,
    tags_dict,
)
from helpers.settings import Settings

BUCKET = "s3 bucket"
TABLE = "dynamodb table"
DB_INSTANCE = "rds db instance"
SECRET = "rds master secret"  # noqa: S105 - a resource type label, not a secret
SECURITY_GROUP = "security group"
GLUE_DATABASE = "glue database"
WORKGROUP = "athena workgroup"

# Whether the resource costs money while it exists on real AWS (Free Tier aside). A Glue database
# and its tables are catalog entries (the first million are free,
# https://aws.amazon.com/glue/pricing/), and a workgroup costs nothing; Athena bills the queries.
BILLABLE = {
    BUCKET: True,
    TABLE: True,
    GLUE_DATABASE: False,
    WORKGROUP: False,
    DB_INSTANCE: True,
    SECRET: True,
    SECURITY_GROUP: False,
}
# Listing and deletion order: the DB instance must be gone before its secret and security group.
ORDER = [BUCKET, TABLE, GLUE_DATABASE, WORKGROUP, DB_INSTANCE, SECRET, SECURITY_GROUP]
RDS_SECRET_TAG = "aws:rds:primaryDBInstanceArn"  # noqa: S105 - a tag key
GONE_CODES = {
    "NoSuchBucket",
    "ResourceNotFoundException",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "InvalidGroup.NotFound",
    "EntityNotFoundException",  # Glue: no such database
}
# Error codes AWS services use for "slow down"; botocore's standard retry mode already
# retries these with backoff (https://docs.aws.amazon.com/boto3/latest/guide/retries.html),
# so one that reaches us means the retries ran out.
THROTTLING_CODES = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
    "ProvisionedThroughputExceededException",
}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
REJECTED_CREDENTIALS = {"InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException"}

Log = Callable[[str], None]
Factory = Callable[[str, str], Any]


@dataclass(frozen=True)
class Resource:
    kind: str
    name: str
    participant: str
    ident: str = ""  # what the delete call needs when it is not the name (group id, ARN)
    region: str = ""
    # DB instance: ARN of its RDS-managed master secret. Secret: ARN of the DB instance
    # that manages it (empty for a secret carrying the series' own tags).
    link: str = ""

    @property
    def billable(self) -> bool:
        return BILLABLE[self.kind]

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}" + (f" ({self.region})" if self.region else "")


class Found(list):
    """The resources found, and what the search covered: regions, and what could not be listed.

    A plain list to every existing caller (``find(...) == []`` still works); the extra
    attributes let :func:`listing` say where it looked and whether the answer is complete.
    """

    def __init__(self, items: Iterable[Resource] = (), regions: Sequence[str] = (), problems: Sequence[str] = ()):
        super().__init__(items)
        self.regions = list(regions)
        self.problems = list(problems)

    @property
    def complete(self) -> bool:
        return not self.problems


class Clients:
    """One boto3 client per (service, region), made on first use and then reused.

    Finders and deleters receive their client from here instead of building one, so a
    test can hand in clients wrapped in botocore's Stubber through ``factory``.
    """

    def __init__(self, settings: Settings, factory: Factory | None = None):
        if factory is None:
            from helpers.aws import client

            def factory(service: str, region: str):
                return client(service, settings, region_name=region)

        self._factory = factory
        self._made: dict[tuple[str, str], Any] = {}
        self._account = ""

    def __call__(self, service: str, region: str):
        key = (service, region)
        if key not in self._made:
            self._made[key] = self._factory(service, region)
        return self._made[key]

    def account(self, region: str) -> str:
        """The caller's account id (asked once): an Athena workgroup's ARN, which its tags are
        read by, holds it, and GetWorkGroup does not return the ARN."""
        if not self._account:
            self._account = self("sts", region).get_caller_identity()["Account"]
        return self._account


@dataclass(frozen=True)
class Patience:
    """How long cleanup waits, and how often it looks, for what AWS does in the background.

    On AWS an RDS instance takes minutes to delete, and its security group stays in use
    (``DependencyViolation``) until the instance's network interface is released, which
    can take several minutes more. The local backend plays the same lifecycle at
    ``settings.lifecycle_pace`` seconds per status, so its patience follows that pace.
    """

    db_timeout: float
    db_poll: float
    group_timeout: float
    group_poll: float
    secret_grace: float  # how long an RDS-managed secret may take to vanish after its instance
    secret_poll: float

    @classmethod
    def for_settings(cls, settings: Settings) -> Patience:
        if not settings.is_local:
            return cls(
                db_timeout=30 * 60, db_poll=15, group_timeout=15 * 60, group_poll=20, secret_grace=120, secret_poll=10
            )
        pace = settings.lifecycle_pace if settings.lifecycle else 0.0
        return cls(
            db_timeout=max(30.0, 20 * pace),
            db_poll=0.5,
            group_timeout=max(5.0, 10 * pace),
            group_poll=0.5,
            secret_grace=max(2.0, 2 * pace) if settings.lifecycle else 0.0,
            secret_poll=0.5,
        )


def _checks(timeout: float, poll: float) -> int:
    """How many times to look within ``timeout`` when looking every ``poll`` seconds (at least once).

    Counting looks rather than watching the clock keeps the number of calls the same
    from run to run, which is what a stubbed client needs.
    """
    return 1 + (int(timeout // poll) if poll > 0 else 0)


# --------------------------------------------------------------------------- recognising


def _may_be_ours(name: str, scope: Collection[str] | None) -> bool:
    """Cheap name pre-filter, so we ask for tags only of plausible resources.

    Prefix and hyphen (:func:`helpers.names.belongs_to`): ws-10's search never even
    describes ws-100's table, which least privilege would refuse anyway.
    """
    return scope is None or any(belongs_to(name, p) for p in scope)


def _unreadable(kind: str, name: str, region: str, exc: ClientError) -> str:
    """The report line for one resource whose tags the caller may not read.

    Under least privilege (a workshop seat) another participant's resource answers
    AccessDenied; it is reported, not guessed about, and the rest of the listing stands.
    """
    return f"could not read the tags of {kind} {name} in {region}, so it was skipped: {_denial(exc)}"


def _denial(exc: ClientError) -> str:
    return (
        f"access denied ({_code(exc)}) for {exc.operation_name}: your IAM identity lacks that permission; "
        "ask your account admin for it, or run this with an identity that has it."
    )


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _message(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Message", "")


# --------------------------------------------------------------------------- finding


def find_buckets(s3, scope: Collection[str] | None, region: str) -> Found:
    """The series' buckets located in ``region``; a bucket whose tags are refused is in ``problems``.

    ListBuckets is global, but ``BucketRegion`` limits it to one region, and the
    request must then go to that region's endpoint, so ``s3`` is that region's client
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListBuckets.html). Each
    bucket is then found exactly once however many regions are searched.
    """
    found = Found()
    pages = s3.get_paginator("list_buckets").paginate(BucketRegion=region)
    for bucket in (b for page in pages for b in page.get("Buckets", [])):
        name = bucket["Name"]
        if not _may_be_ours(name, scope) or bucket.get("BucketRegion", region) != region:
            continue
        try:
            tags = tags_dict(s3.get_bucket_tagging(Bucket=name)["TagSet"])
        except ClientError as exc:
            if _code(exc) in {"NoSuchTagSet", "NoSuchBucket"}:  # untagged, or gone meanwhile
                continue
            if _code(exc) in DENIED_CODES:  # "nothing found" would be a guess: report it, go on
                found.problems.append(_unreadable(BUCKET, name, region, exc))
                continue
            raise
        participant = series_participant(tags, name, scope)
        if participant:
            found.append(Resource(BUCKET, name, participant, region=region))
    return found


def find_tables(ddb, scope: Collection[str] | None, region: str) -> Found:
    """The series' tables in ``region``; a table that may not be described is in ``problems``.

    ListTables names every table of the region, anyone's; DescribeTable and
    ListTagsOfResource are asked only of names that start with a prefix in ``scope`` and
    its hyphen, and a refusal of either skips that one table, not the region's listing.
    """
    found = Found()
    for page in ddb.get_paginator("list_tables").paginate():
        for name in page.get("TableNames", []):
            if not _may_be_ours(name, scope):
                continue
            try:
                arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
                tags = tags_dict(ddb.list_tags_of_resource(ResourceArn=arn).get("Tags"))
            except ClientError as exc:
                if _code(exc) == "ResourceNotFoundException":  # deleted meanwhile
                    continue
                if _code(exc) in DENIED_CODES:
                    found.problems.append(_unreadable(TABLE, name, region, exc))
                    continue
                raise
            participant = series_participant(tags, name, scope)
            if participant:
                found.append(Resource(TABLE, name, participant, arn, region))
    return found


def find_db_instances(rds, scope: Collection[str] | None, region: str) -> Found:
    """The series' DB instances, whatever their status (``deleting`` ones too: they still cost)."""
    found = Found()
    for page in rds.get_paginator("describe_db_instances").paginate():
        for db in page.get("DBInstances", []):
            name = db["DBInstanceIdentifier"]
            if not _may_be_ours(name, scope):
                continue
            tags = db.get("TagList")
            if tags is None:
                try:
                    tags = rds.list_tags_for_resource(ResourceName=db["DBInstanceArn"]).get("TagList")
                except ClientError as exc:
                    if _code(exc) not in DENIED_CODES:
                        raise
                    found.problems.append(_unreadable(DB_INSTANCE, name, region, exc))
                    continue
            participant = series_participant(tags_dict(tags), name, scope)
            if participant:
                secret = (db.get("MasterUserSecret") or {}).get("SecretArn", "")
                found.append(Resource(DB_INSTANCE, name, participant, db["DBInstanceArn"], region, secret))
    return found


def find_secrets(sm, scope: Collection[str] | None, region: str, instances: Iterable[Resource]) -> Found:
    """RDS-managed secrets of series instances, and secrets carrying the series' tags.

    ListSecrets "might not reflect changes from the last five minutes"
    (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_ListSecrets.html):
    it may still list a secret just deleted, or miss one just created. So a managed
    secret is also taken from its instance's ``MasterUserSecret``, and every candidate
    is confirmed with DescribeSecret, which is current: a secret that is not found, or
    has a ``DeletedDate`` (scheduled for deletion), is gone
    (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DescribeSecret.html).
    """
    owners = {db.ident: db for db in instances}
    candidates: dict[str, tuple[str, str]] = {}  # secret ARN -> (participant, managing instance ARN)
    for page in sm.get_paginator("list_secrets").paginate():
        for secret in page.get("SecretList", []):
            tags = tags_dict(secret.get("Tags"))
            owner = tags.get(RDS_SECRET_TAG, "")
            participant = (owners[owner].participant if owner in owners else None) or series_participant(
                tags, secret["Name"], scope
            )
            if participant:
                candidates[secret["ARN"]] = (participant, owner)
    for db in owners.values():
        if db.link and db.region == region and db.link not in candidates:
            candidates[db.link] = (db.participant, db.ident)
    found = Found()
    for arn, (participant, owner) in candidates.items():
        try:
            described = sm.describe_secret(SecretId=arn)
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                continue
            if _code(exc) in DENIED_CODES:
                found.problems.append(_unreadable(SECRET, arn, region, exc))
                continue
            raise
        if "DeletedDate" not in described:
            found.append(Resource(SECRET, described.get("Name", arn), participant, arn, region, owner))
    return found


def find_security_groups(ec2, scope: Collection[str] | None, region: str) -> Found:
    """The series' security groups in ``region`` (DescribeSecurityGroups returns their tags)."""
    filters = [{"Name": f"tag:{SERIES_TAG_KEY}", "Values": [SERIES_TAG_VALUE]}]
    found = Found()
    for page in ec2.get_paginator("describe_security_groups").paginate(Filters=filters):
        for group in page.get("SecurityGroups", []):
            participant = series_participant(tags_dict(group.get("Tags")), group["GroupName"], scope)
            if participant:
                found.append(Resource(SECURITY_GROUP, group["GroupName"], participant, group["GroupId"], region))
    return found


def _glue_tags(glue, name: str, region: str, account: str) -> dict[str, str]:
    arn = f"arn:aws:glue:{region}:{account}:database/{name}"
    return tags_dict([{"Key": k, "Value": v} for k, v in glue.get_tags(ResourceArn=arn).get("Tags", {}).items()])


def find_glue_databases(glue, scope: Collection[str] | None, region: str, account: Callable[[], str]) -> Found:
    """Lesson 06's Glue databases in ``region`` (each with its tables and partitions).

    With a scope, each participant's one database is asked for by name (GetDatabase), so a
    participant needs no right to list the catalog: GetDatabases is authorised on every database
    (``database/*``), and the participant policy grants only their own
    (https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html).
    For all participants, the catalog is listed and each ``..._lake`` name checked. Tags are read
    with GetTags on the database ARN
    (https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-tags.html).
    """
    found = Found()
    if scope is not None:
        names = []
        for prefix in sorted(scope):
            try:
                names.append(glue.get_database(Name=glue_database(prefix))["Database"]["Name"])
            except ClientError as exc:
                if _code(exc) == "EntityNotFoundException":
                    continue
                if _code(exc) in DENIED_CODES:
                    found.problems.append(_unreadable(GLUE_DATABASE, glue_database(prefix), region, exc))
                    continue
                raise
    else:
        pages = glue.get_paginator("get_databases").paginate()
        names = [db["Name"] for page in pages for db in page.get("DatabaseList", [])]
        names = [name for name in names if name.endswith("_lake")]
    for name in names:
        try:
            tags = _glue_tags(glue, name, region, account())
        except ClientError as exc:
            if _code(exc) == "EntityNotFoundException":  # deleted meanwhile
                continue
            if _code(exc) in DENIED_CODES:
                found.problems.append(_unreadable(GLUE_DATABASE, name, region, exc))
                continue
            raise
        participant = series_participant(tags, name, scope, owns=glue_database_belongs_to)
        if participant:
            found.append(Resource(GLUE_DATABASE, name, participant, region=region))
    return found


def _workgroup_missing(exc: ClientError) -> bool:
    """Athena answers a workgroup that does not exist with InvalidRequestException, "... is not
    found" (https://docs.aws.amazon.com/athena/latest/APIReference/API_GetWorkGroup.html)."""
    return _code(exc) == "InvalidRequestException" and "not found" in _message(exc).lower()


def _no_tags_to_read(exc: ClientError) -> bool:
    """ListTagsForResource found no workgroup, or (moto) no tags: "Athena Resource, ... Does Not
    Exist". AWS answers an untagged workgroup with an empty list; either way it is not the series'."""
    message = _message(exc).lower()
    return _workgroup_missing(exc) or (
        _code(exc) in {"InvalidRequestException", "ResourceNotFoundException"} and "does not exist" in message
    )


def find_workgroups(athena, scope: Collection[str] | None, region: str, account: Callable[[], str]) -> Found:
    """Lesson 06's Athena workgroups (``<prefix>-lake``) in ``region``; never ``primary``.

    Like the Glue database, a scoped search asks for each participant's workgroup by name
    (GetWorkGroup); all participants' are found by listing (ListWorkGroups, pages of at most 50,
    https://docs.aws.amazon.com/athena/latest/APIReference/API_ListWorkGroups.html). Tags come
    from ListTagsForResource on the workgroup's ARN.
    """
    found = Found()
    if scope is not None:
        names = []
        for prefix in sorted(scope):
            name = athena_workgroup(prefix)
            try:
                if athena.get_work_group(WorkGroup=name).get("WorkGroup"):
                    names.append(name)
            except ClientError as exc:
                if _workgroup_missing(exc):
                    continue
                if _code(exc) in DENIED_CODES:
                    found.problems.append(_unreadable(WORKGROUP, name, region, exc))
                    continue
                raise
    else:
        names, token = [], None
        while True:
            page = athena.list_work_groups(**({"NextToken": token} if token else {}))
            names += [w["Name"] for w in page.get("WorkGroups", []) if _may_be_ours(w["Name"], None)]
            token = page.get("NextToken")
            if not token:
                break
        names = [name for name in names if name != "primary"]
    for name in names:
        arn = f"arn:aws:athena:{region}:{account()}:workgroup/{name}"
        try:
            tags = tags_dict(athena.list_tags_for_resource(ResourceARN=arn).get("Tags"))
        except ClientError as exc:
            if _no_tags_to_read(exc):
                continue
            if _code(exc) in DENIED_CODES:
                found.problems.append(_unreadable(WORKGROUP, name, region, exc))
                continue
            raise
        participant = series_participant(tags, name, scope)
        if participant:
            found.append(Resource(WORKGROUP, name, participant, arn, region))
    return found


def failure(exc: BaseException, settings: Settings) -> str:
    """One line saying what went wrong and what to do, for a report that goes on."""
    if isinstance(exc, ClientError):
        code = _code(exc)
        if code in THROTTLING_CODES:
            return f"AWS is throttling requests ({code}) even after retrying; wait a minute and run it again."
        if code in DENIED_CODES:
            return _denial(exc)
    from helpers.aws import explain

    return explain(exc, settings).problem


def _stops_everything(exc: BaseException, region: str, settings: Settings) -> bool:
    """Errors that every other call would hit too: no credentials, rejected ones, no endpoint.

    In a region other than the current one, rejected credentials are reported as that
    region's problem instead (an opt-in region that was disabled since answers so).
    """
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError, EndpointConnectionError)):
        return True
    return isinstance(exc, ClientError) and _code(exc) in REJECTED_CREDENTIALS and region == settings.region


def _searched(regions: Iterable[str], settings: Settings) -> list[str]:
    """The regions to search, the current one first (its errors stop the search early)."""
    rest = sorted(set(regions) - {settings.region})
    return ([settings.region] if settings.region in set(regions) else []) + rest


def find(
    settings: Settings,
    participants: Collection[str] | None = None,
    *,
    all_participants: bool = False,
    log: Log = print,
    regions: Iterable[str] | None = None,
    clients: Clients | None = None,
) -> Found:
    """Everything of the series for your prefix (or the given participants, or everyone's).

    ``regions`` defaults to every region this checkout used (:func:`helpers.regions.used`).
    A service that cannot be listed is reported and skipped, so one missing permission
    or one throttled call does not hide what the other services hold; the result says
    so in ``problems``.
    """
    scope = scope_of(settings, all_participants, participants)
    clients = clients or Clients(settings)
    searched = _searched(used_regions.used(settings) if regions is None else regions, settings)
    found: list[Resource] = []
    problems: list[str] = []

    def listed(what: str, region: str, finder: Callable[[], list[Resource]]) -> list[Resource]:
        from helpers.aws import explain

        try:
            result = finder()
        except (BotoCoreError, ClientError) as exc:
            if _stops_everything(exc, region, settings):
                raise explain(exc, settings) from exc
            problem = f"could not list {what} in {region}: {failure(exc, settings)}"
            log(problem)
            problems.append(problem)
            return []
        for problem in getattr(result, "problems", ()):  # single resources skipped, the rest stands
            log(problem)
            problems.append(problem)
        return list(result)

    for region in searched:
        found += listed("s3 buckets", region, lambda r=region: find_buckets(clients("s3", r), scope, r))
        found += listed("dynamodb tables", region, lambda r=region: find_tables(clients("dynamodb", r), scope, r))
        dbs = listed("rds db instances", region, lambda r=region: find_db_instances(clients("rds", r), scope, r))
        found += dbs
        found += listed(
            "secrets", region, lambda r=region, dbs=dbs: find_secrets(clients("secretsmanager", r), scope, r, dbs)
        )
        found += listed("security groups", region, lambda r=region: find_security_groups(clients("ec2", r), scope, r))
        found += listed(
            "glue databases",
            region,
            lambda r=region: find_glue_databases(clients("glue", r), scope, r, lambda: clients.account(r)),
        )
        found += listed(
            "athena workgroups",
            region,
            lambda r=region: find_workgroups(clients("athena", r), scope, r, lambda: clients.account(r)),
        )
    found.sort(key=lambda r: (ORDER.index(r.kind), r.participant, r.region, r.name))
    return Found(found, sorted(searched), problems)


def listing(resources: list[Resource], empty: str = "Nothing of the series was found.") -> str:
    """A table of resources: type, name, participant, region, and whether it costs money on AWS.

    When ``resources`` came from :func:`find`, the table ends with the regions searched
    and, if some listing failed, a warning that the answer is incomplete.
    """
    if not resources:
        lines = [empty]
    else:
        rows = [("type", "name", "participant", "region", "billable on AWS")]
        rows += [(r.kind, r.name, r.participant, r.region, "yes" if r.billable else "no") for r in resources]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
    searched = getattr(resources, "regions", None)
    if searched:
        lines.append(f"Searched regions: {', '.join(searched)}")
    problems = getattr(resources, "problems", None)
    if problems:
        lines.append(f"Incomplete: {len(problems)} listing(s) or resource(s) could not be read, so more may exist:")
        lines += [f"  {p}" for p in problems]
    return "\n".join(lines)


# --------------------------------------------------------------------------- deleting


# DeleteObjects takes at most 1,000 keys per request
# (https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html).
DELETE_OBJECTS_LIMIT = 1000


def _in_batches(items: Sequence[Any], size: int = DELETE_OBJECTS_LIMIT) -> Iterable[Sequence[Any]]:
    return (items[i : i + size] for i in range(0, len(items), size))


def abort_multipart_uploads(s3, name: str) -> int:
    """Abort every unfinished multipart upload in the bucket; return how many were aborted.

    Unfinished uploads are invisible in object listings, but their parts are stored (and
    billed) until aborted, so an interrupted bulk upload must not outlive the bucket. Like the
    versions in :func:`empty_bucket`, the uploads are listed again from the start after each
    round of aborts, never paged on with markers past uploads that no longer exist
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html).
    """
    aborted: set[tuple[str, str]] = set()
    while True:
        uploads = [(u["Key"], u["UploadId"]) for u in s3.list_multipart_uploads(Bucket=name).get("Uploads", [])]
        if not uploads:
            return len(aborted)
        _no_progress(name, "multipart upload", set(uploads) & aborted)
        for key, upload_id in uploads:
            try:
                s3.abort_multipart_upload(Bucket=name, Key=key, UploadId=upload_id)
            except ClientError as exc:
                if _code(exc) != "NoSuchUpload":  # finished or aborted meanwhile: gone either way
                    raise
            aborted.add((key, upload_id))


def _no_progress(name: str, what: str, again: set[tuple[str, str]]) -> None:
    """Stop when a listing shows again what was already deleted: looping on would never end.

    S3 lists strongly consistently after a delete
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html#ConsistencyModel), so this
    only happens when something else is wrong; it bounds the loops of :func:`empty_bucket`.
    """
    if again:
        key, version = sorted(again)[0]
        raise RuntimeError(
            f"bucket {name}: {len(again)} {what}(s) deleted before are listed again (e.g. {key} {version}); "
            "S3 did not delete them. Run `python -m helpers clean --yes` again in a minute."
        )


def empty_bucket(s3, name: str) -> int:
    """Delete every object version and delete marker in the bucket; return how many were deleted.

    Why it lists again from the start instead of paging on: ListObjectVersions pages with
    ``KeyMarker`` and ``VersionIdMarker`` (at most 1,000 entries a page,
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html). Deleting the
    versions of one page and then asking for the next page from those markers makes the answer
    depend on how the service treats a marker that no longer exists: S3 treats it as a
    position, an emulator may look it up and answer nothing, and the bucket then stays. A
    listing that always starts at the beginning never sends a marker; each round deletes the
    first page (one DeleteObjects of up to 1,000 keys) until a listing comes back empty.
    Works for a versioned bucket and an unversioned one (whose objects have version ``null``).
    """
    deleted: set[tuple[str, str]] = set()
    while True:
        page = s3.list_object_versions(Bucket=name)
        entries = [(v["Key"], v["VersionId"]) for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
        if not entries:
            return len(deleted)
        _no_progress(name, "object version", set(entries) & deleted)
        for batch in _in_batches(entries):
            objects = [{"Key": key, "VersionId": version} for key, version in batch]
            errors = s3.delete_objects(Bucket=name, Delete={"Objects": objects, "Quiet": True}).get("Errors", [])
            if errors:
                first = errors[0]
                raise RuntimeError(
                    f"{len(errors)} object(s) could not be deleted, e.g. {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message')}"
                )
        deleted.update(entries)


def empty_and_delete_bucket(s3, name: str) -> None:
    """Abort unfinished multipart uploads, delete every object version and delete marker, then the bucket.

    S3 refuses DeleteBucket while anything of these is left (``BucketNotEmpty``,
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteBucket.html).
    """
    abort_multipart_uploads(s3, name)
    empty_bucket(s3, name)
    s3.delete_bucket(Bucket=name)


def delete_table(ddb, name: str, settings: Settings) -> None:
    ddb.delete_table(TableName=name)
    delay = 1 if settings.is_local else 5
    ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": delay, "MaxAttempts": 120})


def delete_glue_database(glue, name: str) -> None:
    """DeleteDatabase: its tables, their partitions and versions go with it (Glue removes them in
    the background; https://docs.aws.amazon.com/glue/latest/webapi/API_DeleteDatabase.html)."""
    glue.delete_database(Name=name)


def delete_workgroup(athena, name: str) -> str | None:
    """DeleteWorkGroup with RecursiveDeleteOption, which deletes it "even if the workgroup contains
    any named queries, query executions, or notebooks"
    (https://docs.aws.amazon.com/athena/latest/APIReference/API_DeleteWorkGroup.html). Its result
    files are objects in the series' bucket and go with the bucket."""
    try:
        athena.delete_work_group(WorkGroup=name, RecursiveDeleteOption=True)
    except ClientError as exc:
        if _workgroup_missing(exc):
            return "it was already gone"
        raise
    return None


def db_status(rds, name: str) -> str | None:
    """The instance's status, or None when it does not exist (any more)."""
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"][0]["DBInstanceStatus"]
    except ClientError as exc:
        if _code(exc) in GONE_CODES:
            return None
        raise


def already_being_deleted(rds, name: str, exc: ClientError) -> bool:
    """Whether a refused DeleteDBInstance only means that the instance is being deleted already.

    RDS answers ``InvalidDBInstanceState`` ("The specified DB instance is not in the
    available state", https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html)
    with the message "Instance <id> is already being deleted." The same code also
    means other states (e.g. ``creating``), which do need reporting, so the message is
    checked, and failing that the instance's own status.
    """
    if _code(exc) not in {"InvalidDBInstanceState", "InvalidDBInstanceStateFault"}:
        return False
    if "already being deleted" in _message(exc).lower():
        return True
    try:
        return db_status(rds, name) == "deleting"
    except ClientError:
        return False


def start_db_deletion(rds, name: str) -> bool:
    """Ask RDS to delete the instance: no final snapshot, no retained automated backups.

    Returns False when the instance was already being deleted (it just needs waiting for).
    """
    try:
        rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
    except ClientError as exc:
        if already_being_deleted(rds, name, exc):
            return False
        raise
    return True


def wait_db_deleted(rds, name: str, settings: Settings, patience: Patience, log: Log = print) -> None:
    """Wait until the instance is gone (helpers.rds owns the loop), within ``patience.db_timeout``.

    Giving up does not stop RDS: the deletion goes on, and ``python -m helpers status``
    shows when it is over; the error says so.
    """
    from helpers import rds as rds_helpers

    rds_helpers.wait_until_deleted(name, settings, timeout=patience.db_timeout, poll=patience.db_poll, rds=rds, log=log)


def delete_secret(sm, arn: str) -> None:
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)


def secret_gone(sm, arn: str, patience: Patience) -> bool:
    """Whether the secret disappears within ``patience.secret_grace`` (not found, or scheduled for deletion)."""
    for attempt in range(_checks(patience.secret_grace, patience.secret_poll)):
        if attempt:
            time.sleep(patience.secret_poll)
        try:
            if "DeletedDate" in sm.describe_secret(SecretId=arn):
                return True
        except ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return True
            raise
    return False


def delete_security_group(
    ec2, group_id: str, settings: Settings, *, patience: float | None = None, poll: float | None = None
) -> None:
    """Delete the group, retrying while AWS still sees it in use.

    DeleteSecurityGroup fails with ``DependencyViolation`` while the group "is associated
    with an instance or network interface"
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSecurityGroup.html):
    an RDS instance's network interface outlives the instance by minutes on AWS.
    """
    default = Patience.for_settings(settings)
    patience = default.group_timeout if patience is None else patience
    poll = default.group_poll if poll is None else poll
    checks = _checks(patience, poll)
    for attempt in range(checks):
        if attempt:
            time.sleep(poll)
        try:
            ec2.delete_security_group(GroupId=group_id)
            return
        except ClientError as exc:
            if _code(exc) != "DependencyViolation" or attempt == checks - 1:
                raise


def _attempt(
    resource: Resource,
    action: Callable[[], object],
    settings: Settings,
    log: Log,
    refusals: dict[str, Callable[[ClientError], str]] | None = None,
) -> bool:
    """Run one deletion; report it; never let one failure stop the others.

    ``action`` may return a note for the "deleted" line; ``refusals`` turns an expected
    refusal (by error code) into the sentence that explains it.
    """
    try:
        note = action()
    except ClientError as exc:
        if _code(exc) in GONE_CODES:
            log(f"already gone  {resource.label}")
            return True
        explain = (refusals or {}).get(_code(exc))
        log(f"FAILED        {resource.label}: {explain(exc) if explain else failure(exc, settings)}")
        return False
    except Exception as exc:  # noqa: BLE001 - report and go on with the rest
        log(f"FAILED        {resource.label}: {type(exc).__name__}: {exc}")
        return False
    log(f"deleted       {resource.label}" + (f" ({note})" if isinstance(note, str) else ""))
    return True


def _db_exists(clients: Clients, arn: str, settings: Settings) -> bool:
    """Whether the DB instance with this ARN still exists; True when unsure (never risk its secret)."""
    parts = arn.split(":")  # arn:aws:rds:<region>:<account>:db:<id>
    if len(parts) < 7:
        return True
    try:
        return db_status(clients("rds", parts[3]), parts[6]) is not None
    except (BotoCoreError, ClientError):
        return True


def _delete_rds_secret(
    clients: Clients, secret: Resource, gone: set[str], settings: Settings, patience: Patience, log: Log
) -> bool:
    """Let RDS delete its managed secret; delete it ourselves only if it outlived its instance.

    While the instance exists, DeleteSecret on its secret is refused with
    ``InvalidRequestException`` ("The secret is managed by another service"), and RDS
    deletes the secret with the instance anyway
    (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html).
    """
    instance = secret.link.rsplit(":", 1)[-1]
    if secret.link not in gone and _db_exists(clients, secret.link, settings):
        log(f"left to RDS   {secret.label}: RDS deletes it with DB instance {instance}, which still exists")
        return False
    sm = clients("secretsmanager", secret.region)

    def action() -> str:
        if secret_gone(sm, secret.ident, patience):
            return f"by RDS, with DB instance {instance}"
        delete_secret(sm, secret.ident)
        return f"it outlived DB instance {instance}"

    def refused(exc: ClientError) -> str:
        return (
            f"Secrets Manager refused to delete it ({_message(exc) or _code(exc)}). RDS manages it and deletes "
            f"it with DB instance {instance}; check again in a few minutes with `python -m helpers status`."
        )

    return _attempt(secret, action, settings, log, {"InvalidRequestException": refused})


def _try_start_db(rds, db: Resource, settings: Settings, log: Log) -> bool:
    try:
        if not start_db_deletion(rds, db.name):
            log(f"deleting      {db.label}: was already being deleted")
        return True
    except ClientError as exc:
        if _code(exc) in GONE_CODES:
            return True
        log(f"FAILED        {db.label}: {failure(exc, settings)}")
        return False
    except BotoCoreError as exc:
        log(f"FAILED        {db.label}: {failure(exc, settings)}")
        return False


def delete_all(
    resources: list[Resource],
    settings: Settings,
    log: Log = print,
    *,
    clients: Clients | None = None,
    patience: Patience | None = None,
) -> list[Resource]:
    """Delete ``resources`` in a safe order; return those that are still there.

    DB instances are asked to go first (RDS takes minutes), then lesson 06's workgroups and Glue
    databases, buckets and tables while RDS works, then we wait for the instances, then their secrets and security
    groups, which depend on them.
    """
    clients = clients or Clients(settings)
    patience = patience or Patience.for_settings(settings)
    of = {kind: [r for r in resources if r.kind == kind] for kind in ORDER}
    failed: list[Resource] = []
    started = [db for db in of[DB_INSTANCE] if _try_start_db(clients("rds", db.region), db, settings, log)]
    failed += [db for db in of[DB_INSTANCE] if db not in started]
    for r in of[WORKGROUP]:
        if not _attempt(r, lambda r=r: delete_workgroup(clients("athena", r.region), r.name), settings, log):
            failed.append(r)
    for r in of[GLUE_DATABASE]:
        if not _attempt(r, lambda r=r: delete_glue_database(clients("glue", r.region), r.name), settings, log):
            failed.append(r)
    for r in of[BUCKET]:
        if not _attempt(r, lambda r=r: empty_and_delete_bucket(clients("s3", r.region), r.name), settings, log):
            failed.append(r)
    for r in of[TABLE]:
        if not _attempt(r, lambda r=r: delete_table(clients("dynamodb", r.region), r.name, settings), settings, log):
            failed.append(r)
    gone: set[str] = set()
    for r in started:
        waited = _attempt(
            r, lambda r=r: wait_db_deleted(clients("rds", r.region), r.name, settings, patience, log), settings, log
        )
        if waited:
            gone.add(r.ident)
        else:
            failed.append(r)
    for r in of[SECRET]:
        if r.link:
            ok = _delete_rds_secret(clients, r, gone, settings, patience, log)
        else:
            ok = _attempt(r, lambda r=r: delete_secret(clients("secretsmanager", r.region), r.ident), settings, log)
        if not ok:
            failed.append(r)
    # Waiting for a network interface to be released only makes sense if every instance went away.
    group_timeout = 0 if any(r.kind == DB_INSTANCE for r in failed) else patience.group_timeout
    for r in of[SECURITY_GROUP]:
        action = lambda r=r: delete_security_group(  # noqa: E731
            clients("ec2", r.region), r.ident, settings, patience=group_timeout, poll=patience.group_poll
        )
        if not _attempt(r, action, settings, log):
            failed.append(r)
    return failed


# --------------------------------------------------------------------------- the command


def scope_of(settings: Settings, all_participants: bool, participants: Collection[str] | None) -> set[str] | None:
    if participants is not None:
        return set(participants)
    return None if all_participants else {settings.prefix}


def regions_to_search(settings: Settings, clients: Clients, all_regions: bool, log: Log = print) -> list[str]:
    """The regions this checkout used or, with ``all_regions``, those and every region enabled for
    the account. The used ones stay in: an opt-in region a learner worked in and has since disabled
    (or, locally, one the emulator serves without listing it) may still hold what they made there."""
    if not all_regions:
        return used_regions.used(settings)
    try:
        return sorted(set(used_regions.enabled(clients("ec2", settings.region))) | set(used_regions.used(settings)))
    except (BotoCoreError, ClientError) as exc:
        log(f"could not list the account's regions ({failure(exc, settings)}); searching the regions used instead.")
        return used_regions.used(settings)


ALL_REGIONS_HINT = "Other regions were not searched: `python -m helpers clean --all-regions` searches every one."


def clean(
    settings: Settings,
    yes: bool = False,
    all_participants: bool = False,
    participants: Collection[str] | None = None,
    log: Log = print,
    *,
    regions: Iterable[str] | None = None,
    all_regions: bool = False,
    clients: Clients | None = None,
    patience: Patience | None = None,
) -> Found:
    """List the series' resources; with ``yes``, delete them and return what is left.

    ``participants`` restricts the run to those prefixes (it wins over
    ``all_participants``); by default only your own prefix is touched. ``regions``
    (default: the regions this checkout used; ``all_regions``: every region enabled
    for the account) says where to look. A dry run (the default) returns what was
    found and deletes nothing. The result's ``complete`` is False when some service
    could not be listed, so an empty result is not proof that nothing is left.
    """
    clients = clients or Clients(settings)
    scope = scope_of(settings, all_participants, participants)
    who = "all participants" if scope is None else "participant " + ", ".join(sorted(scope))
    searched = list(regions) if regions is not None else regions_to_search(settings, clients, all_regions, log)
    found = find(settings, scope, all_participants=scope is None, log=log, regions=searched, clients=clients)
    hint = [ALL_REGIONS_HINT] if not all_regions and regions is None else []
    log(f"The series' resources ({who}, {settings.backend} backend):")
    log(listing(found))
    if not found or not yes:
        if found:
            log("\nDry run: nothing was deleted. Run `python -m helpers clean --yes` to delete the above.")
        for line in hint:
            log(line)
        return found
    log("")
    delete_all(found, settings, log, clients=clients, patience=patience)
    left = find(settings, scope, all_participants=scope is None, log=log, regions=searched, clients=clients)
    log("\nLeft afterwards:")
    log(listing(left, empty="Nothing of the series is left."))
    for line in hint:
        log(line)
    return left
