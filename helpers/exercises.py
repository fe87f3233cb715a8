"""Self-checks for the lessons' "Your turn" exercises.

Each lesson has a few short exercises: a "Your turn" cell where the learner writes code, and
right after it a self-check cell that calls one function of this module. A check looks at the
*result* on the backend (the keys in the bucket, the rule in the security group, the item in the
table), never at the learner's code, so any correct answer passes, on the local backend and on AWS
alike. It answers in plain words::

    Right: code/ holds exactly the .py files: clean.py, utils/io.py.

or::

    Not yet.
      right: code/ holds clean.py, utils/io.py
      wrong: code/ also holds notes.txt, which is not a .py file
    Hint: filters apply in order: --exclude "*" drops everything, then --include "*.py" ...

and never raises at the learner: a check that cannot finish (a name the exercise should define is
missing, the learner's function fails, the backend does not answer) says so as a "Not yet" with
its hint. The output is deterministic (sorted names, no dates), so the notebooks' committed
outputs of the check cells are compared by nbval like any other cell.

Checks read what the exercise cell defined (``put_url``, ``older_than``, ``my_tables``) from the
notebook's namespace, so a learner who skipped that cell gets a sentence, not a ``NameError``.
"""

from __future__ import annotations

import functools
import ipaddress
import numbers
import os
import sys
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "Verdict",
    "check_colleague_rule",
    "check_env_file_loaded",
    "check_exact_decimals",
    "check_one_partition_query",
    "check_older_than",
    "check_presigned_upload",
    "check_python_upload",
    "check_tables_found_by_tags",
    "check_update_only_existing",
]

RIGHT = "Right"
NOT_YET = "Not yet"


class Missing(Exception):
    """A name the exercise cell should have defined is not there (or is still a placeholder)."""


class Verdict:
    """Collects what is right and what is wrong, then prints one plain-words answer."""

    def __init__(self) -> None:
        self.right: list[str] = []
        self.wrong: list[str] = []
        self.notes: list[str] = []  # what the check met and set aside, said either way

    def expect(self, condition: bool, right: str, wrong: str) -> bool:
        (self.right if condition else self.wrong).append(right if condition else wrong)
        return condition

    def fail(self, wrong: str) -> None:
        self.wrong.append(wrong)

    @property
    def ok(self) -> bool:
        return not self.wrong

    def text(self, success: str, hint: str) -> str:
        notes = [f"  note: {line}" for line in self.notes]
        if self.ok:
            return "\n".join([f"{RIGHT}: {success}", *notes])
        lines = [f"{NOT_YET}."]
        lines += [f"  right: {line}" for line in self.right]
        lines += [f"  wrong: {line}" for line in self.wrong]
        lines += notes
        lines.append(f"Hint: {hint}")
        return "\n".join(lines)


def _say(text: str) -> None:
    print(text)


def self_check(hint: str) -> Callable:
    """Decorator: the check gets the caller's namespace as ``ns`` (tests may pass ``ns=`` instead);
    whatever goes wrong inside it becomes a "Not yet" with ``hint``, never a traceback. The check
    returns (verdict, what to say when it is right)."""

    def wrap(check: Callable[..., tuple[Verdict, str]]) -> Callable[..., None]:
        @functools.wraps(check)
        def run(*args: Any, **kwargs: Any) -> None:
            ns = kwargs.pop("ns", None)
            if ns is None:
                ns = sys._getframe(1).f_globals  # the notebook's namespace: the cell that called us
            try:
                verdict, success = check(*args, ns=ns, **kwargs)
            except Missing as exc:
                _say(f"{NOT_YET}.\n  wrong: {exc}\nHint: {hint}")
                return
            except Exception as exc:  # noqa: BLE001 - the learner gets a sentence, not a traceback
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                _say(f"{NOT_YET}.\n  wrong: the check could not finish: {type(exc).__name__}: {first}\nHint: {hint}")
                return
            _say(verdict.text(success, hint))

        return run

    return wrap


def _need(ns: dict, name: str, what: str) -> Any:
    value = ns.get(name)
    if value is None:
        raise Missing(f"`{name}` is not set yet: {what}")
    return value


def _names(items: Iterable[str]) -> str:
    items = sorted(items)
    return ", ".join(items) if items else "nothing"


# -- lesson 00 ---------------------------------------------------------------------------------


@self_check(
    "run the exercise cell, then load the file: load_dotenv(exercise_env) copies its variables into "
    "os.environ and leaves alone the ones already set (override=False is the default). Never type a "
    "value from the file into the notebook: the file is where it lives."
)
def check_env_file_loaded(*, ns: dict) -> tuple[Verdict, str]:
    """The file's new variables are in os.environ with the file's values, and the ones exported
    before (``exported``) kept theirs. ``exercise_env`` and ``exported`` come from the exercise cell.

    The file's values are never printed: the exercise's file holds a token, as a real .env would.
    """
    from dotenv import dotenv_values

    path = Path(_need(ns, "exercise_env", "run the exercise cell, which writes the .env file"))
    exported: dict[str, str] = _need(ns, "exported", "run the exercise cell, which exports the region")
    verdict = Verdict()
    in_file = dotenv_values(path)
    for name, value in sorted(in_file.items()):
        now = os.environ.get(name)
        if name in exported:
            verdict.expect(
                now == exported[name],
                f"{name} is still {exported[name]}, the value exported before",
                f"{name} is {now!r}: the file overrode the value exported before ({exported[name]}); "
                "override=True does that"
                if now == value
                else f"{name} is {now!r}, not {exported[name]!r}, the value exported before",
            )
        elif now is None:
            verdict.fail(f"{name} is not set: the file was not loaded into os.environ")
        else:
            verdict.expect(
                now == value,
                f"{name} came from the file",
                f"{name} is set, but not to the file's value: it was typed in the notebook, not loaded from the file",
            )
    return verdict, "the file filled in what was missing, and the environment won where both had a value."


# -- lesson 01 ---------------------------------------------------------------------------------


def _keys_under(bucket: str, prefix: str = "") -> set[str]:
    """Every key of ``bucket`` that starts with ``prefix`` (all pages)."""
    import boto3

    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", [])}


@self_check(
    'filters apply in order and the last match wins: --exclude "*" first drops everything, then '
    '--include "*.py" brings back the Python files (in subfolders too, with --recursive).'
)
def check_python_upload(bucket: str, prefix: str, *, ns: dict) -> tuple[Verdict, str]:
    """Under ``prefix`` the bucket holds exactly the .py files of ``project`` (same relative paths).

    ``project`` (the folder) comes from the exercise cell, so a skipped cell is a "Not yet".
    """
    root = Path(_need(ns, "project", "run the exercise cell, which writes the project folder"))
    wanted = {p.relative_to(root).as_posix() for p in root.rglob("*.py") if p.is_file()}
    found = {key[len(prefix) :] for key in _keys_under(bucket, prefix)}
    verdict = Verdict()
    if not found:
        # Where did they go? The same relative paths under another prefix name the mistake.
        elsewhere = {
            key[: -len(rel)] or "the top of the bucket"
            for key in _keys_under(bucket)
            for rel in wanted
            if key.endswith(rel) and (len(key) == len(rel) or key[-len(rel) - 1] == "/")
        }
        if elsewhere:
            verdict.fail(f"the .py files went under {_names(elsewhere)}, not under {prefix}")
        else:
            verdict.fail(
                f"there is nothing under s3://{bucket}/{prefix}: if you ran aws s3 cp with both filters, "
                'their order matters: --include "*.py" then --exclude "*" excludes everything'
            )
        return verdict, ""
    verdict.expect(
        wanted <= found,
        f"{prefix} holds {_names(wanted)}",
        f"{prefix} lacks {_names(wanted - found)}",
    )
    extra = found - wanted
    if extra:
        verdict.fail(
            f"{prefix} also holds {_names(extra)}, not .py files of {root.name}/: the filters let them through"
        )
    return verdict, f"{prefix} holds exactly the .py files: {_names(wanted)}."


def _presigned_methods(url: str) -> tuple[list[str], str]:
    """The HTTP methods whose SigV4 query signature, computed with this kernel's credentials,
    equals the one in ``url``; and, when that cannot be known, why.

    A presigned URL does not say which request it allows: the method is inside the signature
    (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html). Re-signing the
    same URL for each method with the same key, date and expiry shows which one it was made for.
    """
    import boto3
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest

    parts = urlsplit(url)
    query = {name: values[0] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
    scope = query.get("X-Amz-Credential", "").split("/")
    if len(scope) != 5 or query.get("X-Amz-SignedHeaders", "host") != "host":
        return [], "its signature covers more than the host, so the method it allows was not checked"
    credentials = boto3.Session().get_credentials()
    if credentials is None or credentials.get_frozen_credentials().access_key != scope[0]:
        return [], "it was signed with another access key, so the method it allows was not checked"
    unsigned = "&".join(pair for pair in parts.query.split("&") if not pair.startswith("X-Amz-Signature="))
    auth = S3SigV4QueryAuth(credentials, scope[3], scope[2], expires=int(query.get("X-Amz-Expires", "0")))
    methods = []
    for method in ("PUT", "GET", "HEAD", "DELETE", "POST"):
        request = AWSRequest(method=method, url=parts._replace(query=unsigned).geturl())
        request.context["timestamp"] = query.get("X-Amz-Date", "")
        canonical = auth.canonical_request(request)
        if auth.signature(auth.string_to_sign(request, canonical), request) == query.get("X-Amz-Signature"):
            methods.append(method)
    return methods, ""


def _points_at(url: str, bucket: str, key: str) -> bool:
    """``url`` names ``key`` in ``bucket``, path-style (host/bucket/key) or virtual-hosted (bucket.host/key)."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    return path == f"/{bucket}/{key}" or ((parts.hostname or "").startswith(bucket + ".") and path == f"/{key}")


@self_check(
    'sign the link for "put_object" (not "get_object"), with Params={"Bucket": BUCKET, "Key": upload_key}, '
    "then send the bytes through the link itself, with urllib and no credentials: "
    'urlopen(Request(put_url, data=message.encode(), method="PUT", headers={"Content-Type": "text/plain"})).'
)
def check_presigned_upload(bucket: str, *, ns: dict) -> tuple[Verdict, str]:
    """``put_url`` is a presigned PUT link for ``upload_key`` in ``bucket``, and the object holds ``message``.

    ``upload_key``, ``message`` and ``put_url`` come from the exercise cell.
    """
    from botocore.exceptions import ClientError

    key = _need(ns, "upload_key", "run the exercise cell, which names the key")
    text = _need(ns, "message", "run the exercise cell, which holds the message")
    url = _need(ns, "put_url", "sign a link for put_object and store it in put_url")
    verdict = Verdict()
    query = parse_qs(urlsplit(str(url)).query)
    if not verdict.expect(
        "X-Amz-Signature" in query,
        "put_url is a presigned link (it carries X-Amz-Signature)",
        "put_url carries no X-Amz-Signature: it is not a presigned link (sign it with generate_presigned_url)",
    ):
        return verdict, ""
    verdict.expect(
        _points_at(url, bucket, key),
        f"the link points at {key}",
        f"the link points at {unquote(urlsplit(url).path)!r}, not at {key} in {bucket}",
    )
    methods, unknown = _presigned_methods(url)
    if unknown:
        verdict.notes.append(f"put_url: {unknown}")
    else:
        verdict.expect(
            methods == ["PUT"],
            "the link is signed for PUT (an upload)",
            f"the link is signed for {'/'.join(methods) or 'no method this check knows'}, not PUT: "
            'sign it for "put_object"; a link signed for "get_object" only downloads',
        )
    import boto3

    try:
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode(errors="replace")
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
            raise
        verdict.fail(f"there is no object {key} in the bucket: nothing was sent through the link yet")
    else:
        verdict.expect(body == text, f"{key} holds the message", f"{key} holds {body!r}, not the message")
    return verdict, f"{key} arrived through a link signed for PUT, sent without any AWS credentials."


# -- lesson 02 ---------------------------------------------------------------------------------


@self_check(
    'one rule: IpProtocol "tcp", FromPort and ToPort both 5432 (one port), and '
    'IpRanges=[{"CidrIp": f"{COLLEAGUE}/32"}] (one address), with no Ipv6Ranges. A rule added by '
    "mistake stays in the group: remove it with ec2.revoke_security_group_ingress(GroupId=sg_id, "
    "IpPermissions=[the same rule]). Catch InvalidPermission.Duplicate, so that the cell runs twice."
)
def check_colleague_rule(*, ns: dict) -> tuple[Verdict, str]:
    """Port 5432, and only it, is open to ``COLLEAGUE``/32, and nothing wider admits anyone.

    Reads ``sg_id`` and ``COLLEAGUE`` from the notebook, so a skipped exercise cell is a "Not yet".
    A rule concerns the colleague when its range holds their address; a rule for the whole IPv4
    internet, or any IPv6 range, is wrong whatever it is for: the lesson opens the port to single
    IPv4 addresses only. Ports and protocols as EC2 reports them
    (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpPermission.html): "-1" is every
    protocol and port, and a tcp rule opens FromPort to ToPort.
    """
    import boto3

    group_id = _need(ns, "sg_id", "run the cell that creates the security group")
    address = _need(ns, "COLLEAGUE", "run the exercise cell, which defines it")
    group = boto3.client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    who = ipaddress.ip_address(address)
    exact, wrong = False, []
    for rule in group.get("IpPermissions", []):
        protocol = _PROTOCOLS.get(str(rule.get("IpProtocol")), str(rule.get("IpProtocol")))
        ports = _ports(protocol, rule)
        one_port = protocol == "tcp" and rule.get("FromPort") == 5432 == rule.get("ToPort")
        for ip_range in rule.get("IpRanges", []):
            network = ipaddress.ip_network(ip_range["CidrIp"], strict=False)
            if network.prefixlen == 0:
                wrong.append(f"{network} (the whole internet) may reach {ports}")
            elif who not in network:
                continue  # another address's rule, such as the lesson's own /32
            elif network.prefixlen < 32:
                wrong.append(f"{network} ({network.num_addresses} addresses) may reach {ports}: wider than one address")
            elif not one_port:
                wrong.append(f"{address}/32 may reach {ports}, not only tcp port 5432")
            else:
                exact = True
        for ip_range in rule.get("Ipv6Ranges", []):
            network = ipaddress.ip_network(ip_range["CidrIpv6"], strict=False)
            everyone = "every IPv6 address" if network.prefixlen == 0 else f"{network.num_addresses} IPv6 addresses"
            wrong.append(f"IPv6 {network} ({everyone}) may reach {ports}: your colleague has one IPv4 address")
    verdict = Verdict()
    verdict.expect(exact, f"{address}/32 may reach port 5432", f"no rule lets {address}/32 reach tcp port 5432 yet")
    for line in sorted(wrong):
        verdict.fail(line)
    return verdict, f"{address}/32 may reach port 5432, and no wider range is open."


_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp"}  # EC2 accepts protocol numbers as well as names


def _ports(protocol: str, rule: dict) -> str:
    """What a rule opens, in words: "tcp port 5432", "tcp ports 0-65535", "every port and protocol"."""
    if protocol == "-1":
        return "every port and protocol"
    low, high = rule.get("FromPort"), rule.get("ToPort")
    if low is None or low == -1:
        return f"every {protocol} port"
    return f"{protocol} port {low}" if low == high else f"{protocol} ports {low}-{high}"


# How a hostile "age" could end up as SQL: pasted bare (f"age > {age}") or between quotes
# (f"age > '{age}'"). Sent as a parameter, each is one text value that is not an integer, and
# PostgreSQL refuses it; pasted in, one of them turns the WHERE clause into "true for everyone".
HOSTILE_AGES = ("0 OR 1=1", "0' OR '1'='1")


class _SentQueries:
    """Records what the learner's code sends through ``conn``: (SQL text, parameters) per execute.

    It sets the connection's ``cursor_factory`` (every ``conn.cursor()`` then makes a recording
    cursor, pandas' included) and puts the old one back on exit.
    https://www.psycopg.org/docs/connection.html#connection.cursor_factory
    """

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.sent: list[tuple[str, Any]] = []

    def __enter__(self) -> _SentQueries:
        import psycopg2.extensions

        self.before = self.conn.cursor_factory
        base = self.before or psycopg2.extensions.cursor
        sent, conn = self.sent, self.conn

        class Recording(base):  # type: ignore[misc, valid-type]
            def execute(self, query: Any, vars: Any = None) -> Any:  # noqa: A002 - psycopg2's name
                sent.append((_sql_text(query, conn), vars))
                return super().execute(query, vars)

        self.conn.cursor_factory = Recording
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.cursor_factory = self.before

    def parameters(self) -> list[str]:
        """Every parameter value sent, as text."""
        values: list[str] = []
        for _, params in self.sent:
            if isinstance(params, dict):
                values += [str(v) for v in params.values()]
            elif params is not None:
                values += [str(v) for v in params]
        return values


def _sql_text(query: Any, conn: Any) -> str:
    """The SQL text of a query as psycopg2 takes it (str, bytes or psycopg2.sql), on one line."""
    if hasattr(query, "as_string"):
        query = query.as_string(conn)
    if isinstance(query, bytes):
        query = query.decode(errors="replace")
    return " ".join(str(query).split())


@self_check(
    '"older than" is age > %s (not >=); put %s in the SQL where the age goes and pass the value '
    'separately: read_sql("SELECT name, age FROM people WHERE age > %s ORDER BY name", (age,)). '
    "Never paste the age into the SQL text with an f-string, format or +, even between quotes."
)
def check_older_than(*, ns: dict) -> tuple[Verdict, str]:
    """``older_than(age)`` returns the right people, the age travels as a parameter, and a hostile
    "age" never becomes SQL.

    The ages tried are ages someone in the table has, so "age >= %s" shows (it keeps that
    person). Then each of HOSTILE_AGES: refused by PostgreSQL (a parameter that is no integer) or
    by the learner's own check before any query (``int(age)`` raising ValueError) is right;
    returning everyone, or SQL text that holds the hostile words, is string formatting.
    """
    import pandas as pd
    import psycopg2

    older_than = _need(ns, "older_than", "run the exercise cell that defines it")
    conn = _need(ns, "conn", "run the cell that connects to the database")
    if conn.closed:
        raise Missing("`conn` is closed: re-run the cell that connects to the database")

    def names(sql: str, params: tuple = ()) -> list[str]:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return [row[0] for row in cur.fetchall()]

    verdict = Verdict()
    everyone = names("SELECT name FROM people ORDER BY name")
    ages = sorted({int(a) for a in names("SELECT DISTINCT age FROM people")})
    if not everyone:
        verdict.fail("the people table is empty: run lesson 01, then the loading cells above")
        return verdict, ""
    for age in sorted({ages[len(ages) // 2], ages[0]}, reverse=True):
        with _SentQueries(conn) as watched:
            try:
                result = older_than(age)
            except psycopg2.Error as exc:
                conn.rollback()  # keep the connection usable for the cells below
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                verdict.fail(f"older_than({age}) fails in PostgreSQL: {first}")
                return verdict, ""
        if not isinstance(result, pd.DataFrame) or "name" not in result.columns:
            verdict.fail(f"older_than({age}) returned {type(result).__name__}, not a DataFrame with a name column")
            return verdict, ""
        got, want = sorted(result["name"]), names("SELECT name FROM people WHERE age > %s ORDER BY name", (age,))
        exactly = names("SELECT name FROM people WHERE age = %s ORDER BY name", (age,))
        if got == want:
            verdict.right.append(f"older_than({age}) returns {_names(got)}")
        elif set(exactly) <= set(got) and set(got) - set(exactly) == set(want):
            verdict.fail(f"older_than({age}) also returns {_names(exactly)}, who is exactly {age}: that is >=, not >")
        else:
            verdict.fail(f"older_than({age}) returns {_names(got)}, expected {_names(want)}")
        if watched.sent and str(age) not in watched.parameters():
            sql = watched.sent[-1][0]
            verdict.fail(f"older_than({age}) wrote the age into the SQL text ({sql}), not as a %s parameter")
    for hostile in HOSTILE_AGES:
        with _SentQueries(conn) as watched:
            try:
                leaked = older_than(hostile)
            except psycopg2.Error:
                conn.rollback()  # the refused query aborted the transaction; the connection stays usable
                leaked = None
            except (ValueError, TypeError):
                leaked = None  # refused before any SQL: the learner's own check, e.g. int(age)
        as_sql = [sql for sql, _ in watched.sent if hostile in sql]
        returned_all = isinstance(leaked, pd.DataFrame) and "name" in leaked.columns and len(leaked) == len(everyone)
        if returned_all or as_sql:
            how = f"returns all {len(everyone)} people" if returned_all else "ends up inside the SQL text"
            verdict.fail(f"older_than({hostile!r}) {how}: string formatting made the text part of the SQL")
        elif hostile in watched.parameters():
            verdict.right.append(f"older_than({hostile!r}) travels as a parameter and stays one value")
        else:
            verdict.right.append(f"older_than({hostile!r}) is refused before it reaches the database")
    return verdict, "older_than gives the right people, and a value can never change the query."


# -- lesson 03 ---------------------------------------------------------------------------------

#: The house the lesson 03 exercise gives user 456.
HOUSE = "gryffindor"

#: Ids the lesson 03 check tries the learner's function with: 999 never exists, 998 exists until a
#: simulated other program deletes it between the function's read and its write.
MISSING_USER, VANISHING_USER = 999, 998


def _dynamodb_clients(ns: dict) -> list:
    """The DynamoDB clients the learner's code can reach: those in the notebook (a client, a
    resource, a Table) and, for any client made during the call, the default boto3 session."""
    import boto3
    from boto3.resources.base import ServiceResource
    from botocore.client import BaseClient

    found: dict[int, Any] = {}
    for value in list(ns.values()):
        client = value.meta.client if isinstance(value, ServiceResource) else value
        if isinstance(client, BaseClient) and client.meta.service_model.service_name == "dynamodb":
            found[id(client)] = client
    return [*found.values(), boto3._get_default_session()]


def _events(target: Any) -> Any:
    """The event system of a botocore client or of a boto3 session."""
    return target.meta.events if hasattr(target, "meta") else target.events


def _delete_before_write(table_name: str, user_id: int, ns: dict) -> tuple[Callable[[], int], Callable[[], None]]:
    """Make user ``user_id`` disappear right before any write of it by the learner's code.

    This is the race lesson 03 warns about: another program deletes the user after your
    get_item said it exists and before your update_item arrives. Without a condition the
    update recreates the user; with ``attribute_exists(id)`` DynamoDB checks and writes in one
    step and refuses (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html).
    Returns (how many writes were intercepted, undo).
    """
    import json

    import boto3

    other_program = boto3.session.Session().client("dynamodb")  # its own session: our hook never sees it
    hits: list[str] = []
    hook_id = f"tutorial-race-{id(hits)}"

    def delete_first(params: dict, model: Any, **_: Any) -> None:
        body = json.loads(params.get("body") or b"{}")
        if body.get("TableName") == table_name and body.get("Key", body.get("Item", {})).get("id") == {
            "N": str(user_id)
        }:
            hits.append(model.name)
            other_program.delete_item(TableName=table_name, Key={"id": {"N": str(user_id)}})

    targets = _dynamodb_clients(ns)
    for target in targets:
        for operation in ("UpdateItem", "PutItem"):
            _events(target).register(f"before-call.dynamodb.{operation}", delete_first, unique_id=hook_id)

    def undo() -> None:
        for target in targets:
            for operation in ("UpdateItem", "PutItem"):
                _events(target).unregister(f"before-call.dynamodb.{operation}", unique_id=hook_id)

    return (lambda: len(hits)), undo


def _quietly(function: Callable[..., Any], *args: Any) -> tuple[Any, BaseException | None]:
    """Call the learner's function without its prints (the check's output stays the same on every
    run); return (result, the exception it raised or None)."""
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        try:
            return function(*args), None
        except Exception as exc:  # noqa: BLE001 - what the learner's function raised is the answer
            return None, exc


def _error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return response.get("Error", {}).get("Code", type(exc).__name__)


@self_check(
    'in set_house, call update_item with ConditionExpression="attribute_exists(id)", so that DynamoDB checks '
    "that the user exists and writes in one step; catch ConditionalCheckFailedException and return False. "
    "A get_item before the update does not help: the user can vanish between the two calls."
)
def check_update_only_existing(table_name: str, *, ns: dict) -> tuple[Verdict, str]:
    """``set_house(user_id, house)`` updates an existing user, keeps its other attributes, and refuses
    a missing one, even one deleted between a read and the write.

    Looks at results only: the table after the learner's cell (456 has a house, there is no 999),
    then the learner's function run by the check on user 999 (missing) and on user 998 (deleted by
    "another program" right before the function's write reaches DynamoDB).
    """
    import boto3

    set_house = _need(ns, "set_house", "run the exercise cell that defines set_house(user_id, house)")
    if not callable(set_house):
        raise Missing("`set_house` is not a function: define it with def set_house(user_id, house):")
    users = boto3.session.Session().resource("dynamodb").Table(table_name)  # the check's own, hook-free

    def item(user_id: int) -> dict | None:
        return users.get_item(Key={"id": user_id}, ConsistentRead=True).get("Item")

    verdict = Verdict()
    fireball = item(456) or {}
    verdict.expect(
        fireball.get("house") == HOUSE,
        f"user 456 has house = {HOUSE}",
        "user 456 has no house yet: call set_house(456, 'gryffindor')"
        if "house" not in fireball
        else f"user 456 has house = {fireball['house']}, not {HOUSE}",
    )
    if fireball:
        verdict.expect(
            fireball.get("is_wizard") is True and fireball.get("first_name") == "fireball",
            "user 456 kept its other attributes",
            "user 456 lost attributes it had (first_name, is_wizard): put_item replaces a whole item",
        )
    ghost = item(MISSING_USER)
    if ghost is not None:
        verdict.fail(
            f"a new item {MISSING_USER} was created ({_names(ghost)}): update_item on a missing key creates it"
        )
        return verdict, ""

    result, error = _quietly(set_house, MISSING_USER, HOUSE)
    created = item(MISSING_USER)
    if created is not None:
        users.delete_item(Key={"id": MISSING_USER})  # the check made it: leave the table as it was
        verdict.fail(
            f"set_house({MISSING_USER}, ...) created user {MISSING_USER}, who did not exist: "
            "update_item without a condition is an upsert"
        )
    elif error is not None:
        verdict.fail(
            f"set_house({MISSING_USER}, ...) raised {_error_code(error)} instead of returning False: catch the refusal"
        )
    else:
        verdict.expect(
            result is False,
            f"set_house({MISSING_USER}, ...) is refused and returns False",
            f"set_house({MISSING_USER}, ...) returns {result!r}, not False, for a user who does not exist",
        )

    if not verdict.ok:
        return verdict, ""  # the race below would only repeat what is already wrong
    users.put_item(Item={"id": VANISHING_USER, "first_name": "neville"})
    intercepted, undo = _delete_before_write(table_name, VANISHING_USER, ns)
    try:
        result, error = _quietly(set_house, VANISHING_USER, HOUSE)
    finally:
        undo()
    reborn = item(VANISHING_USER)
    users.delete_item(Key={"id": VANISHING_USER})
    if error is not None:
        verdict.fail(f"set_house({VANISHING_USER}, ...) raised {_error_code(error)} instead of returning False")
    elif not intercepted():
        verdict.fail(
            f"set_house({VANISHING_USER}, ...) sent no write of user {VANISHING_USER}, who existed, through a client "
            "the check can see: write with users.update_item"
        )
    elif reborn is not None:
        verdict.fail(
            f"user {VANISHING_USER} was deleted by another program between your check and your write, "
            "and set_house created it again: the write itself must carry the condition (a get_item first is a race)"
        )
    else:
        verdict.expect(
            result is False,
            "a user deleted just before the write is refused, not brought back",
            f"set_house({VANISHING_USER}, ...) returns {result!r}, not False, for a user who was deleted",
        )
    return verdict, f"user 456 has house = {HOUSE}; set_house refuses a missing user, even one deleted meanwhile."


def _number_mistake(name: str, got: Any, want: Any) -> str:
    """What is wrong with a stored value, in the words of the mistake that usually causes it."""
    if isinstance(want, Decimal) and isinstance(got, str):
        return f"{name} is the text {got!r} (type S), not a number: store Decimal({got!r}), not a string"
    if isinstance(want, Decimal) and isinstance(got, Decimal):
        return f"{name} is {got}, not {want}: a number must arrive exactly as written, not rounded"
    if isinstance(want, list) and isinstance(got, list) and len(got) == len(want):
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            if g != w:
                return _number_mistake(f"{name}[{i}]", g, w)
    return f"{name} is {got!r}, expected {want!r}"


@self_check(
    "convert every float to a Decimal made from its text, Decimal(str(x)), before writing: "
    "helpers.dynamo.decimals(measured) does it for the whole item. A float is refused (TypeError), so is "
    "Decimal(1.65), which keeps the float's binary error (Inexact), and a string is stored as text."
)
def check_exact_decimals(table_name: str, *, ns: dict) -> tuple[Verdict, str]:
    """``measured`` is stored, and each of its floats arrived as the decimal its text shows.

    DynamoDB numbers are exact decimals of up to 38 significant digits
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html),
    so boto3 refuses a float and a Decimal made from one (its binary error runs to ~50 digits).
    """
    import boto3

    item = _need(ns, "measured", "run the exercise cell, which defines it")
    stored = boto3.resource("dynamodb").Table(table_name).get_item(Key={"id": item["id"]}, ConsistentRead=True)
    stored = stored.get("Item")
    verdict = Verdict()
    if stored is None:
        verdict.fail(
            f"there is no item {item['id']} in the table yet: boto3 refuses a float (TypeError) and a Decimal "
            "made from a float (decimal.Inexact: its binary error runs past DynamoDB's 38 digits): nothing was written"
        )
        return verdict, ""

    def exact(value: Any) -> Any:
        if isinstance(value, float):
            return Decimal(str(value))
        if isinstance(value, list):
            return [exact(v) for v in value]
        if isinstance(value, dict):
            return {k: exact(v) for k, v in value.items()}
        return value

    for name, value in sorted(item.items()):
        want = exact(value)
        verdict.expect(stored.get(name) == want, f"{name} is {want}", _number_mistake(name, stored.get(name), want))
    return verdict, f"item {item['id']} is stored, every number exactly as written."


# -- lesson 04 ---------------------------------------------------------------------------------


@self_check(
    "list_tables gives every name in the region. Look only at names that start with your prefix and a "
    "hyphen (another participant's tables refuse describe_table, AccessDeniedException: skip any that "
    "refuses you), and keep a name only when list_tags_of_resource (with the ARN from describe_table) "
    "shows both of the series' tags for you: is_ours(name, tags). A name alone proves nothing, and a "
    "name written in by hand finds no table you did not know of."
)
def check_tables_found_by_tags(prefix: str, *, ns: dict) -> tuple[Verdict, str]:
    """``my_tables`` names exactly the DynamoDB tables that carry the series' tags for ``prefix``.

    Why only names starting with ``prefix-``: in a shared account, least privilege grants
    DescribeTable and ListTagsOfResource on the participant's own ``<prefix>-*`` tables only
    (policies/participant-policy.json), and AWS answers any other table with AccessDeniedException
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_examples_dynamodb_specific-table.html).
    A table of that shape that still refuses is not the learner's: it is set aside with a note.
    """
    import boto3
    from botocore.exceptions import ClientError

    from helpers.cleanup import DENIED_CODES
    from helpers.names import Names, belongs_to, series_participant

    mine = _need(ns, "my_tables", "make it the list of your tables' names")
    ddb = boto3.client("dynamodb")
    ours, refused, untagged, others = set(), set(), set(), set()
    for page in ddb.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            if not belongs_to(name, prefix):
                others.add(name)  # someone else's, or no one's: not ours to describe
                continue
            try:
                arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
                tags = ddb.list_tags_of_resource(ResourceArn=arn).get("Tags", [])
            except ddb.exceptions.ResourceNotFoundException:
                continue  # deleted meanwhile
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") not in DENIED_CODES:
                    raise
                refused.add(name)
                continue
            (ours if series_participant(tags, name, scope={prefix}) else untagged).add(name)
    given = set(mine)
    verdict = Verdict()
    verdict.notes += [f"{name} refused you (AccessDeniedException): not yours, skipped" for name in sorted(refused)]
    missing = ours - given
    verdict.expect(
        not missing,
        f"my_tables has {_names(ours)}" if ours else "no table of yours is missing",
        f"my_tables lacks {_names(missing)}, which carr{'ies' if len(missing) == 1 else 'y'} your tags too",
    )
    lesson_03_table = Names(prefix=prefix, account_id="", region="").table
    if missing and given == {lesson_03_table}:
        verdict.fail(f"my_tables = [{lesson_03_table!r}] is lesson 03's table written in by hand, not a search")
    for name in sorted(given - ours):
        if name in untagged:
            verdict.fail(
                f"my_tables also names {name}: its name starts with {prefix}-, but it does not carry your tags"
            )
        elif name in refused:
            verdict.fail(f"my_tables also names {name}, which refuses you (AccessDeniedException): it is not yours")
        elif name in others:
            verdict.fail(f"my_tables also names {name}, which is not yours: its name does not start with {prefix}-")
        else:
            verdict.fail(f"my_tables also names {name}, which is not a table in this region")
    count = f"{len(ours)} table carries" if len(ours) == 1 else f"{len(ours)} tables carry"
    found = f"{count} your tags: {_names(ours)}." if ours else "no table carries your tags."
    return verdict, found


# -- lesson 06 ---------------------------------------------------------------------------------

# The question of lesson 06's exercise: card trips rated 5 in one month.
LAKE_QUESTION = {"year": 2024, "month": 3, "payment": "card", "rating": 5}
# A query that reads one partition scans at most that partition's files (Athena bills what it
# scans, https://docs.aws.amazon.com/athena/latest/ug/partitions.html); the margin allows for the
# footer of one more file that an engine may read for the schema. Two partitions are about twice.
ONE_PARTITION_MARGIN = 1.5


def _partitions(bucket: str, dataset_prefix: str) -> dict[tuple[int, int], list[dict]]:
    """``(year, month)`` -> the Parquet objects under ``<dataset_prefix>year=Y/month=M/``."""
    import boto3

    found: dict[tuple[int, int], list[dict]] = {}
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=dataset_prefix)
    for page in pages:
        for obj in page.get("Contents", []):
            parts = dict(p.split("=", 1) for p in obj["Key"][len(dataset_prefix) :].split("/")[:-1] if "=" in p)
            if obj["Key"].endswith(".parquet") and {"year", "month"} <= parts.keys():
                found.setdefault((int(parts["year"]), int(parts["month"])), []).append(obj)
    return found


def _lake_counts(bucket: str, files: dict[tuple[int, int], list[dict]]) -> dict[tuple[int, int], int]:
    """The exercise's number for every partition, read with boto3 (no s3fs listing cache to go stale)."""
    import io

    import boto3
    import pandas as pd

    s3 = boto3.client("s3")
    counts = {}
    for month, objects in files.items():
        total = 0
        for obj in objects:
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            frame = pd.read_parquet(io.BytesIO(body), columns=["payment", "rating"])
            rows = (frame["payment"].astype(str) == LAKE_QUESTION["payment"]) & (
                frame["rating"] == LAKE_QUESTION["rating"]
            )
            total += int(rows.fillna(False).sum())
        counts[month] = total
    return counts


def _first_value(athena, query_id: str) -> str | None:
    """The first value of the first data row of a finished query (row 0 is the header)."""
    rows = athena.get_query_results(QueryExecutionId=query_id, MaxResults=2)["ResultSet"]["Rows"]
    return rows[1]["Data"][0].get("VarCharValue") if len(rows) > 1 and rows[1]["Data"] else None


@self_check(
    "filter on the partition columns, WHERE year = 2024 AND month = 3 (plus payment = 'card' AND "
    "rating = 5): Athena then reads only the files under year=2024/month=3/. A filter on pickup_at "
    "gives the same number but reads every partition, because pickup_at is inside the files. Run it "
    "with run_query, keep execution['QueryExecutionId'] in my_query_id and the number it returned "
    "(row 1 of get_query_results; row 0 is the header) in my_answer, as an int."
)
def check_one_partition_query(bucket: str, dataset_prefix: str, *, ns: dict) -> tuple[Verdict, str]:
    """``my_query_id`` is an Athena query that counted March 2024's card trips rated 5, reading only
    that partition, and ``my_answer`` is the number it returned.

    What is looked at is Athena's record of the query (GetQueryExecution: its state and
    ``Statistics.DataScannedInBytes``,
    https://docs.aws.amazon.com/athena/latest/APIReference/API_GetQueryExecution.html) and its result
    (GetQueryResults), against the numbers the check computes from the dataset's files itself.
    """
    import boto3

    query_id = _need(ns, "my_query_id", "keep the QueryExecutionId of your Athena query in it")
    answer = _need(ns, "my_answer", "keep the number your query returned in it")
    athena = boto3.client("athena")
    execution = athena.get_query_execution(QueryExecutionId=str(query_id))["QueryExecution"]
    status = execution["Status"]
    verdict = Verdict()
    if status["State"] != "SUCCEEDED":
        reason = status.get("StateChangeReason", "").splitlines()[0] if status.get("StateChangeReason") else ""
        verdict.fail(f"the query {_query_state(status['State'])}{': ' + reason if reason else ''}")
        return verdict, ""

    files = _partitions(bucket, dataset_prefix)
    month = (LAKE_QUESTION["year"], LAKE_QUESTION["month"])
    if month not in files:
        raise Missing(
            f"s3://{bucket}/{dataset_prefix} has no year=2024/month=3/ partition: run the lesson's cells above"
        )
    counts = _lake_counts(bucket, files)
    truth = counts[month]
    returned = _first_value(athena, str(query_id))

    given = int(answer) if isinstance(answer, numbers.Integral) and not isinstance(answer, bool) else None
    verdict.expect(
        given is not None,
        "my_answer is a whole number",
        f"my_answer is {answer!r}, a {type(answer).__name__}, not an int: int(...) the value your query returned",
    )
    if returned is not None and given is not None and str(given) != returned.strip():
        verdict.fail(f"my_answer is {given}, but your query returned {returned}")
    elif returned is not None and returned.strip() == str(truth):
        verdict.right.append("your query returned the right number")
    else:
        elsewhere = sorted(
            f"{y}-{m:02d}" for (y, m), n in counts.items() if (y, m) != month and str(n) == str(returned)
        )
        if returned is not None and elsewhere and len(elsewhere) < len(counts) - 1:
            verdict.fail(f"your query returned {returned}, the number for {', '.join(elsewhere)}, not for March 2024")
        else:
            verdict.fail(f"your query returned {returned}, not the number of card trips rated 5 in March 2024")

    scanned = int(execution.get("Statistics", {}).get("DataScannedInBytes", 0))
    one_partition = sum(obj["Size"] for obj in files[month])
    verdict.expect(
        scanned <= ONE_PARTITION_MARGIN * one_partition,
        "it read no more than the March 2024 partition",
        f"it scanned {scanned:,} bytes, more than the March 2024 partition holds ({one_partition:,} bytes): "
        "it read other partitions too",
    )
    return verdict, f"your query read only the March 2024 partition and found {truth:,} card trips rated 5."


def _query_state(state: str) -> str:
    """``FAILED`` -> ``failed``: a query state as a verb."""
    return {"FAILED": "failed", "CANCELLED": "was cancelled"}.get(state, f"is still {state}")
