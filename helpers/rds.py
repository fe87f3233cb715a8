"""The one bridge between RDS (control plane) and PostgreSQL (data plane).

On real AWS, ``describe_db_instances`` gives an endpoint and Secrets Manager holds
the master password, and that is all a client needs. The emulator's RDS has no
database behind its endpoint, so on the local backend :func:`connection_params`
points the same parameters at the local PostgreSQL and first creates there, as RDS
would, the role from the secret and the instance's initial database.

Local database names carry the instance id (``my_database__ds_ab12cd_postgres``),
because one local PostgreSQL stands in for every participant's RDS instance. So do
local role names (``postgres__ds_ab12cd_postgres``), for two reasons: the article's
master user is ``postgres``, which on a local server is usually the superuser whose
password (in ``DATABASE_URL``) must not be replaced by the secret's; and thirty
participants sharing one ``DATABASE_URL`` server must not overwrite each other's
password for a common role. (The role is named after the instance's MasterUsername:
the emulator's managed secret always says ``admin``, where RDS's says the real one.)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from botocore.exceptions import ClientError

from helpers.errors import TutorialError
from helpers.progress import LiveLine, sleep_showing
from helpers.settings import Settings

WAIT_TIMEOUT = 30 * 60  # RDS creation takes 5-15 minutes on AWS
# How often to ask. On AWS a status lasts minutes and every call counts against the API's
# rate limit; on the local backend a status lasts TUTORIAL_AWS_LIFECYCLE_PACE seconds.
AWS_POLL = 15.0
LOCAL_POLL = 0.5


def poll_interval(settings: Settings) -> float:
    """Seconds between two status checks on this backend."""
    return LOCAL_POLL if settings.is_local else AWS_POLL


def _local_name(instance_id: str, name: str) -> str:
    """A database or role name on the shared local server: ``name`` of this instance (see above).

    One naming for both, so that one suffix, ``__<instance id>``, finds every stand-in of an
    instance when it is deleted (:func:`drop_local_database`)."""
    return f"{name}__{instance_id}".replace("-", "_")[:63]


# The statuses an instance never leaves by itself: waiting for "available" from them is pointless.
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html
STUCK = {"failed", "incompatible-parameters", "incompatible-network", "incompatible-restore", "storage-full"}
GONE_CODES = {"DBInstanceNotFound", "DBInstanceNotFoundFault"}

Log = Callable[[str], None]


def describe(instance_id: str, settings: Settings, rds=None) -> dict | None:
    """The DB instance description, or None if it does not exist (``rds``: a client to use instead)."""
    from helpers.aws import client

    rds = rds or client("rds", settings)
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in GONE_CODES:
            return None
        raise


def watch(
    instance_id: str,
    settings: Settings,
    until: Callable[[dict | None], bool],
    *,
    timeout: float = WAIT_TIMEOUT,
    poll: float | None = None,
    rds=None,
    log: Log = print,
) -> dict | None:
    """Poll the instance until ``until(description)`` holds, logging each status change; return it.

    Meanwhile the elapsed time moves on screen (in a notebook or on a terminal; see
    helpers.progress), so the 5 to 15 minutes of ``creating`` on AWS never look frozen. What is
    logged, and so what a notebook records, stays one line per status change.

    The polling loop of cleanup and of lesson 05 (lesson 02 teaches boto3's waiter instead, made
    visible by :func:`status_shown`). It looks a fixed number of times (``timeout`` / ``poll``),
    so a test with a stubbed client knows how many answers to give. Past ``timeout`` it raises a TutorialError; RDS goes
    on meanwhile, and waiting again picks up where it stands.
    """
    poll = poll_interval(settings) if poll is None else poll
    checks = 1 + (int(timeout // poll) if poll > 0 else 0)
    start = time.monotonic()
    last = None

    def elapsed() -> str:
        return f"[{time.monotonic() - start:5.0f} s] {instance_id}: still {last or 'not there'}"

    # Between two status lines, a live elapsed time (helpers.progress): in a notebook a display
    # that ends empty, on a terminal a line rewritten in place, elsewhere nothing.
    with LiveLine() as live:
        for attempt in range(checks):
            if attempt:
                sleep_showing(poll, live, elapsed)
            db = describe(instance_id, settings, rds)
            state = db["DBInstanceStatus"] if db else None
            if state is not None and state != last:
                live.clear()
                log(f"[{time.monotonic() - start:5.0f} s] {instance_id}: {state}")
                last = state
            if until(db):
                return db
            if db is not None and state in STUCK:
                raise TutorialError(f"DB instance {instance_id} is {state!r}.", "Check its events in the RDS console.")
    raise TutorialError(
        f"DB instance {instance_id} is still {last!r} after {timeout / 60:.0f} minutes ({timeout:.0f} s).",
        "RDS goes on by itself: re-run this cell to keep waiting, and check `python -m helpers status`.",
    )


@contextmanager
def status_shown(rds, instance_id: str, *, log: Log = print, tick: float = 1.0) -> Iterator[None]:
    """Around a boto3 waiter on ``rds``: print each status it meets, and keep an elapsed time moving.

    Lesson 02 teaches the waiter itself, ``rds.get_waiter("db_instance_available").wait(...)``,
    which polls ``describe_db_instances`` until the instance is ``available``
    (https://boto3.amazonaws.com/v1/documentation/api/latest/reference/services/rds/waiter/DBInstanceAvailable.html).
    A waiter says nothing while it polls, for up to 20 minutes on AWS, and a silent cell looks
    frozen. So this listens to the answers the waiter gets (botocore's ``after-call`` event of
    that client), logs one line per status change, and meanwhile shows a live elapsed time
    (helpers.progress.LiveLine, ticking in a thread) that ends empty: a saved notebook records
    the status lines only. A WaiterError becomes a TutorialError that says what to do.
    """
    from botocore.exceptions import WaiterError

    start = time.monotonic()
    last: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    live = LiveLine()

    def seen(parsed: dict | None = None, **_) -> None:
        parsed = parsed or {}
        if parsed.get("Error", {}).get("Code") in GONE_CODES:
            state = "not found"  # the end of a deletion, or an instance never created
        else:
            states = [
                d["DBInstanceStatus"]
                for d in parsed.get("DBInstances", [])
                if d.get("DBInstanceIdentifier") == instance_id
            ]
            state = states[0] if states else None
        if state and (not last or last[-1] != state):
            last.append(state)
            with lock:
                live.clear()
                log(f"[{time.monotonic() - start:5.0f} s] {instance_id}: {state}")

    def ticking() -> None:
        while not stop.wait(tick):
            with lock:
                live.show(f"[{time.monotonic() - start:5.0f} s] {instance_id}: still {last[-1] if last else 'asking'}")

    event = "after-call.rds.DescribeDBInstances"
    handler_id = f"status_shown-{instance_id}-{id(stop)}"
    rds.meta.events.register(event, seen, unique_id=handler_id)
    ticker = threading.Thread(target=ticking, name=f"elapsed-{instance_id}", daemon=True)
    if live.mode != "off":
        # Shown at once, so that a notebook always records the live line (left empty) first,
        # however long the wait: the saved outputs do not depend on timing.
        live.show(f"[    0 s] {instance_id}: asking")
        ticker.start()
    try:
        yield
    except WaiterError as exc:
        state = last[-1] if last else "not there"
        reason = exc.kwargs.get("reason", str(exc))
        if "Max attempts exceeded" in reason:
            fix = "RDS goes on by itself: re-run this cell to keep waiting, and check `python -m helpers status`."
        elif state in ("not there", "not found"):
            fix = "Run the cell that creates it first."
        else:
            fix = "Check the instance's events in the RDS console (Logs & events)."
        raise TutorialError(f"Waiting for DB instance {instance_id} stopped: it is {state!r} ({reason}).", fix) from exc
    finally:
        stop.set()
        if ticker.is_alive():
            ticker.join()
        rds.meta.events.unregister(event, unique_id=handler_id)
        with lock:
            live.clear()


def wait_until_available(
    instance_id: str, settings: Settings, *, timeout: float = WAIT_TIMEOUT, poll: float | None = None
) -> dict:
    """Wait until the instance is ``available``, printing each status (``creating``, ...) on the way."""

    def available(db: dict | None) -> bool:
        if db is None:
            raise TutorialError(f"DB instance {instance_id} does not exist.", "Run the cell that creates it first.")
        if db["DBInstanceStatus"] == "deleting":
            raise TutorialError(f"DB instance {instance_id} is being deleted.", "Create it again once it is gone.")
        return db["DBInstanceStatus"] == "available"

    db = watch(instance_id, settings, available, timeout=timeout, poll=poll)
    assert db is not None
    return db


def master_secret(db: dict, settings: Settings, secretsmanager=None) -> dict:
    """Username and password from the secret RDS manages for this instance (``secretsmanager``: a client to use)."""
    from helpers.aws import client

    arn = (db.get("MasterUserSecret") or {}).get("SecretArn")
    if not arn:
        raise TutorialError(
            f"DB instance {db['DBInstanceIdentifier']} has no managed master secret.",
            "Create it with ManageMasterUserPassword=True, as lesson 02 does.",
        )
    value = (secretsmanager or client("secretsmanager", settings)).get_secret_value(SecretId=arn)
    return json.loads(value["SecretString"])


def connection_params(instance_id: str, settings: Settings, *, rds=None, secretsmanager=None) -> dict:
    """Keyword arguments for ``psycopg2.connect(**params)`` for this DB instance.

    ``rds`` and ``secretsmanager`` are clients to use instead of the default session's (a
    workshop rehearsal runs several participants, each with their own keys, in one process).
    """
    db = describe(instance_id, settings, rds)
    if db is None:
        raise TutorialError(f"DB instance {instance_id} does not exist.", "Run lesson 02's create cell first.")
    if db["DBInstanceStatus"] != "available" or "Endpoint" not in db:
        # RDS gives no endpoint while an instance is creating, and refuses connections while it
        # is deleting, stopped or failed: say so instead of failing on a missing key.
        raise TutorialError(
            f"DB instance {instance_id} is {db['DBInstanceStatus']!r}, not 'available': it takes no connections yet.",
            "Wait for it first: run lesson 02's waiting cell (boto3's db_instance_available waiter) again.",
        )
    secret = master_secret(db, settings, secretsmanager)
    dbname = db.get("DBName") or "postgres"
    if not settings.is_local:
        return {
            "host": db["Endpoint"]["Address"],
            "port": db["Endpoint"]["Port"],
            "dbname": dbname,
            "user": secret["username"],
            "password": secret["password"],
            "sslmode": "require",
            "connect_timeout": 10,
        }
    from helpers.local import postgres

    target = postgres.pg_target(settings)
    local_db = _local_name(instance_id, dbname)
    local_user = _local_name(instance_id, db.get("MasterUsername") or secret["username"])
    provision(settings, local_user, secret["password"], local_db)
    return {
        "host": target.host,
        "port": target.port,
        "dbname": local_db,
        "user": local_user,
        "password": secret["password"],
        "sslmode": "prefer",
        "connect_timeout": 5,
    }


def provision(settings: Settings, user: str, password: str, dbname: str) -> None:
    """Create (or update) the role and database on the local PostgreSQL, as RDS would."""
    from psycopg2 import sql

    from helpers.local import postgres

    conn = postgres.admin_connect(settings)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(user)), (password,))
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
            if not cur.fetchone():
                cur.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(user)))
    finally:
        conn.close()


def drop_local_database(instance_id: str, settings: Settings) -> list[str]:
    """Drop the local stand-ins of a deleted instance, its databases and its roles; return their names.

    RDS takes the data and the master user with the instance
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_DeleteInstance.html), so the
    stand-ins go too. On a shared ``DATABASE_URL`` server (CI's, a workshop's) a role left behind
    would stay there for good, one per instance and run.

    Whatever the instance's DBName and MasterUsername were (``my_database`` and ``postgres`` in
    lesson 02, ``bulk`` and ``bulk_admin`` in lesson 05), their stand-ins all end in
    ``__<instance id>``: see :func:`_local_name`. The databases go first
    (with them, everything the role owned inside them); then, in each other database where the role
    still owns objects or holds privileges (``pg_shdepend``), ``DROP OWNED BY`` removes those, and
    the role is dropped.
    """
    from psycopg2 import sql

    from helpers.local import postgres

    if not settings.is_local:
        return []
    suffix = _local_name(instance_id, "")
    conn = postgres.admin_connect(settings)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT datname FROM pg_database WHERE right(datname, %s) = %s", (len(suffix), suffix))
            databases = sorted(row[0] for row in cur.fetchall())
            for name in databases:
                cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            cur.execute("SELECT rolname FROM pg_roles WHERE right(rolname, %s) = %s", (len(suffix), suffix))
            roles = sorted(row[0] for row in cur.fetchall())
            for role in roles:
                _drop_owned_elsewhere(settings, cur, role)
                cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
                cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
            return databases + roles
    finally:
        conn.close()


def _drop_owned_elsewhere(settings: Settings, cur, role: str) -> None:
    """``DROP OWNED BY role`` in every other database where it still owns something or holds a
    privilege: DROP OWNED acts on the current database only, and DROP ROLE refuses while any remain
    (https://www.postgresql.org/docs/current/role-removal.html)."""
    from psycopg2 import sql

    from helpers.local import postgres

    cur.execute(
        "SELECT DISTINCT d.datname FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid "
        "WHERE s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = %s) AND d.datname <> current_database()",
        (role,),
    )
    for (dbname,) in cur.fetchall():
        other = postgres.admin_connect(settings, dbname=dbname)
        other.autocommit = True
        try:
            with other.cursor() as other_cur:
                other_cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        finally:
            other.close()


def wait_until_deleted(
    instance_id: str,
    settings: Settings,
    *,
    timeout: float = WAIT_TIMEOUT,
    poll: float | None = None,
    rds=None,
    log: Log = print,
) -> None:
    """Wait until the instance is gone, printing each status (``deleting``) on the way; on the local
    backend, drop its stand-in database and role too, as RDS takes the data and the master user with it."""
    watch(instance_id, settings, lambda db: db is None, timeout=timeout, poll=poll, rds=rds, log=log)
    import psycopg2

    try:
        drop_local_database(instance_id, settings)
    except (TutorialError, psycopg2.Error) as exc:  # the instance is gone; its stand-in is a local matter
        problem = exc.problem if isinstance(exc, TutorialError) else str(exc).strip().splitlines()[0]
        log(f"note: could not drop the local stand-in database and role of {instance_id}: {problem}")
    log(f"{instance_id}: deleted")
