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
import time

from helpers.errors import TutorialError
from helpers.settings import Settings, load_settings

WAIT_TIMEOUT = 30 * 60  # RDS creation takes 5-15 minutes on AWS
# How often to ask. On AWS a status lasts minutes and every call counts against the API's
# rate limit; on the local backend a status lasts TUTORIAL_AWS_LIFECYCLE_PACE seconds.
AWS_POLL = 15.0
LOCAL_POLL = 0.5


def poll_interval(settings: Settings) -> float:
    """Seconds between two status checks on this backend."""
    return LOCAL_POLL if settings.is_local else AWS_POLL


def _local_dbname(instance_id: str, dbname: str) -> str:
    return f"{dbname}__{instance_id}".replace("-", "_")[:63]


def _local_role(instance_id: str, user: str) -> str:
    return f"{user}__{instance_id}".replace("-", "_")[:63]


def describe(instance_id: str, settings: Settings | None = None) -> dict | None:
    """The DB instance description, or None if it does not exist."""
    from helpers.aws import client

    settings = settings or load_settings()
    rds = client("rds", settings)
    try:
        return rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
    except rds.exceptions.DBInstanceNotFoundFault:
        return None


def wait_until_available(
    instance_id: str, settings: Settings | None = None, *, timeout: float = WAIT_TIMEOUT, poll: float | None = None
) -> dict:
    """Poll until the instance is ``available``, printing each status change.

    Why not the boto3 waiter alone: it is silent for up to half an hour, and a
    silent cell is how learners conclude the notebook is frozen.
    """
    settings = settings or load_settings()
    poll = poll_interval(settings) if poll is None else poll
    start = time.monotonic()
    last = None
    while True:
        db = describe(instance_id, settings)
        if db is None:
            raise TutorialError(f"DB instance {instance_id} does not exist.", "Run the cell that creates it first.")
        state = db["DBInstanceStatus"]
        if state != last:
            print(f"[{time.monotonic() - start:5.0f} s] {instance_id}: {state}")
            last = state
        if state == "available":
            return db
        if state in {"failed", "incompatible-parameters", "incompatible-network", "storage-full", "deleting"}:
            raise TutorialError(f"DB instance {instance_id} is {state!r}.", "Check it in the RDS console.")
        if time.monotonic() - start > timeout:
            raise TutorialError(
                f"DB instance {instance_id} is still {state!r} after {timeout / 60:.0f} minutes.",
                "Re-run this cell to keep waiting, or check the RDS console for events.",
            )
        time.sleep(poll)


def master_secret(db: dict, settings: Settings) -> dict:
    """Username and password from the secret RDS manages for this instance."""
    from helpers.aws import client

    arn = (db.get("MasterUserSecret") or {}).get("SecretArn")
    if not arn:
        raise TutorialError(
            f"DB instance {db['DBInstanceIdentifier']} has no managed master secret.",
            "Create it with ManageMasterUserPassword=True, as lesson 02 does.",
        )
    value = client("secretsmanager", settings).get_secret_value(SecretId=arn)
    return json.loads(value["SecretString"])


def connection_params(instance_id: str, settings: Settings | None = None) -> dict:
    """Keyword arguments for ``psycopg2.connect(**params)`` for this DB instance."""
    settings = settings or load_settings()
    db = describe(instance_id, settings)
    if db is None:
        raise TutorialError(f"DB instance {instance_id} does not exist.", "Run lesson 02's create cell first.")
    if db["DBInstanceStatus"] != "available" or "Endpoint" not in db:
        # RDS gives no endpoint while an instance is creating, and refuses connections while it
        # is deleting, stopped or failed: say so instead of failing on a missing key.
        raise TutorialError(
            f"DB instance {instance_id} is {db['DBInstanceStatus']!r}, not 'available': it takes no connections yet.",
            "Wait for it first: helpers.rds.wait_until_available(...) (lesson 02's waiting cell).",
        )
    secret = master_secret(db, settings)
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
    from helpers import stack

    target = stack.pg_target(settings)
    local_db = _local_dbname(instance_id, dbname)
    local_user = _local_role(instance_id, db.get("MasterUsername") or secret["username"])
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

    from helpers import stack

    conn = stack.admin_connect(settings)
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


def drop_local_database(instance_id: str, dbname: str = "my_database", settings: Settings | None = None) -> bool:
    """Drop the local stand-in database of a deleted instance (its data goes, as on RDS)."""
    from psycopg2 import sql

    from helpers import stack

    settings = settings or load_settings()
    if not settings.is_local:
        return False
    local_db = _local_dbname(instance_id, dbname)
    conn = stack.admin_connect(settings)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (local_db,))
            if not cur.fetchone():
                return False
            cur.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(local_db)))
            return True
    finally:
        conn.close()


def wait_until_deleted(
    instance_id: str,
    settings: Settings | None = None,
    *,
    timeout: float = WAIT_TIMEOUT,
    poll: float | None = None,
    dbname: str = "my_database",
) -> None:
    """Poll until the instance is gone; on the local backend, drop its stand-in database too."""
    settings = settings or load_settings()
    poll = poll_interval(settings) if poll is None else poll
    start = time.monotonic()
    last = None
    while (db := describe(instance_id, settings)) is not None:
        state = db["DBInstanceStatus"]
        if state != last:
            print(f"[{time.monotonic() - start:5.0f} s] {instance_id}: {state}")
            last = state
        if time.monotonic() - start > timeout:
            raise TutorialError(
                f"DB instance {instance_id} is still {state!r} after {timeout / 60:.0f} minutes.",
                "Re-run this cell to keep waiting.",
            )
        time.sleep(poll)
    drop_local_database(instance_id, dbname, settings)
    print(f"{instance_id}: deleted")
