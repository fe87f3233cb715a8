"""IAM as AWS applies it, for the calls this series makes: a rehearsal of a workshop's permissions.

moto can enforce IAM (after ``INITIAL_NO_AUTH_ACTION_COUNT`` requests), but only in part: it
checks the signature and the action, resources for S3 alone (every other service is authorised
against ``*``), treats a condition it cannot evaluate as an explicit deny, and names some S3
actions differently from IAM (``PutPublicAccessBlock`` for ``s3:PutBucketPublicAccessBlock``).
A least-privilege policy therefore fails there for reasons AWS would not have.

This module replaces moto's decision (not its signature check) with one that follows the IAM
policy evaluation logic (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html)
for the actions the series uses: each request is turned into the (action, resource ARN,
condition keys) triples AWS's Service Authorization Reference lists for it, including the
resources an action needs beyond its own (CreateSecurityGroup: the VPC too; CreateDBInstance
with a managed password: the secret RDS creates and its KMS key); every triple must be allowed
by some statement and denied by none. Conditions support the operators and keys the series'
policies use: StringEquals and StringLike on ``aws:RequestTag/*``, ``aws:ResourceTag/*``,
``secretsmanager:ResourceTag/*``, ``ec2:CreateAction`` and ``iam:AWSServiceName``.

The policies a user holds are the user's inline and attached ones and those of every group the
user is in (moto's ``collect_policies`` returns all four: a group's managed policy comes as
moto's ManagedPolicy object, read through its default version). Policy variables such as
``${aws:PrincipalTag/participant}`` are replaced by the caller's values (an IAM user's tags, its
name), as AWS does; a variable with no value makes its Resource entry or condition value match
nothing, so the statement does not apply
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).

Lesson 06's Glue and Athena calls are authorised as their documents say. A Glue Data Catalog call
needs its action on the catalog and on every resource above the one it names: a table's database,
and for a DROP (DeleteDatabase) every table and user-defined function below it
(https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html, ARNs as in
https://docs.aws.amazon.com/glue/latest/dg/glue-specifying-resource-arns.html); tagging a database
also needs glue:GetDatabase on it (https://docs.aws.amazon.com/glue/latest/dg/aws-glue-api-tags.html).
An Athena call is authorised on the workgroup it runs in (``primary`` when none is named), a query's
calls on the workgroup of that query
(https://docs.aws.amazon.com/athena/latest/ug/example-policies-workgroup.html); StartQueryExecution also
needs, as the caller, the Glue database it names and S3 write access to its output location, which
Athena uses with the caller's credentials (the query-results statement of AmazonAthenaFullAccess,
https://docs.aws.amazon.com/athena/latest/ug/managed-policies.html), and GetQueryResults S3 read
access to the result file. What a query reads is checked as it runs (helpers/local/athena_engine.py,
through :func:`caller_check`): glue:GetTable (and glue:GetPartitions for a partitioned table) on each
table it names, s3:ListBucket and s3:GetObject on the table's location, all as the caller, as
https://docs.aws.amazon.com/athena/latest/ug/access.html says; a refusal fails the query.

Off unless the emulator starts with ``TUTORIAL_AWS_IAM=enforce``, or is switched at run time
through ``POST /moto-api/tutorial/iam`` ``{"enforce": true}``: the instructor's rehearsal
(tests/test_workshop_rehearsal.py) creates the participants with enforcement off, then turns it on.
"""

from __future__ import annotations

import fnmatch
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

CONTROL_PATH = "/moto-api/tutorial/iam"
STATE = {"enforce": False}

# moto's names for S3 operations -> IAM's (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html)
S3_ACTIONS = {
    "HeadBucket": "ListBucket",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
}

Context = tuple[str, str, dict[str, str]]  # (service:Action, resource ARN or "*", condition key -> value)


def enforce(on: bool) -> None:
    """Switch enforcement: moto authenticates every request from now on, and we authorise it."""
    from moto import settings as moto_settings

    STATE["enforce"] = on
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0 if on else float("inf")


# --------------------------------------------------------------------------- policy evaluation


def _statements(policy: Any) -> list[dict]:
    """A policy's statements, whatever shape moto hands it in (managed, inline, text or dict)."""
    if hasattr(policy, "versions"):
        policy = next(v.document for v in policy.versions if v.is_default)
    elif isinstance(policy, dict) and "policy_document" in policy:
        policy = policy["policy_document"]
    if isinstance(policy, str):
        policy = json.loads(policy)
    statements = policy.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _listed(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _matches(patterns: Any, value: str, case_sensitive: bool = True) -> bool:
    for pattern in _listed(patterns):
        if pattern is None:
            continue  # a policy variable without a value: matches nothing
        if case_sensitive and fnmatch.fnmatchcase(value, pattern):
            return True
        if not case_sensitive and fnmatch.fnmatchcase(value.lower(), pattern.lower()):
            return True
    return False


# ${aws:PrincipalTag/participant}, ${aws:username, 'default'}, and the literal ${*} ${?} ${$}
_VARIABLE = re.compile(r"\$\{([^},']+?)(?:\s*,\s*'([^']*)')?\}")
_LITERALS = {"*": "*", "?": "?", "$": "$"}


def _lookup(values: dict[str, str], key: str) -> str | None:
    """A condition key's value; keys are case-insensitive in IAM."""
    return next((v for k, v in values.items() if k.lower() == key.lower()), None)


def _substitute(pattern: str, values: dict[str, str], wildcards: bool) -> str | None:
    """``pattern`` with its policy variables replaced by the request's values, or None when one has
    no value and no default (AWS: the element then matches nothing). With ``wildcards`` the result
    is an fnmatch pattern, so a substituted value and ``${*}`` match only themselves.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html"""
    missing = False

    def one(match: re.Match) -> str:
        nonlocal missing
        name, default = match.group(1).strip(), match.group(2)
        value = _LITERALS.get(name) or _lookup(values, name)
        if value is None:
            value = default
        if value is None:
            missing = True
            return ""
        return "".join(f"[{c}]" if c in "*?[" else c for c in value) if wildcards else value

    result = _VARIABLE.sub(one, pattern)
    return None if missing else result


def _resolved(patterns: Any, values: dict[str, str], wildcards: bool) -> list[str | None]:
    return [_substitute(p, values, wildcards) if isinstance(p, str) else p for p in _listed(patterns)]


def _conditions_hold(condition: dict | None, values: dict[str, str]) -> bool:
    """Every operator and key must hold; a key the request does not have makes it false."""
    for operator, tests in (condition or {}).items():
        for key, expected in tests.items():
            actual = _lookup(values, key)
            if actual is None:
                return False
            if operator == "StringEquals" and actual not in _resolved(expected, values, wildcards=False):
                return False
            if operator == "StringLike" and not _matches(_resolved(expected, values, wildcards=True), actual):
                return False
            if operator not in {"StringEquals", "StringLike"}:
                return False  # an operator this rehearsal does not know never grants
    return True


def decide(policies: list[Any], action: str, resource: str, values: dict[str, str]) -> str:
    """ "allow", "deny" (explicit) or "implicit-deny" for one (action, resource, conditions).

    ``values`` holds the request's condition keys and the caller's (``aws:PrincipalTag/*``,
    ``aws:username``), which also fill the policies' variables."""
    allowed = False
    for policy in policies:
        for statement in _statements(policy):
            if "Action" in statement and not _matches(statement["Action"], action, case_sensitive=False):
                continue
            if "NotAction" in statement and _matches(statement["NotAction"], action, case_sensitive=False):
                continue
            if "Resource" in statement and not _matches(
                _resolved(statement["Resource"], values, wildcards=True), resource
            ):
                continue
            if not _conditions_hold(statement.get("Condition"), values):
                continue
            if statement.get("Effect") == "Deny":
                return "deny"
            allowed = True
    return "allow" if allowed else "implicit-deny"


# --------------------------------------------------------------------------- requests -> contexts


def _params(request) -> dict[str, Any]:
    body = request._body or b""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if body.strip().startswith("{"):
        try:
            return json.loads(body)
        except ValueError:
            return {}
    flat = {k: v[0] for k, v in parse_qs(body).items()}
    flat.update({k: (v[0] if isinstance(v, list) else v) for k, v in (request._data or {}).items()})
    return flat


def _query_tags(params: dict[str, Any], prefix: str) -> dict[str, str]:
    """Tags given in a query-protocol request, e.g. TagSpecification.1.Tag.1.Key/Value."""
    tags = {}
    for key, value in params.items():
        if key.startswith(prefix) and key.endswith(".Key"):
            tags[value] = params.get(key[: -len("Key")] + "Value", "")
    return tags


def _s3(request, resource: str) -> list[Context]:
    action = request._action.split(":", 1)[1]
    query = parse_qs(urlsplit(request._path).query, keep_blank_values=True)
    if "encryption" in query:
        action = "PutEncryptionConfiguration" if request._method == "PUT" else "GetEncryptionConfiguration"
    if request._method == "POST" and "delete" in query:
        action = "DeleteObject"  # DeleteObjects is authorised per object as s3:DeleteObject(Version)
    return [(f"s3:{S3_ACTIONS.get(action, action)}", resource, {})]


def _ec2_resource_tags(backend, resource_id: str) -> dict[str, str]:
    """``aws:ResourceTag/*`` of an EC2 resource as it is now (no resource, no keys)."""
    return {f"aws:ResourceTag/{k}": v for k, v in backend.tags.get(resource_id, {}).items()}


# An EC2 id's prefix -> its resource type in ARNs (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html)
EC2_ID_TYPES = {"sg": "security-group", "vpc": "vpc", "subnet": "subnet", "i": "instance", "vol": "volume"}


def _ec2_tagging(action: str, params: dict[str, Any], backend, arn) -> list[Context]:
    """A standalone CreateTags/DeleteTags: authorised once per resource, with that resource's
    current tags (aws:ResourceTag/*) and, for CreateTags, the tags asked for (aws:RequestTag/*);
    unlike the CreateTags that CreateSecurityGroup implies, no ``ec2:CreateAction``: a policy that
    allows tagging only "as part of CreateSecurityGroup" refuses it
    (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/supported-iam-actions-tagging.html)."""
    tags = _query_tags(params, "Tag.") if action.endswith(":CreateTags") else {}
    requested = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    found: list[Context] = []
    for key, resource_id in sorted(params.items()):
        if not key.startswith("ResourceId."):
            continue
        kind = EC2_ID_TYPES.get(str(resource_id).split("-", 1)[0], "unknown")
        values = {**_ec2_resource_tags(backend, resource_id), **requested}
        found.append((action, arn("ec2", f"{kind}/{resource_id}"), values))
    return found or [(action, arn("ec2", "*"), requested)]


def _principal_values(access_key: Any) -> dict[str, str]:
    """The caller's condition keys, which also fill policy variables: ``aws:PrincipalTag/*`` (an
    IAM user's or role's tags), ``aws:username`` for a user
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html)."""
    backend = access_key.backend
    user = getattr(access_key, "_owner_user_name", None)
    if user is not None:
        tags = backend.list_user_tags(user)
        found = {"aws:username": user, "aws:PrincipalType": "User"}
    else:
        tags, _ = backend.list_role_tags(access_key._owner_role_name, None)
        found = {"aws:PrincipalType": "AssumedRole"}
    found.update({f"aws:PrincipalTag/{t['Key']}": t["Value"] for t in tags})
    found["aws:PrincipalAccount"] = access_key.account_id
    return found


def _glue(action: str, params: dict[str, Any], arn) -> list[Context]:
    """A Glue Data Catalog call as the (action, ARN) pairs AWS authorises: the catalog, the database,
    the table (or all of a database's tables and functions for DeleteDatabase, all its tables for a
    listing of them); see the module docstring for the documents."""
    full = f"glue:{action}"
    catalog = arn("glue", "catalog")
    if action in {"GetTags", "TagResource", "UntagResource"}:
        target = str(params.get("ResourceArn", ""))
        found: list[Context] = [(full, target, {})]
        if ":database/" in target:  # tagging a database also needs GetDatabase on it
            found += [("glue:GetDatabase", catalog, {}), ("glue:GetDatabase", target, {})]
        return found
    if action == "GetDatabases":
        return [(full, catalog, {}), (full, arn("glue", "database/*"), {})]
    database = str(
        params.get("DatabaseName") or params.get("Name") or (params.get("DatabaseInput") or {}).get("Name", "")
    )
    if action.endswith("Database") and "DatabaseName" not in params:
        found = [(full, catalog, {}), (full, arn("glue", f"database/{database}"), {})]
        if action == "CreateDatabase" and params.get("Tags"):
            found.append(("glue:TagResource", arn("glue", f"database/{database}"), {}))
        if action == "DeleteDatabase":
            found += [(full, arn("glue", f"{kind}/{database}/*"), {}) for kind in ("table", "userDefinedFunction")]
        return found
    table = str(params.get("TableName") or params.get("Name") or (params.get("TableInput") or {}).get("Name", ""))
    if action == "GetTables":
        table = "*"
    return [
        (full, catalog, {}),
        (full, arn("glue", f"database/{database}"), {}),
        (full, arn("glue", f"table/{database}/{table}"), {}),
    ]


def _athena(request, action: str, params: dict[str, Any], arn) -> list[Context]:
    """An Athena call on its workgroup; StartQueryExecution with what Athena then does as the caller
    (the Glue database named, the output location written); GetQueryResults with the result file read."""
    from moto.athena.models import athena_backends

    full = f"athena:{action}"
    if action in {"ListWorkGroups", "ListDataCatalogs", "ListEngineVersions"}:
        return [(full, "*", {})]
    if action in {"TagResource", "UntagResource", "ListTagsForResource"}:
        return [(full, str(params.get("ResourceARN", "")), {})]
    if "QueryExecutionId" in params:
        backend = athena_backends[request.account_id][request._region]
        execution = backend.executions.get(str(params["QueryExecutionId"]))
        if execution is None:
            workgroup = "*"  # an unknown query: no workgroup's statement allows it
        else:
            workgroup = getattr(execution.workgroup, "name", None) or "primary"
    else:
        workgroup = str(params.get("Name") or params.get("WorkGroup") or "primary")
    found: list[Context] = [(full, arn("athena", f"workgroup/{workgroup}"), {})]
    if action == "GetQueryResults":
        # "the IAM principal with permission to call GetQueryResults also must have permissions to
        # the Amazon S3 GetObject action for the Athena query results location"
        # https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryResults.html
        from helpers.local import athena_engine

        location = athena_engine.result_location(request.account_id, str(params.get("QueryExecutionId", "")))
        if location and location.startswith("s3://"):
            bucket, _, key = location[len("s3://") :].partition("/")
            found.append(("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", {}))
    if action == "CreateWorkGroup" and params.get("Tags"):
        found.append(("athena:TagResource", arn("athena", f"workgroup/{workgroup}"), {}))
    if action == "StartQueryExecution":
        database = (params.get("QueryExecutionContext") or {}).get("Database")
        if database:
            found += [("glue:GetDatabase", arn("glue", rest), {}) for rest in ("catalog", f"database/{database}")]
        output = (params.get("ResultConfiguration") or {}).get("OutputLocation", "")
        if not output:  # the workgroup's own output location
            group = athena_backends[request.account_id][request._region].work_groups.get(workgroup)
            configuration = getattr(group, "configuration", None) or {}
            output = (configuration.get("ResultConfiguration") or {}).get("OutputLocation", "")
        if output.startswith("s3://"):
            bucket, _, key = output[len("s3://") :].partition("/")
            found += [
                ("s3:GetBucketLocation", f"arn:aws:s3:::{bucket}", {}),
                ("s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", {}),
            ]
    return found


def contexts(request, resource: str) -> list[Context]:
    """What AWS would authorise for this request."""
    from moto.ec2.models import ec2_backends
    from moto.secretsmanager.models import secretsmanager_backends

    service, action = request._action.split(":", 1)
    region, account = request._region, request.account_id

    def arn(svc: str, rest: str, with_region: bool = True) -> str:
        return f"arn:aws:{svc}:{region if with_region else ''}:{account}:{rest}"

    if service == "s3":
        return _s3(request, resource)
    params = _params(request)
    if service == "dynamodb":
        if action == "ListTables":
            return [(request._action, "*", {})]
        tables = list(params.get("RequestItems", {})) if action == "BatchWriteItem" else []
        name = params.get("TableName") or str(params.get("ResourceArn", "")).rsplit("/", 1)[-1]
        return [(request._action, arn("dynamodb", f"table/{t}"), {}) for t in (tables or [name])]
    if service == "rds":
        ident = params.get("DBInstanceIdentifier") or str(params.get("ResourceName", "")).rsplit(":", 1)[-1]
        if action == "DescribeDBInstances":
            return [(request._action, arn("rds", f"db:{ident}") if ident else "*", {})]
        found: list[Context] = [(request._action, arn("rds", f"db:{ident}"), {})]
        if action == "CreateDBInstance":
            found += [(request._action, arn("rds", f"{kind}:default"), {}) for kind in ("og", "pg", "subgrp")]
            if str(params.get("ManageMasterUserPassword", "")).lower() == "true":
                secret = arn("secretsmanager", "secret:rds!db-new")
                found += [("secretsmanager:CreateSecret", secret, {}), ("secretsmanager:TagResource", secret, {})]
                found += [("kms:DescribeKey", arn("kms", "key/aws-secretsmanager"), {})]
        return found
    if service == "ec2":
        if action.startswith("Describe"):
            return [(request._action, "*", {})]
        backend = ec2_backends[account][region]
        if action == "CreateSecurityGroup":
            tags = _query_tags(params, "TagSpecification")
            values = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
            group = arn("ec2", "security-group/*")
            found = [(request._action, arn("ec2", f"vpc/{params.get('VpcId', '*')}"), {})]
            found.append((request._action, group, values))
            if tags:
                found.append(("ec2:CreateTags", group, {**values, "ec2:CreateAction": "CreateSecurityGroup"}))
            return found
        if action in {"CreateTags", "DeleteTags"}:
            return _ec2_tagging(request._action, params, backend, arn)
        group_id = params.get("GroupId", "")
        return [
            (request._action, arn("ec2", f"security-group/{group_id or '*'}"), _ec2_resource_tags(backend, group_id))
        ]
    if service == "secretsmanager":
        if action == "ListSecrets":
            return [(request._action, "*", {})]
        backend = secretsmanager_backends[account][region]
        secret_id = params.get("SecretId", "")
        secret = backend.secrets.get(secret_id) if secret_id and backend._is_valid_identifier(secret_id) else None
        target = (
            secret.arn if secret else (secret_id if secret_id.startswith("arn:") else arn("secretsmanager", "secret:*"))
        )
        tags = {t["Key"]: t["Value"] for t in (secret.tags or [])} if secret else {}
        values = {f"{p}:ResourceTag/{k}": v for k, v in tags.items() for p in ("aws", "secretsmanager")}
        return [(request._action, target, values)]
    if service == "glue":
        return _glue(action, params, arn)
    if service == "athena":
        return _athena(request, action, params, arn)
    if service == "iam" and action == "CreateServiceLinkedRole":
        return [
            (
                request._action,
                arn("iam", "role/aws-service-role/*", False),
                {"iam:AWSServiceName": params.get("AWSServiceName", "")},
            )
        ]
    return [(request._action, resource, {})]


def caller_check(account_id: str, headers: Any):
    """For a request made while enforcement is on: ``check(action, resource)``, which answers None
    when the request's caller may do ``action`` on ``resource`` and otherwise AWS's sentence saying
    who may not do what; None when enforcement is off or the request is not signed with a key.

    For work a service does later with the caller's rights (an Athena query reading its tables).
    """
    if not STATE["enforce"]:
        return None
    found = re.search(r"Credential=([^/,\s]+)/", str(headers.get("Authorization", "") or ""))
    if not found:
        return None
    from moto.iam import access_control

    try:
        key = access_control.create_access_key(account_id, "aws", found.group(1), dict(headers))
    except access_control.CreateAccessKeyFailure:
        return None
    policies, values, arn = key.collect_policies(), _principal_values(key), key.arn

    def check(action: str, resource: str) -> str | None:
        if decide(policies, action, resource, values) == "allow":
            return None
        return f"User: {arn} is not authorized to perform: {action} on resource: {resource}"

    return check


# --------------------------------------------------------------------------- installing


def install(enforced: bool = False) -> None:
    """Replace moto's authorisation decision (signatures stay moto's); switch enforcement."""
    from moto.iam import access_control

    original = access_control.IAMRequestBase.check_action_permitted

    def check_action_permitted(self, resource: str) -> None:
        if not STATE["enforce"]:
            return original(self, resource)
        if self._action == "sts:GetCallerIdentity":
            return None  # AWS allows it to everyone, whatever the policies say
        policies = self._access_key.collect_policies()
        principal = _principal_values(self._access_key)
        for action, target, values in contexts(self, resource):
            if decide(policies, action, target, {**principal, **values}) != "allow":
                self._action = action  # the error names the action that was refused
                self._raise_access_denied()
        return None

    from moto.core.authorization import ActionAuthenticatorMixin

    original_authenticate = ActionAuthenticatorMixin._authenticate_and_authorize_action

    def authenticate(self, iam_request_cls: type, resource: str = "*") -> None:
        # A presigned link carries its key in the query string, not an Authorization header, which
        # moto's check requires. Authorise it by its signer's policies, as S3 does; its expiry is
        # checked by aws_lifecycle, and its signature is not checked here.
        query = getattr(self, "querystring", {}) or {}
        signer = (query.get("X-Amz-Credential") or query.get("AWSAccessKeyId") or [""])[0].split("/")[0]
        if not (STATE["enforce"] and signer and "Authorization" not in self.headers):
            return original_authenticate(self, iam_request_cls, resource)
        from moto.s3.exceptions import S3AccessDeniedError

        try:
            key = access_control.IAMUserAccessKey(
                account_id=self.current_account, partition="aws", access_key_id=signer, headers={}
            )
        except access_control.CreateAccessKeyFailure as exc:
            raise S3AccessDeniedError() from exc
        action = self._get_action() if hasattr(self, "_get_action") else ""
        action = f"s3:{S3_ACTIONS.get(action, action)}"
        if decide(key.collect_policies(), action, resource, _principal_values(key)) != "allow":
            raise S3AccessDeniedError()
        return None

    if not getattr(access_control.IAMRequestBase.check_action_permitted, "tutorial", False):
        check_action_permitted.tutorial = True  # type: ignore[attr-defined]
        access_control.IAMRequestBase.check_action_permitted = check_action_permitted
        ActionAuthenticatorMixin._authenticate_and_authorize_action = authenticate
    enforce(enforced)


def control(environ, start_response) -> list[bytes]:
    """``GET``/``POST /moto-api/tutorial/iam``: read or switch enforcement on a running emulator."""
    if environ.get("REQUEST_METHOD") == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        wanted = json.loads(environ["wsgi.input"].read(length) or b"{}")
        enforce(bool(wanted.get("enforce")))
    body = json.dumps(STATE).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
