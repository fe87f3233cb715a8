"""AWS's pace and refusals, added to the moto server the local backend runs.

moto answers at once and forgives what AWS refuses: its DB instance is ``available`` the
moment it is created and gone the moment it is deleted, its tables are ``ACTIVE`` at once,
it deletes a security group or an RDS-managed secret while the database still uses it, and
it never expires a presigned link. Code written against that never meets the waiting,
retrying and ordering that AWS demands, so lessons that pass locally could fail (or leave
billable resources) on a real account.

This module teaches the emulator those behaviours, in seconds instead of minutes. Each one
follows an AWS document, cited where it is implemented:

* RDS: a new instance is ``creating`` (without an ``Endpoint``) before it is ``available``,
  with ``backing-up`` in between when backups are on; a deleted one is ``deleting`` before it
  disappears; a second DeleteDBInstance meanwhile is ``InvalidDBInstanceState``.
* EC2: a security group used by a DB instance, and for a while after that instance is gone
  (its network interface lingers), refuses deletion with ``DependencyViolation``.
* Secrets Manager: the secret RDS manages for ``ManageMasterUserPassword`` refuses
  DeleteSecret (``InvalidRequestException``) while its instance exists, and goes with it.
* DynamoDB: a new table is ``CREATING`` before ``ACTIVE`` (reads and writes meanwhile are
  ``ResourceNotFoundException``); a deleted one is ``DELETING`` before it is gone (creating
  its name again meanwhile is ``ResourceInUseException``).
* S3 (any presigned request): a link past its expiry is ``403 AccessDenied``, "Request has expired".

Status transitions use moto's own extension points: each resource carries a
:class:`moto.moto_api._internal.managed_state_model.ManagedState`, and the pace is a
``time`` transition registered with moto's ``state_manager`` (see
https://docs.getmoto.org/en/latest/docs/configuration/state_transition/index.html), so the
same models could be offered to moto itself.

It runs inside the emulator's process only (``python -m helpers.local.moto_server``), installed
by :func:`install`, switched by ``TUTORIAL_AWS_LIFECYCLE`` (on by default) and paced by
``TUTORIAL_AWS_LIFECYCLE_PACE`` (seconds per status). ``GET``/``POST``
``/moto-api/tutorial/lifecycle`` reads or changes both on a running server (tests and the
benchmark use it). Lesson code never knows: it calls plain boto3 and handles what AWS does.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

CONTROL_PATH = "/moto-api/tutorial/lifecycle"

# Model names for moto's state_manager; one per kind of transition, so each has its own pace.
RDS_CREATE = "tutorial::rds-db-instance-create"
RDS_DELETE = "tutorial::rds-db-instance-delete"
EC2_ENI_RELEASE = "tutorial::ec2-network-interface-release"
DDB_CREATE = "tutorial::dynamodb-table-create"
DDB_DELETE = "tutorial::dynamodb-table-delete"

# How many "paces" each transition lasts. AWS: an RDS instance takes 5-15 minutes to create and a
# few to delete; its network interface lingers for a few minutes more; a DynamoDB table takes seconds.
# Half a pace is enough for a retry loop to meet the refusal at least once.
PACES = {RDS_CREATE: 1.0, RDS_DELETE: 1.0, EC2_ENI_RELEASE: 0.5, DDB_CREATE: 0.5, DDB_DELETE: 0.5}


@dataclass
class LifecycleConfig:
    enabled: bool = True
    pace: float = 2.0


CONFIG = LifecycleConfig()
_LOCK = threading.RLock()
# Deletions that AWS would still be working on: (is it finished?, finish it) pairs.
_PENDING: list[tuple[Callable[[], bool], Callable[[], None]]] = []
_INSTALLED = False


def configure(enabled: bool | None = None, pace: float | None = None) -> LifecycleConfig:
    """Switch the behaviours on or off and set the seconds one status lasts."""
    from moto.moto_api import state_manager

    with _LOCK:
        if enabled is not None:
            CONFIG.enabled = enabled
        if pace is not None:
            CONFIG.pace = max(0.0, float(pace))
        for model, paces in PACES.items():
            seconds = CONFIG.pace * paces
            if CONFIG.enabled and seconds > 0:
                state_manager.set_transition(model, {"progression": "time", "seconds": seconds})
            else:
                state_manager.set_transition(model, {"progression": "immediate"})
        if not CONFIG.enabled:
            tick()  # finish whatever was under way: switched off means moto's instant world
    return CONFIG


def _state(model: str, steps: list[str]):
    """A ManagedState walking through ``steps`` at the model's registered pace."""
    from moto.moto_api._internal.managed_state_model import ManagedState

    return ManagedState(model, list(zip(steps, steps[1:], strict=False)))


def _finished(state) -> bool:
    return state.status == state._transitions[-1][1]


def tick() -> None:
    """Finish every deletion whose time has come. Runs before each request the server answers."""
    with _LOCK:
        if not _PENDING:
            return
        keep = []
        for done, finish in _PENDING:
            if not CONFIG.enabled or done():
                finish()
            else:
                keep.append((done, finish))
        _PENDING[:] = keep


# --------------------------------------------------------------------------- RDS


def _patch_rds() -> None:
    from moto.rds.exceptions import InvalidDBInstanceStateFault, InvalidParameterCombination
    from moto.rds.models import DBInstance, RDSBackend

    original_create = RDSBackend.create_db_instance
    original_delete = RDSBackend.delete_db_instance
    original_endpoint = DBInstance.endpoint

    def get_status(self) -> str:
        deleting = self.__dict__.get("_tutorial_deleting")
        if deleting is not None:
            return "deleting"
        creating = self.__dict__.get("_tutorial_creating")
        if creating is not None:
            return creating.status
        return self.__dict__.get("_tutorial_status", "available")

    def set_status(self, value: str) -> None:
        # moto sets a status itself (stop, start, reboot, ...): that one wins from then on.
        self.__dict__["_tutorial_status"] = value
        self.__dict__.pop("_tutorial_creating", None)

    def endpoint(self):
        # "Endpoint ... is not returned while the instance is being created"
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html
        if self.status == "creating":
            return None
        return original_endpoint.fget(self)

    def create_db_instance(self, db_kwargs: dict[str, Any]):
        database = original_create(self, db_kwargs)
        if CONFIG.enabled and database.db_cluster_identifier is None:
            # Statuses as listed in https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html;
            # backing-up comes only when automated backups are on (BackupRetentionPeriod > 0).
            steps = ["creating", "backing-up", "available"] if database.backup_retention_period else []
            database.__dict__["_tutorial_creating"] = _state(RDS_CREATE, steps or ["creating", "available"])
        return database

    def delete_db_instance(
        self,
        db_instance_identifier: str,
        final_db_snapshot_identifier: str | None = None,
        skip_final_snapshot: bool | None = False,
        delete_automated_backups: bool | None = True,
    ):
        kwargs = {
            "final_db_snapshot_identifier": final_db_snapshot_identifier,
            "skip_final_snapshot": skip_final_snapshot,
            "delete_automated_backups": delete_automated_backups,
        }
        database = self.databases.get(db_instance_identifier)
        if not CONFIG.enabled or database is None or database.db_cluster_identifier is not None:
            return original_delete(self, db_instance_identifier, **kwargs)
        # https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeleteDBInstance.html
        if database.__dict__.get("_tutorial_deleting") is not None:
            raise InvalidDBInstanceStateFault(f"Instance {db_instance_identifier} is already being deleted.")
        if database.deletion_protection:
            raise InvalidParameterCombination(
                "Cannot delete protected DB Instance, please disable deletion protection and try again."
            )
        if not skip_final_snapshot and not final_db_snapshot_identifier:
            raise InvalidParameterCombination(
                "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified."
            )
        database.status = "deleting"
        deleting = _state(RDS_DELETE, ["deleting", "deleted"])
        database.__dict__["_tutorial_deleting"] = deleting
        backend = self

        def finish() -> None:
            if backend.databases.get(db_instance_identifier) is database:
                original_delete(backend, db_instance_identifier, **kwargs)  # also deletes its managed secret
            database.__dict__.pop("_tutorial_deleting", None)
            database.__dict__["_tutorial_status"] = "deleted"
            for group_id in database.vpc_security_group_ids or []:
                _linger(backend.account_id, backend.region_name, group_id)

        _PENDING.append((lambda: _finished(deleting), finish))
        return database

    DBInstance.status = property(get_status, set_status)
    DBInstance.endpoint = property(endpoint)
    RDSBackend.create_db_instance = create_db_instance
    RDSBackend.delete_db_instance = delete_db_instance


def _rds_instances(account_id: str, region: str) -> list:
    from moto.rds.models import rds_backends

    try:
        return list(rds_backends[account_id][region].databases.values())
    except KeyError:
        return []


# --------------------------------------------------------------------------- EC2


# Network interfaces of deleted DB instances, still attached to their groups for a while.
_LINGERING: dict[tuple[str, str, str], list] = {}


def _linger(account_id: str, region: str, group_id: str) -> None:
    if CONFIG.enabled:
        _LINGERING.setdefault((account_id, region, group_id), []).append(
            _state(EC2_ENI_RELEASE, ["in-use", "released"])
        )


def _group_in_use(account_id: str, region: str, group_id: str) -> bool:
    if any(group_id in (db.vpc_security_group_ids or []) for db in _rds_instances(account_id, region)):
        return True
    interfaces = [s for s in _LINGERING.get((account_id, region, group_id), []) if not _finished(s)]
    if interfaces:
        _LINGERING[(account_id, region, group_id)] = interfaces
        return True
    _LINGERING.pop((account_id, region, group_id), None)
    return False


def _patch_ec2() -> None:
    from moto.ec2.exceptions import DependencyViolationError
    from moto.ec2.models.security_groups import SecurityGroupBackend

    original = SecurityGroupBackend.delete_security_group

    def delete_security_group(self, name: str | None = None, group_id: str | None = None) -> None:
        if CONFIG.enabled:
            group = self.get_security_group_from_id(group_id) if group_id else None
            if group is None and name:
                group = self.get_security_group_by_name_or_id(name)
            # "You can't delete a security group that is associated with an instance or network
            # interface" https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DeleteSecurityGroup.html
            if group is not None and _group_in_use(self.account_id, self.region_name, group.id):
                raise DependencyViolationError(f"resource {group.id} has a dependent object")
        return original(self, name, group_id)

    SecurityGroupBackend.delete_security_group = delete_security_group


# --------------------------------------------------------------------------- Secrets Manager


RDS_SECRET_TAG = "aws:rds:primaryDBInstanceArn"  # noqa: S105 - a tag key


def _patch_secretsmanager() -> None:
    from moto.secretsmanager.exceptions import InvalidRequestException
    from moto.secretsmanager.models import SecretsManagerBackend

    original = SecretsManagerBackend.delete_secret

    def delete_secret(self, secret_id: str, recovery_window_in_days, force_delete_without_recovery):
        if CONFIG.enabled and self._is_valid_identifier(secret_id):
            secret = self.secrets[secret_id]
            owner = next((t["Value"] for t in secret.tags or [] if t["Key"] == RDS_SECRET_TAG), None)
            instances = _rds_instances(self.account_id, self.region_name)
            if owner and any(db.db_instance_arn == owner for db in instances):
                # https://docs.aws.amazon.com/secretsmanager/latest/userguide/service-linked-secrets.html
                # and InvalidRequestException in https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html
                raise InvalidRequestException(
                    f"You can't delete secret {secret.name}: it is managed by rds for {owner}. "
                    "Use that service to change or delete it (RDS deletes it with the DB instance)."
                )
        return original(self, secret_id, recovery_window_in_days, force_delete_without_recovery)

    SecretsManagerBackend.delete_secret = delete_secret


# --------------------------------------------------------------------------- DynamoDB


def _table_status(table) -> str:
    if table.__dict__.get("_tutorial_deleting") is not None:
        return "DELETING"
    creating = table.__dict__.get("_tutorial_creating")
    if creating is not None and CONFIG.enabled:
        return creating.status
    return "ACTIVE"


def _patch_dynamodb() -> None:
    from moto.dynamodb.exceptions import ResourceInUseException, ResourceNotFoundException
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    original_describe = Table.describe
    original_create = DynamoDBBackend.create_table
    original_delete = DynamoDBBackend.delete_table

    def describe(self, base_key: str = "TableDescription") -> dict[str, Any]:
        result = original_describe(self, base_key)
        result[base_key]["TableStatus"] = _table_status(self)
        return result

    def create_table(self, name: str, *args, **kwargs):
        table = original_create(self, name, *args, **kwargs)
        if CONFIG.enabled:
            table.__dict__["_tutorial_creating"] = _state(DDB_CREATE, ["CREATING", "ACTIVE"])
        return table

    def delete_table(self, name: str):
        if not CONFIG.enabled:
            return original_delete(self, name)
        table = self.get_table(name)
        status = _table_status(table)
        # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_DeleteTable.html:
        # CREATING or UPDATING -> ResourceInUseException; already DELETING -> no error.
        if status == "DELETING":
            return table
        if status != "ACTIVE":
            raise ResourceInUseException(
                f"Attempt to change a resource which is still in use: Table is being {status.lower()}: {table.name}"
            )
        if table.deletion_protection_enabled:
            return original_delete(self, name)  # raises moto's DeletionProtectedException
        deleting = _state(DDB_DELETE, ["DELETING", "DELETED"])
        table.__dict__["_tutorial_deleting"] = deleting
        backend = self

        def finish() -> None:
            if backend.tables.get(table.name) is table:
                backend.tables.pop(table.name)

        _PENDING.append((lambda: _finished(deleting), finish))
        return table

    def require_active(method_name: str) -> None:
        original = getattr(DynamoDBBackend, method_name)

        def guarded(self, table_name: str, *args, **kwargs):
            table = self.tables.get(table_name)
            # "The resource might not be specified correctly, or its status might not be ACTIVE."
            # https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/CommonErrors.html
            # (a DELETING table may still answer, as DeleteTable's documentation says)
            if CONFIG.enabled and table is not None and _table_status(table) == "CREATING":
                raise ResourceNotFoundException(table_name=table_name)
            return original(self, table_name, *args, **kwargs)

        guarded.__name__ = method_name
        setattr(DynamoDBBackend, method_name, guarded)

    Table.describe = describe
    DynamoDBBackend.create_table = create_table
    DynamoDBBackend.delete_table = delete_table
    for method in ("put_item", "get_item", "query", "scan", "update_item", "delete_item"):
        require_active(method)


# --------------------------------------------------------------------------- presigned URLs


def expired_presigned_request(query_string: str, now: datetime | None = None) -> dict[str, str] | None:
    """Details of an expired presigned request (SigV4 or SigV2 query string), else None.

    https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html: "If you
    attempt to use an expired URL, you receive an error" (403 AccessDenied, "Request has expired").
    """
    if "Expires" not in query_string:  # X-Amz-Expires or Expires: most requests are not presigned
        return None
    query = parse_qs(query_string)
    now = now or datetime.now(UTC)
    if "X-Amz-Expires" in query and "X-Amz-Date" in query:
        try:
            signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            expires = signed + timedelta(seconds=int(query["X-Amz-Expires"][0]))
        except ValueError:
            return None
        if now > expires:
            return {"X-Amz-Expires": query["X-Amz-Expires"][0], "Expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return None
    if "Expires" in query and "Signature" in query:
        try:
            expires = datetime.fromtimestamp(int(query["Expires"][0]), UTC)
        except (ValueError, OverflowError):
            return None
        if now > expires:
            return {"Expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ")}
    return None


def _expired_response(details: dict[str, str], start_response) -> list[bytes]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    extra = "".join(f"<{k}>{v}</{k}>" for k, v in details.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
        f"<Message>Request has expired</Message>{extra}<ServerTime>{now}</ServerTime></Error>"
    ).encode()
    start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
    return [body]


# --------------------------------------------------------------------------- the server side


def _control(environ, start_response) -> list[bytes]:
    if environ.get("REQUEST_METHOD") == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        wanted = json.loads(environ["wsgi.input"].read(length) or b"{}")
        configure(wanted.get("enabled"), wanted.get("pace"))
    body = json.dumps(asdict(CONFIG)).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def wrap(app: Callable) -> Callable:
    """WSGI middleware: the control endpoints, expired links, and deletions that come due."""
    from helpers.local import aws_limits, iam_enforcement

    def middleware(environ, start_response):
        if environ.get("PATH_INFO") == CONTROL_PATH:
            return _control(environ, start_response)
        if environ.get("PATH_INFO") == iam_enforcement.CONTROL_PATH:
            return iam_enforcement.control(environ, start_response)
        if environ.get("PATH_INFO") == aws_limits.CONTROL_PATH:
            return aws_limits.control(environ, start_response)
        if CONFIG.enabled:
            tick()
            details = expired_presigned_request(environ.get("QUERY_STRING", ""))
            if details is not None:
                return _expired_response(details, start_response)
        return app(environ, start_response)

    return middleware


def install(enabled: bool = True, pace: float = 2.0) -> None:
    """Patch moto's models (once per process) and set the switches."""
    global _INSTALLED
    with _LOCK:
        if not _INSTALLED:
            _patch_rds()
            _patch_ec2()
            _patch_secretsmanager()
            _patch_dynamodb()
            _INSTALLED = True
    configure(enabled, pace)
