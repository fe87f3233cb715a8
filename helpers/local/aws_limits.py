"""AWS's quotas and refusals that moto does not apply, added to the emulator the local backend runs.

moto accepts what AWS refuses: a participant policy far over IAM's size quota, a user deleted
while it still has keys or a login profile, a role session longer than the role allows, a
security group named like a group id, a forty-first DB instance. Code rehearsed against that
fails at its first step on a real account, or leaves behind what it could not delete. And moto
answers one call of the series differently from AWS: ListObjectVersions, paged while the pages
are deleted, loses versions, so a bucket emptied that way stays.

This module teaches the emulator AWS's answers, each with AWS's error code and a message like
AWS's, each citing its AWS document where it is implemented:

* IAM policy sizes (``LimitExceeded``): a user's inline policies together at most 2,048
  characters, a role's 10,240, a group's 5,120; a managed policy (CreatePolicy,
  CreatePolicyVersion) at most 6,144. White space is not counted. :func:`policy_chars` counts
  as IAM does, and the constants below are the numbers, for tests that prove a policy fits.
* IAM access keys: a third key for a user is ``LimitExceeded``. moto 5.2 refuses it itself;
  nothing is added, and tests/test_aws_limits.py proves it stays refused.
* IAM deletions (``DeleteConflict``): DeleteUser while the user still has access keys, a login
  profile, MFA devices, signing certificates, SSH public keys or group memberships (moto checks
  only policies); DeleteGroup while it has members or policies; DeletePolicy while the policy
  is attached or has versions besides its default (moto deletes all of these).
* STS: AssumeRole (and AssumeRoleWithWebIdentity) for longer than the role's
  ``MaxSessionDuration`` is ``ValidationError``.
* EC2: CreateSecurityGroup with a name starting with ``sg-`` is ``InvalidParameterValue``.
* EC2: DescribeRegions lists the regions a new account has enabled, the 17 of the ``aws``
  partition launched before March 20, 2019 (:data:`DEFAULT_REGIONS`); ``AllRegions=True`` adds
  the opt-in ones as ``not-opted-in``. moto lists 38, China's and GovCloud's among them, which an
  AWS account can neither describe nor reach, so a search of "every region" did twice the work.
* RDS: at most :data:`RDS_DB_INSTANCES` DB instances per region; one more is
  ``InstanceQuotaExceeded``.
* S3: ListObjectVersions treats ``KeyMarker``/``VersionIdMarker`` as a position in the sorted
  listing, as S3 does, instead of looking the marker up among the versions that still exist.
* Athena: GetWorkGroup of a workgroup that does not exist is ``InvalidRequestException`` ("WorkGroup
  is not found."; moto answers ``{"WorkGroup": null}``), and ListTagsForResource of a workgroup
  without tags is an empty list (moto answers that it does not exist).

It runs inside the emulator's process only (``python -m helpers.local.moto_server``), installed
by :func:`install`, switched by ``TUTORIAL_AWS_LIMITS`` (on unless ``off``), with the DB instance
quota from ``TUTORIAL_AWS_RDS_INSTANCE_QUOTA`` (default 40). ``GET``/``POST``
``/moto-api/tutorial/limits`` (``{"enabled": bool, "rds_instance_quota": int}``) reads or
changes both on a running server. Switched off, every call gets moto's own answer back.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from dataclasses import asdict, dataclass
from typing import Any

from helpers.settings import REGIONS_ENABLED_BY_DEFAULT

CONTROL_PATH = "/moto-api/tutorial/limits"

# IAM and AWS STS quotas, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html:
# "You can add as many inline policies as you want to an IAM user, role, or group. But the total
# aggregate policy size (the sum size of all inline policies) per entity cannot exceed" these;
# "IAM does not count white space when calculating the size of a policy against these limitations."
USER_INLINE_POLICY_CHARS = 2048
ROLE_INLINE_POLICY_CHARS = 10240
GROUP_INLINE_POLICY_CHARS = 5120
MANAGED_POLICY_CHARS = 6144
ACCESS_KEYS_PER_USER = 2
# "The default maximum session duration value is 3600 seconds (1 hour)" (MaxSessionDuration in
# https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html)
DEFAULT_MAX_SESSION_SECONDS = 3600
# Quotas in Amazon RDS, "DB instances": 40 per Region,
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html
RDS_DB_INSTANCES = 40
# "You can't describe or access the Regions of one type of account from another" (China, GovCloud:
# https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html); the regions a
# new account has enabled are helpers.settings.REGIONS_ENABLED_BY_DEFAULT.
DEFAULT_REGIONS = REGIONS_ENABLED_BY_DEFAULT

_WHITESPACE = re.compile(r"\s+")


def policy_chars(document: str | dict[str, Any]) -> int:
    """The size IAM counts for a policy document: its characters, white space not counted.

    A dict is counted as the JSON text boto3 would send for it (``json.dumps``); a string as given.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html ("IAM does not count
    white space"); GetAccountSummary gives the quotas "in non-whitespace characters"
    (https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountSummary.html).
    """
    text = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    return len(_WHITESPACE.sub("", text))


@dataclass
class LimitsConfig:
    enabled: bool = True
    rds_instance_quota: int = RDS_DB_INSTANCES


CONFIG = LimitsConfig()
_LOCK = threading.RLock()
_INSTALLED = False


def configure(enabled: bool | None = None, rds_instance_quota: int | None = None) -> LimitsConfig:
    """Switch the refusals on or off; set the DB instances a region may hold (tests lower it)."""
    with _LOCK:
        if enabled is not None:
            CONFIG.enabled = bool(enabled)
        if rds_instance_quota is not None:
            CONFIG.rds_instance_quota = max(0, int(rds_instance_quota))
    return CONFIG


# --------------------------------------------------------------------------- IAM


def _inline_total(policies: dict[str, str], replaced: str, document: str) -> int:
    """An entity's inline policies together once ``replaced`` holds ``document`` (PutXPolicy replaces by name)."""
    others = sum(policy_chars(text) for name, text in policies.items() if name != replaced)
    return others + policy_chars(document)


def _patch_iam() -> None:
    from moto.iam.exceptions import DeleteConflictException, LimitExceededException
    from moto.iam.models import IAMBackend

    def check_inline(kind: str, name: str, policies: dict[str, str], policy_name: str, document: str, quota: int):
        # "Maximum policy size of 2048 bytes exceeded for user <name>" is AWS's answer to PutUserPolicy
        # over the aggregate quota (LimitExceeded, HTTP 409; IAM quotas page and
        # https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutUserPolicy.html#API_PutUserPolicy_Errors).
        if CONFIG.enabled and _inline_total(policies, policy_name, document) > quota:
            raise LimitExceededException(f"Maximum policy size of {quota} bytes exceeded for {kind} {name}")

    def check_managed(document: str) -> None:
        # https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html (LimitExceeded)
        if CONFIG.enabled and policy_chars(document) > MANAGED_POLICY_CHARS:
            raise LimitExceededException(f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_CHARS}")

    original_put_user = IAMBackend.put_user_policy
    original_put_role = IAMBackend.put_role_policy
    original_put_group = IAMBackend.put_group_policy
    original_create_policy = IAMBackend.create_policy
    original_create_version = IAMBackend.create_policy_version
    original_delete_user = IAMBackend.delete_user
    original_delete_group = IAMBackend.delete_group
    original_delete_policy = IAMBackend.delete_policy

    def put_user_policy(self, user_name: str, policy_name: str, policy_json: str) -> None:
        user = self.get_user(user_name)
        check_inline("user", user_name, user.policies, policy_name, policy_json, USER_INLINE_POLICY_CHARS)
        return original_put_user(self, user_name, policy_name, policy_json)

    def put_role_policy(self, role_name: str, policy_name: str, policy_json: str) -> None:
        role = self.get_role(role_name)
        check_inline("role", role_name, role.policies, policy_name, policy_json, ROLE_INLINE_POLICY_CHARS)
        return original_put_role(self, role_name, policy_name, policy_json)

    def put_group_policy(self, group_name: str, policy_name: str, policy_json: str) -> None:
        group = self.get_group(group_name)
        check_inline("group", group_name, group.policies, policy_name, policy_json, GROUP_INLINE_POLICY_CHARS)
        return original_put_group(self, group_name, policy_name, policy_json)

    def create_policy(self, description, path, policy_document: str, policy_name, tags):
        check_managed(policy_document)
        return original_create_policy(self, description, path, policy_document, policy_name, tags)

    def create_policy_version(self, policy_arn: str, policy_document: str, set_as_default: bool):
        check_managed(policy_document)
        return original_create_version(self, policy_arn, policy_document, set_as_default)

    def delete_user(self, user_name: str) -> None:
        user = self.get_user(user_name)
        if CONFIG.enabled:
            # "you must delete the items attached to the user manually, or the deletion fails":
            # password, access keys, signing certificate, SSH public key, Git credentials, MFA
            # device, inline policies, attached managed policies, group memberships
            # (DeleteConflict, https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteUser.html).
            # moto checks the policies itself; Git (service-specific) credentials it cannot create.
            conflicts = [
                (user.password is not None, "must delete login profile first"),
                (bool(user.access_keys), "must delete access keys first"),
                (bool(user.signing_certificates), "must remove referenced objects first"),
                (bool(user.ssh_public_keys), "must remove referenced objects first"),
                (bool(user.mfa_devices), "must delete MFA device first"),
                (any(user in group.users for group in self.groups.values()), "must remove users from group first"),
            ]
            for conflict, what in conflicts:
                if conflict:
                    raise DeleteConflictException(f"Cannot delete entity, {what}.")
        return original_delete_user(self, user_name)

    def delete_group(self, group_name: str) -> None:
        group = self.groups.get(group_name)
        if CONFIG.enabled and group is not None:
            # "you must remove the users in the group and delete or detach the policies"
            # (DeleteConflict, https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteGroup.html)
            if group.users:
                raise DeleteConflictException("Cannot delete entity, must remove users from group first.")
            if group.policies:
                raise DeleteConflictException("Cannot delete entity, must delete policies first.")
            if group.managed_policies:
                raise DeleteConflictException("Cannot delete entity, must detach all policies first.")
        return original_delete_group(self, group_name)

    def delete_policy(self, policy_arn: str) -> None:
        policy = self.get_policy(policy_arn)
        if CONFIG.enabled:
            # "you must first detach the policy from all users, groups, and roles ... In addition,
            # you must delete all the policy's versions" except the default (DeleteConflict,
            # https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeletePolicy.html)
            if policy.attachment_count > 0:
                raise DeleteConflictException("Cannot delete a policy attached to entities.")
            if len(policy.versions) > 1:
                raise DeleteConflictException(
                    "This policy has more than one version. Before you delete a policy, you must delete "
                    "the policy's versions. The default version is deleted with the policy."
                )
        return original_delete_policy(self, policy_arn)

    IAMBackend.put_user_policy = put_user_policy
    IAMBackend.put_role_policy = put_role_policy
    IAMBackend.put_group_policy = put_group_policy
    IAMBackend.create_policy = create_policy
    IAMBackend.create_policy_version = create_policy_version
    IAMBackend.delete_user = delete_user
    IAMBackend.delete_group = delete_group
    IAMBackend.delete_policy = delete_policy


# --------------------------------------------------------------------------- STS


def _patch_sts() -> None:
    from moto.iam.models import iam_backends
    from moto.sts.exceptions import STSValidationError
    from moto.sts.models import STSBackend

    original = STSBackend.assume_role  # AssumeRoleWithWebIdentity goes through it too

    def assume_role(self, region_name, role_session_name, role_arn, policy, duration, external_id):
        if CONFIG.enabled and role_arn:
            account = role_arn.split(":")[4] if role_arn.count(":") >= 5 else self.account_id
            try:
                role = iam_backends[account][self.partition].get_role_by_arn(role_arn)
            except Exception:  # noqa: BLE001 - moto lets an unknown role be assumed; so does this
                role = None
            maximum = int(getattr(role, "max_session_duration", None) or DEFAULT_MAX_SESSION_SECONDS)
            # "If you specify a value higher than this setting or the administrator setting
            # (whichever is lower), the operation fails" (DurationSeconds,
            # https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html)
            if role is not None and int(duration) > maximum:
                raise STSValidationError(
                    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                )
        return original(self, region_name, role_session_name, role_arn, policy, duration, external_id)

    STSBackend.assume_role = assume_role


# --------------------------------------------------------------------------- EC2


def _patch_ec2() -> None:
    from moto.ec2.exceptions import EC2ClientError
    from moto.ec2.models.security_groups import SecurityGroupBackend

    original = SecurityGroupBackend.create_security_group

    def create_security_group(self, name: str, description: str, *args, **kwargs):
        # GroupName "Constraints: Up to 255 characters in length. Cannot start with sg-."
        # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html
        if CONFIG.enabled and isinstance(name, str) and name.startswith("sg-"):
            raise EC2ClientError(
                "InvalidParameterValue",
                f"Value ({name}) for parameter GroupName is invalid. Group names may not be in the format sg-*.",
            )
        return original(self, name, description, *args, **kwargs)

    SecurityGroupBackend.create_security_group = create_security_group

    from moto.ec2.models.availability_zones_and_regions import Region
    from moto.ec2.responses.availability_zones_and_regions import AvailabilityZonesAndRegions

    original_regions = AvailabilityZonesAndRegions.describe_regions

    def describe_regions(self):
        # "AllRegions: Indicates whether to display all Regions, including Regions that are
        # disabled for your account"; OptInStatus "opt-in-not-required | opted-in | not-opted-in".
        # https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeRegions.html
        if not CONFIG.enabled:
            return original_regions(self)
        from moto.core.responses import ActionResult

        self.error_on_dryrun()
        names = set(self._get_param("RegionNames", []))
        everything = str(self._get_param("AllRegions", "false")).lower() == "true"
        regions = [
            Region(r.name, r.endpoint, "opt-in-not-required" if r.name in DEFAULT_REGIONS else "not-opted-in")
            for r in self.ec2_backend.describe_regions()
            if r.endpoint.endswith(".amazonaws.com") and not r.name.startswith("us-gov-")
        ]
        regions = [
            r for r in regions if (everything or r.opt_in_status != "not-opted-in") and (not names or r.name in names)
        ]
        return ActionResult({"Regions": sorted(regions, key=lambda r: r.name)})

    AvailabilityZonesAndRegions.describe_regions = describe_regions


# --------------------------------------------------------------------------- RDS


def _patch_rds() -> None:
    from moto.rds.exceptions import RDSClientError
    from moto.rds.models import RDSBackend

    original = RDSBackend.create_db_instance  # also used by restores from a snapshot, as on AWS

    def create_db_instance(self, db_kwargs: dict[str, Any]):
        # InstanceQuotaExceeded, HTTP 400 (https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstance.html);
        # "DB instances": 40 per Region (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Limits.html)
        if CONFIG.enabled and len(self.databases) >= CONFIG.rds_instance_quota:
            raise RDSClientError(
                "InstanceQuotaExceeded",
                "The request would result in the user exceeding the allowed number of DB instances.",
            )
        return original(self, db_kwargs)

    RDSBackend.create_db_instance = create_db_instance


# --------------------------------------------------------------------------- S3

# Each object version and delete marker gets a creation number, so that the position of a version
# in a listing is known even after it is deleted (newer versions of a key come first).
_SEQUENCE = itertools.count(1)
# Markers handed out as NextVersionIdMarker: (bucket, key, version id) -> creation number. The
# marker's version may be deleted before the next page is asked for; its position stays.
_MARKERS: dict[tuple[str, str, str], int] = {}
_MARKERS_KEPT = 10_000


def _seq(version: Any) -> int:
    return getattr(version, "_tutorial_seq", 0)


class _Listed:
    """A version as one listing shows it: ``IsLatest`` set without copying the object (moto deep-copies)."""

    def __init__(self, version: Any, is_latest: bool) -> None:
        self._version = version
        self.is_latest = is_latest

    def __getattr__(self, name: str) -> Any:
        return getattr(self._version, name)


def list_versions_by_position(
    bucket: Any,
    delimiter: str | None,
    key_marker: str | None,
    max_keys: int | None,
    prefix: str | None,
    version_id_marker: str | None,
) -> tuple[list, list[str], list, str | None, str | None]:
    """ListObjectVersions as S3 pages it: the markers are a position, not a lookup.

    https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html: "KeyMarker:
    Specifies the key to start with when listing objects in a bucket"; "VersionIdMarker:
    Specifies the object version you want to start listing from". A page continues after the
    last item of the previous one (NextKeyMarker, NextVersionIdMarker), whether or not that
    version still exists: keys after the marker key, and the marker key's versions older than
    the marker version. Returns moto's tuple: (versions, common prefixes, delete markers,
    next key marker, next version id marker).
    """
    from moto.s3.models import FakeKey

    prefix = prefix or ""
    limit = 1000 if max_keys is None else max_keys
    versions: list = []
    markers: list = []
    prefixes: list[str] = []
    last: tuple[str, str | None, int] | None = None
    truncated = False
    marker_seq: float | None = None
    lists = {
        name: list(stored or []) for name, stored in bucket.keys.iterlists()
    }  # a snapshot: requests run in threads
    if key_marker and version_id_marker:
        existing = [v for v in lists.get(key_marker, []) if v.version_id == version_id_marker]
        if existing:
            marker_seq = _seq(existing[0])
        else:  # deleted since: its recorded position; unknown: list all the key's versions
            marker_seq = _MARKERS.get((bucket.name, key_marker, version_id_marker), float("inf"))
    for name in sorted(lists):
        if not name.startswith(prefix):
            continue
        if key_marker:
            if name < key_marker or (name == key_marker and marker_seq is None):
                continue
        listed = lists[name][::-1]  # moto keeps a key's versions oldest first
        if not listed:
            continue
        rest = name[len(prefix) :]
        if delimiter and delimiter in rest:
            common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
            if common == key_marker or (prefixes and prefixes[-1] == common):
                continue  # listed on an earlier page, or just now
            if len(versions) + len(markers) + len(prefixes) >= limit:
                truncated = True
                break
            prefixes.append(common)
            last = (common, None, 0)
            continue
        for index, version in enumerate(listed):
            if name == key_marker and marker_seq is not None and _seq(version) >= marker_seq:
                continue  # the marker and what is newer were on the previous page
            if len(versions) + len(markers) + len(prefixes) >= limit:
                truncated = True
                break
            (versions if isinstance(version, FakeKey) else markers).append(_Listed(version, index == 0))
            last = (name, version.version_id, _seq(version))
        if truncated:
            break
    if not truncated or last is None or limit == 0:
        return versions, prefixes, markers, None, None
    name, version_id, seq = last
    if version_id is not None:
        with _LOCK:
            if len(_MARKERS) >= _MARKERS_KEPT:
                _MARKERS.clear()
            _MARKERS[(bucket.name, name, version_id)] = seq
    return versions, prefixes, markers, name, version_id


def _patch_s3() -> None:
    from moto.s3.models import FakeDeleteMarker, FakeKey, S3Backend

    def numbered(cls: type) -> None:
        original_init = cls.__init__

        def __init__(self, *args, **kwargs) -> None:
            original_init(self, *args, **kwargs)
            self._tutorial_seq = next(_SEQUENCE)

        cls.__init__ = __init__

    numbered(FakeKey)
    numbered(FakeDeleteMarker)
    original = S3Backend.list_object_versions

    def list_object_versions(
        self,
        bucket_name: str,
        delimiter: str | None = None,
        key_marker: str | None = None,
        max_keys: int | None = 1000,
        prefix: str = "",
        version_id_marker: str | None = None,
    ):
        if not CONFIG.enabled:
            return original(self, bucket_name, delimiter, key_marker, max_keys, prefix, version_id_marker)
        bucket = self.get_bucket(bucket_name)
        return list_versions_by_position(bucket, delimiter, key_marker, max_keys, prefix, version_id_marker)

    S3Backend.list_object_versions = list_object_versions


# --------------------------------------------------------------------------- Athena


def _patch_athena() -> None:
    from moto.athena.responses import AthenaResponse

    original_get, original_tags = AthenaResponse.get_work_group, AthenaResponse.list_tags_for_resource

    def get_work_group(self):
        # GetWorkGroup's errors: InvalidRequestException, "Indicates that something is wrong with
        # the input to the request", which AWS gives a missing workgroup as "WorkGroup is not found."
        # https://docs.aws.amazon.com/athena/latest/APIReference/API_GetWorkGroup.html
        if CONFIG.enabled and self.athena_backend.get_work_group(self._get_param("WorkGroup")) is None:
            return self.error("WorkGroup is not found.", 400)
        return original_get(self)

    def list_tags_for_resource(self):
        # "Lists the tags associated with an Athena resource": none is an empty list, not an error.
        # https://docs.aws.amazon.com/athena/latest/APIReference/API_ListTagsForResource.html
        arn = self._get_param("ResourceARN") or ""
        kind, _, name = arn.rpartition(":")[2].partition("/")
        if (
            CONFIG.enabled
            and kind == "workgroup"
            and name in self.athena_backend.work_groups
            and not self.athena_backend.list_tags_for_resource(arn)
        ):
            return json.dumps({"Tags": []})
        return original_tags(self)

    AthenaResponse.get_work_group = get_work_group
    AthenaResponse.list_tags_for_resource = list_tags_for_resource


# --------------------------------------------------------------------------- the server side


def control(environ, start_response) -> list[bytes]:
    """``GET``/``POST /moto-api/tutorial/limits``: read or change the switch and the DB instance quota."""
    if environ.get("REQUEST_METHOD") == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        wanted = json.loads(environ["wsgi.input"].read(length) or b"{}")
        configure(wanted.get("enabled"), wanted.get("rds_instance_quota"))
    body = json.dumps(asdict(CONFIG)).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def install(enabled: bool = True, rds_instance_quota: int = RDS_DB_INSTANCES) -> None:
    """Patch moto's models (once per process) and set the switch and the quota."""
    global _INSTALLED
    with _LOCK:
        if not _INSTALLED:
            _patch_iam()
            _patch_sts()
            _patch_ec2()
            _patch_rds()
            _patch_s3()
            _patch_athena()
            _INSTALLED = True
    configure(enabled, rds_instance_quota)
