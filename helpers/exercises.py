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
    "load_dotenv(path) copies the file's variables into os.environ and leaves alone the ones "
    "already set (override=False is the default): call it without override=True."
)
def check_env_file_loaded(path: str | os.PathLike, exported: dict[str, str], *, ns: dict) -> tuple[Verdict, str]:
    """The file's new variables are in os.environ, and the ones exported before kept their value."""
    from dotenv import dotenv_values

    verdict = Verdict()
    in_file = dotenv_values(path)
    for name, value in sorted(in_file.items()):
        now = os.environ.get(name)
        if name in exported:
            verdict.expect(
                now == exported[name],
                f"{name} is still {exported[name]}, the value exported before",
                f"{name} is {now!r}: the file overrode the value exported before ({exported[name]})"
                if now == value
                else f"{name} is {now!r}, expected {exported[name]!r}, the value exported before",
            )
        else:
            verdict.expect(
                now == value,
                f"{name} is {value}, from the file",
                f"{name} is not set: the file was not loaded" if now is None else f"{name} is {now!r}, not {value!r}",
            )
    return verdict, "the file filled in what was missing, and the environment won where both had a value."


# -- lesson 01 ---------------------------------------------------------------------------------


@self_check(
    'filters apply in order, the last match wins: --exclude "*" drops everything, then '
    '--include "*.py" brings back the Python files (in subfolders too, with --recursive).'
)
def check_python_upload(bucket: str, folder: str | os.PathLike, prefix: str, *, ns: dict) -> tuple[Verdict, str]:
    """Under ``prefix`` the bucket holds exactly the .py files of ``folder`` (same relative paths)."""
    import boto3

    root = Path(folder)
    wanted = {p.relative_to(root).as_posix() for p in root.rglob("*.py") if p.is_file()}
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    found = {o["Key"][len(prefix) :] for page in pages for o in page.get("Contents", [])}
    verdict = Verdict()
    if not found:
        verdict.fail(f"there is nothing under s3://{bucket}/{prefix} yet")
        return verdict, ""
    verdict.expect(
        wanted <= found,
        f"{prefix} holds {_names(wanted)}",
        f"{prefix} lacks {_names(wanted - found)}",
    )
    extra = found - wanted
    if extra:
        verdict.fail(f"{prefix} also holds {_names(extra)}, not .py files of {root.name}/")
    return verdict, f"{prefix} holds exactly the .py files: {_names(wanted)}."


@self_check(
    'sign the link for "put_object" (not "get_object") with the bucket and key in Params, then send '
    'the bytes with urllib: Request(put_url, data=message.encode(), method="PUT", '
    'headers={"Content-Type": "text/plain"}).'
)
def check_presigned_upload(bucket: str, key: str, text: str, *, ns: dict) -> tuple[Verdict, str]:
    """``put_url`` is a presigned link for ``key``, and the object holds ``text``."""
    import boto3
    from botocore.exceptions import ClientError

    url = _need(ns, "put_url", "sign a link for put_object and store it in put_url")
    verdict = Verdict()
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    verdict.expect(
        "X-Amz-Signature" in query,
        "put_url is a presigned link (it carries X-Amz-Signature)",
        "put_url carries no X-Amz-Signature: it is not a presigned link",
    )
    verdict.expect(
        unquote(parts.path).endswith("/" + key),
        f"the link points at {key}",
        f"the link points at {unquote(parts.path)!r}, not at the key {key}",
    )
    try:
        body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
            raise
        verdict.fail(f"there is no object {key} in the bucket: nothing was uploaded through the link yet")
    else:
        verdict.expect(
            body == text,
            f"{key} holds the message",
            f"{key} arrived empty: without a Content-Type header, urllib sends the bytes as a web form"
            if body == ""
            else f"{key} holds {body!r}, not the message",
        )
    return verdict, f"{key} arrived through the presigned link, sent without any AWS credentials."


# -- lesson 02 ---------------------------------------------------------------------------------


@self_check(
    "authorize_security_group_ingress with IpProtocol tcp, FromPort and ToPort 5432, and "
    'IpRanges=[{"CidrIp": f"{COLLEAGUE}/32"}]: a /32 is exactly one address. Catch '
    "InvalidPermission.Duplicate, so that the cell runs twice."
)
def check_colleague_rule(group_id: str, address: str, *, ns: dict) -> tuple[Verdict, str]:
    """Port 5432 is open to ``address``/32, and no range wider than one address admits it."""
    import boto3

    group = boto3.client("ec2").describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    who = ipaddress.ip_address(address)
    exact, wider = False, set()
    for rule in group.get("IpPermissions", []):
        if rule.get("IpProtocol") not in ("tcp", "-1"):
            continue
        if rule.get("IpProtocol") == "tcp" and not rule.get("FromPort", 0) <= 5432 <= rule.get("ToPort", 65535):
            continue
        for ip_range in rule.get("IpRanges", []):
            network = ipaddress.ip_network(ip_range["CidrIp"], strict=False)
            if network.prefixlen == 0:
                wider.add(f"{network} (the whole internet)")
            elif who in network:
                if network.prefixlen == 32 and rule.get("IpProtocol") == "tcp":
                    exact = True
                else:
                    wider.add(f"{network} ({network.num_addresses} addresses)")
    verdict = Verdict()
    verdict.expect(exact, f"{address}/32 may reach port 5432", f"no rule lets {address}/32 reach port 5432 yet")
    if wider:
        verdict.fail(f"these ranges open the port to more than your colleague: {_names(wider)}")
    return verdict, f"{address}/32 may reach port 5432, and no wider range is open."


@self_check(
    "put %s in the SQL where the age goes and pass the value separately: "
    'read_sql("SELECT name, age FROM people WHERE age > %s ORDER BY name", (age,)).'
)
def check_older_than(*, ns: dict) -> tuple[Verdict, str]:
    """``older_than(age)`` returns the right people for two ages, and a hostile "age" stays a value."""
    import pandas as pd
    import psycopg2

    older_than = _need(ns, "older_than", "run the exercise cell that defines it")
    conn = _need(ns, "conn", "run the cell that connects to the database")

    def expected(age: int) -> list[str]:
        with conn.cursor() as cur:
            cur.execute("SELECT name FROM people WHERE age > %s ORDER BY name", (age,))
            return [row[0] for row in cur.fetchall()]

    verdict = Verdict()
    if not expected(-1):
        verdict.fail("the people table is empty: run lesson 01, then the loading cells above")
        return verdict, ""
    for age in (30, 49):
        result = older_than(age)
        if not isinstance(result, pd.DataFrame) or "name" not in result.columns:
            verdict.fail(f"older_than({age}) returned {type(result).__name__}, not a DataFrame with a name column")
            return verdict, ""
        got = sorted(result["name"])
        verdict.expect(
            got == expected(age),
            f"older_than({age}) returns {_names(got)}",
            f"older_than({age}) returns {_names(got)}, expected {_names(expected(age))}",
        )
    hostile = "0 OR age > -1"
    try:
        leaked = older_than(hostile)
    except psycopg2.Error:
        conn.rollback()  # the refused query aborted the transaction; the connection stays usable
        verdict.right.append(f"older_than({hostile!r}) is refused: the text stays one value")
    else:
        everyone = len(expected(-1))
        verdict.expect(
            leaked is None or len(leaked) != everyone,
            f"older_than({hostile!r}) does not return everyone",
            f"older_than({hostile!r}) returns all {everyone} people: the text became part of the SQL",
        )
    return verdict, "older_than gives the right people, and a value can never change the query."


# -- lesson 03 ---------------------------------------------------------------------------------


@self_check(
    'update_item with ConditionExpression="attribute_exists(id)": without it, updating an id that '
    "does not exist creates a new item. Catch ConditionalCheckFailedException for 999."
)
def check_update_only_existing(table_name: str, attribute: str, value: Any, *, ns: dict) -> tuple[Verdict, str]:
    """Item 456 got ``attribute`` and kept the rest; no item 999 was created."""
    import boto3

    users = boto3.resource("dynamodb").Table(table_name)
    fireball = users.get_item(Key={"id": 456}, ConsistentRead=True).get("Item") or {}
    ghost = users.get_item(Key={"id": 999}, ConsistentRead=True).get("Item")
    verdict = Verdict()
    verdict.expect(
        fireball.get(attribute) == value,
        f"user 456 has {attribute} = {value}",
        f"user 456 has no {attribute} = {value} yet"
        if attribute not in fireball
        else f"user 456 has {attribute} = {fireball[attribute]}, not {value}",
    )
    if fireball:
        verdict.expect(
            fireball.get("is_wizard") is True and fireball.get("first_name") == "fireball",
            "user 456 kept its other attributes",
            "user 456 lost attributes it had (first_name, is_wizard): put_item replaces a whole item",
        )
    verdict.expect(
        ghost is None,
        "there is still no user 999",
        f"a new item 999 was created ({_names(ghost or {})}): the update did not require the item to exist",
    )
    return verdict, f"user 456 has {attribute} = {value}, and the update of the missing user 999 was refused."


@self_check(
    "convert every float to a Decimal made from its text, Decimal(str(x)), before writing: "
    "helpers.dynamo.decimals(measured) does it for the whole item."
)
def check_exact_decimals(table_name: str, item: dict, *, ns: dict) -> tuple[Verdict, str]:
    """The item is stored, and each of its floats arrived as the decimal its text shows."""
    import boto3

    stored = boto3.resource("dynamodb").Table(table_name).get_item(Key={"id": item["id"]}, ConsistentRead=True)
    stored = stored.get("Item")
    verdict = Verdict()
    if stored is None:
        verdict.fail(f"there is no item {item['id']} in the table yet")
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
        verdict.expect(
            stored.get(name) == want,
            f"{name} is {want}",
            f"{name} is {stored.get(name)!r}, expected {want!r}",
        )
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
