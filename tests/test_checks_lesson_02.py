"""Lesson 02's self-checks against the wrong answers a learner plausibly gives.

Each wrong answer is the code a learner might type into the exercise cell, run as the notebook
would run it (in a namespace holding what the cells above defined), then checked: the check must
say "Not yet" with a hint, and its "wrong:" line must name the mistake. The notebook's own
solution, and other right answers, must say "Right". "skipped" is the exercise cell not run at all.

check_colleague_rule runs against plain moto (an EC2 of this module's own); check_older_than runs
against the test session's local PostgreSQL, in a schema of this module's own, with the people of
lesson 01's two CSV files and read_sql and the users table made by the lesson's own cells.
"""

from __future__ import annotations

from types import SimpleNamespace

import nbformat
import psycopg2
import pytest
from botocore.exceptions import ClientError
from support import assert_not_yet, in_process_moto, use_moto

from helpers import exercises
from helpers.runner import NOTEBOOK_DIR

LESSON = NOTEBOOK_DIR / "02_rds_postgres.ipynb"
COLLEAGUE = "203.0.113.25"


def lesson_cell(needle: str, tag: str | None = None) -> str:
    """The source of lesson 02's one cell that holds ``needle`` (and carries ``tag``, if given)."""
    cells = [
        cell.source
        for cell in nbformat.read(LESSON, as_version=4).cells
        if cell.cell_type == "code" and needle in cell.source and (tag is None or tag in cell.metadata.get("tags", []))
    ]
    assert len(cells) == 1, f"{len(cells)} cells of {LESSON.name} hold {needle!r}"
    return cells[0]


def said(capsys) -> str:
    return capsys.readouterr().out


# -- the /32 rule for a colleague -------------------------------------------------------------


def rule(cidr: str = f"{COLLEAGUE}/32", *, protocol: str = "tcp", ports: tuple[int, int] = (5432, 5432)) -> str:
    """Exercise-cell code that adds one inbound rule, as a learner would write it."""
    low, high = ports
    ranges = f'"Ipv6Ranges": [{{"CidrIpv6": "{cidr}"}}]' if ":" in cidr else f'"IpRanges": [{{"CidrIp": "{cidr}"}}]'
    return (
        f'COLLEAGUE = "{COLLEAGUE}"\n'
        "ec2.authorize_security_group_ingress(\n"
        "    GroupId=sg_id,\n"
        f'    IpPermissions=[{{"IpProtocol": "{protocol}", "FromPort": {low}, "ToPort": {high}, {ranges}}}],\n'
        ")\n"
    )


# wrong answer -> (the exercise cell's code, words of the "wrong:" line that name the mistake)
COLLEAGUE_WRONG: dict[str, tuple[str, str]] = {
    "skipped": ("", "`COLLEAGUE` is not set yet"),
    "Anywhere-IPv4, as the article does": (rule("0.0.0.0/0"), "0.0.0.0/0 (the whole internet)"),
    "a /24 instead of a /32": (rule("203.0.113.0/24"), "203.0.113.0/24 (256 addresses)"),
    "every tcp port": (rule(ports=(0, 65535)), "tcp ports 0-65535, not only tcp port 5432"),
    "a port range around 5432": (rule(ports=(5400, 5500)), "tcp ports 5400-5500, not only"),
    "all traffic": (rule(protocol="-1", ports=(-1, -1)), "every port and protocol"),
    "the /32 and IPv6 ::/0": (rule() + rule("::/0"), "IPv6 ::/0 (every IPv6 address)"),
}
COLLEAGUE_RIGHT = {
    "the lesson's solution": lambda: lesson_cell("COLLEAGUE", "exercise"),
    "the lesson's solution, run twice": lambda: lesson_cell("COLLEAGUE", "exercise") * 2,
}


@pytest.fixture(scope="module")
def moto_url():
    with in_process_moto() as url:
        yield url


@pytest.fixture
def group_ns(moto_url, monkeypatch, request) -> dict:
    """What lesson 02's cells define before the exercise: ec2, sg_id (its own rule for the
    learner's /32 in place) and ClientError."""
    import boto3

    use_moto(monkeypatch, moto_url)
    ec2 = boto3.client("ec2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    name = f"ws-alice-postgres-{abs(hash(request.node.name)) % 10**8}"
    sg_id = ec2.create_security_group(GroupName=name, Description="lesson 02", VpcId=vpc)["GroupId"]
    ns = {"ec2": ec2, "sg_id": sg_id, "ClientError": ClientError}
    exec(rule("127.0.0.1/32").replace(f'COLLEAGUE = "{COLLEAGUE}"\n', ""), ns)  # noqa: S102 - the learner's own rule
    yield ns
    ec2.delete_security_group(GroupId=sg_id)


@pytest.mark.parametrize("answer", sorted(COLLEAGUE_WRONG))
def test_colleague_rule_refuses(answer, group_ns, capsys):
    code, mistake = COLLEAGUE_WRONG[answer]
    exec(code, group_ns)  # noqa: S102 - the learner's cell
    exercises.check_colleague_rule(ns=group_ns)
    assert_not_yet(said(capsys), mistake)


@pytest.mark.parametrize("answer", sorted(COLLEAGUE_RIGHT))
def test_colleague_rule_accepts(answer, group_ns, capsys):
    exec(COLLEAGUE_RIGHT[answer](), group_ns)  # noqa: S102 - the learner's cell
    said(capsys)
    exercises.check_colleague_rule(ns=group_ns)
    assert said(capsys) == f"Right: {COLLEAGUE}/32 may reach port 5432, and no wider range is open.\n"


def test_the_self_check_cell_passes_no_name_the_exercise_defines():
    """Skipping the exercise cell must not make the check cell raise NameError."""
    assert lesson_cell("check_colleague_rule", "self-check").strip().endswith("check_colleague_rule()")
    assert lesson_cell("check_older_than", "self-check").strip().endswith("check_older_than()")


# -- older_than(age) ----------------------------------------------------------------------------


def older_than(body: str) -> str:
    """Exercise-cell code defining older_than(age) with ``body``."""
    return "def older_than(age):\n" + "".join(f"    {line}\n" for line in body.strip().splitlines())


SELECT = "SELECT name, age FROM people WHERE age"
# wrong answer -> (the exercise cell's code, words of the "wrong:" line that name the mistake)
OLDER_THAN_WRONG: dict[str, tuple[str, str]] = {
    "skipped": ("", "`older_than` is not set yet"),
    "at least, not older than (>=)": (
        older_than(f'return read_sql("{SELECT} >= %s ORDER BY name", (age,))'),
        "who is exactly 50: that is >=, not >",
    ),
    "an f-string with the age between quotes": (
        older_than(f"""return read_sql(f"{SELECT} > '{{age}}' ORDER BY name")"""),
        "string formatting made the text part of the SQL",
    ),
    "a bare f-string": (
        older_than(f'return read_sql(f"{SELECT} > {{age}} ORDER BY name")'),
        "string formatting made the text part of the SQL",
    ),
    "% formatting": (
        older_than(f'return read_sql("{SELECT} > %s ORDER BY name" % age)'),
        "string formatting made the text part of the SQL",
    ),
    "int() pasted into an f-string": (
        older_than(f'return read_sql(f"{SELECT} > {{int(age)}} ORDER BY name")'),
        f"wrote the age into the SQL text ({SELECT} > 50 ORDER BY name), not as a %s parameter",
    ),
    "rows, not a DataFrame": (
        older_than(f'with conn.cursor() as cur:\n    cur.execute("{SELECT} > %s", (age,))\n    return cur.fetchall()'),
        "returned list, not a DataFrame",
    ),
}
OLDER_THAN_RIGHT = {
    "the lesson's solution": lambda: lesson_cell("def older_than", "exercise"),
    "int() first, then a parameter": lambda: older_than(
        "age = int(age)  # a web form sends text: refuse what is no whole number\n"
        f'return read_sql("{SELECT} > %s", (age,))'
    ),
    "a named parameter": lambda: older_than(f'return read_sql("{SELECT} > %(age)s ORDER BY name", {{"age": age}})'),
}
PEOPLE = [("abe", 31), ("bea", 5), ("cory", 50), ("dana", 100)]  # lesson 01's file1.csv and file2.csv


@pytest.fixture(scope="module")
def lesson_conn(local_stack):
    """A connection as lesson 02's `conn`, into a schema of this module's own on the local PostgreSQL."""
    from helpers.local import postgres

    schema = f"checks_02_{local_stack.prefix.replace('-', '_')}"
    conn = psycopg2.connect(
        postgres.pg_target(local_stack).admin_dsn, connect_timeout=5, options=f"-c search_path={schema}"
    )
    with conn, conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
        cur.execute("CREATE TABLE people (name TEXT NOT NULL, age INT NOT NULL, source TEXT)")
        cur.executemany("INSERT INTO people (name, age) VALUES (%s, %s)", PEOPLE)
    yield conn
    conn.rollback()
    with conn, conn.cursor() as cur:
        cur.execute(f"DROP SCHEMA {schema} CASCADE")
    conn.close()


@pytest.fixture
def sql_ns(lesson_conn) -> dict:
    """What lesson 02's cells define before the exercise: conn, the users table and read_sql."""
    ns: dict = {"conn": lesson_conn}
    exec(lesson_cell("CREATE TABLE users"), ns)  # noqa: S102 - the lesson's cell
    exec(lesson_cell("def read_sql"), ns)  # noqa: S102 - the lesson's cell
    yield ns
    lesson_conn.rollback()


@pytest.mark.parametrize("answer", sorted(OLDER_THAN_WRONG))
def test_older_than_refuses(answer, sql_ns, capsys):
    code, mistake = OLDER_THAN_WRONG[answer]
    exec(code, sql_ns)  # noqa: S102 - the learner's cell
    exercises.check_older_than(ns=sql_ns)
    assert_not_yet(said(capsys), mistake)
    with sql_ns["conn"].cursor() as cur:  # the check left the connection usable
        cur.execute("SELECT count(*) FROM people")
        assert cur.fetchone()[0] == len(PEOPLE)


@pytest.mark.parametrize("answer", sorted(OLDER_THAN_RIGHT))
def test_older_than_accepts(answer, sql_ns, capsys):
    exec(OLDER_THAN_RIGHT[answer](), sql_ns)  # noqa: S102 - the learner's cell
    said(capsys)
    exercises.check_older_than(ns=sql_ns)
    text = said(capsys)
    assert text == "Right: older_than gives the right people, and a value can never change the query.\n", text


def test_older_than_on_a_closed_connection_says_so(sql_ns, capsys):
    exec(OLDER_THAN_RIGHT["the lesson's solution"](), sql_ns)  # noqa: S102 - the learner's cell
    exercises.check_older_than(ns={**sql_ns, "conn": SimpleNamespace(closed=1)})  # after the lesson's conn.close()
    assert_not_yet(said(capsys), "`conn` is closed")


WRONG_ANSWERS: dict[str, list[str]] = {
    "check_colleague_rule": sorted(COLLEAGUE_WRONG),
    "check_older_than": sorted(OLDER_THAN_WRONG),
}
