"""Lesson 02's plumbing: the RDS -> PostgreSQL bridge, and "my address" for the security group."""

from __future__ import annotations

import io
import urllib.error
from dataclasses import replace

import boto3
import psycopg2
import pytest
from support import create_postgres_instance

from helpers import net, rds
from helpers.errors import TutorialError

# --------------------------------------------------------------------------- my address


def test_local_address_is_loopback(settings):
    assert net.my_public_ip(settings) == "127.0.0.1"
    assert net.my_cidr(settings) == "127.0.0.1/32"


class _Answer(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _aws(settings):
    return replace(settings, backend="aws")


def test_aws_address_parsed_and_timeout_short(settings, monkeypatch):
    seen = {}

    def fake_urlopen(url, timeout):
        seen.update(url=url, timeout=timeout)
        return _Answer(b"8.8.4.4\n")

    monkeypatch.setattr(net.urllib.request, "urlopen", fake_urlopen)
    assert net.my_cidr(_aws(settings)) == "8.8.4.4/32"
    assert seen["url"] == net.CHECKIP_URL
    assert seen["timeout"] <= 10


@pytest.mark.parametrize("body", [b"<html>Please log in</html>", b"10.0.0.5\n"])
def test_aws_address_rejects_garbage_and_private(settings, monkeypatch, body):
    monkeypatch.setattr(net.urllib.request, "urlopen", lambda url, timeout: _Answer(body))
    with pytest.raises(TutorialError):
        net.my_public_ip(_aws(settings))


def test_aws_address_offline_is_a_clear_error(settings, monkeypatch):
    def offline(url, timeout):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(net.urllib.request, "urlopen", offline)
    with pytest.raises(TutorialError, match="internet connection"):
        net.my_public_ip(_aws(settings))


# --------------------------------------------------------------------------- the bridge


@pytest.fixture(scope="module")
def instance(local_stack):
    """A DB instance created as lesson 02 creates it, deleted afterwards."""
    instance_id = f"{local_stack.prefix}-testdb"
    client = boto3.client("rds", region_name=local_stack.region)
    try:
        create_postgres_instance(client, instance_id, DBName="my_database")
    except client.exceptions.DBInstanceAlreadyExistsFault:
        pass
    rds.wait_until_available(instance_id, local_stack)
    yield instance_id
    client.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
    rds.wait_until_deleted(instance_id, local_stack)


def test_connection_params_provision_a_working_database(local_stack, instance):
    params = rds.connection_params(instance, local_stack)
    assert params["dbname"].startswith("my_database__")
    # the role is per instance, never the server's own superuser
    assert params["user"] != "postgres" and params["user"].startswith("postgres__")
    conn = psycopg2.connect(**params)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1, current_user, current_database()")
            assert cur.fetchone() == (1, params["user"], params["dbname"])
    finally:
        conn.close()
    # idempotent: a second call reuses the role and database and still connects
    again = rds.connection_params(instance, local_stack)
    assert again == params
    psycopg2.connect(**again).close()


def test_wrong_password_is_refused(local_stack, instance):
    from helpers.local import postgres

    if not postgres.pg_target(local_stack).embedded:
        pytest.skip("DATABASE_URL servers may trust local connections; the embedded one checks passwords like RDS")
    params = rds.connection_params(instance, local_stack)
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(**{**params, "password": params["password"] + "x"})


def test_connection_params_for_a_missing_instance(local_stack):
    with pytest.raises(TutorialError, match="does not exist"):
        rds.connection_params(f"{local_stack.prefix}-nosuchdb", local_stack)


def test_connection_params_refuse_an_instance_that_is_still_creating(local_stack, capsys):
    """RDS has no endpoint for a creating instance; the bridge says to wait instead of a KeyError."""
    instance_id = f"{local_stack.prefix}-creating"
    client = boto3.client("rds", region_name=local_stack.region)
    create_postgres_instance(client, instance_id, BackupRetentionPeriod=0)
    try:
        assert local_stack.lifecycle, "these tests run with the AWS-like lifecycle on (the default)"
        with pytest.raises(TutorialError, match="'creating', not 'available'"):
            rds.connection_params(instance_id, local_stack)
        rds.wait_until_available(instance_id, local_stack)
        shown = capsys.readouterr().out
        assert f"{instance_id}: creating" in shown and f"{instance_id}: available" in shown
        assert rds.connection_params(instance_id, local_stack)["port"]
    finally:
        client.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
        rds.wait_until_deleted(instance_id, local_stack)
    assert f"{instance_id}: deleting" in capsys.readouterr().out


def test_polling_follows_the_backend(settings):
    import dataclasses

    assert rds.poll_interval(settings) == rds.LOCAL_POLL
    assert rds.poll_interval(dataclasses.replace(settings, backend="aws")) == rds.AWS_POLL


def test_a_deleted_instance_takes_all_its_stand_in_databases(local_stack):
    """Lesson 05's instance has DBName=bulk, lesson 02's my_database: whatever it was, the local
    stand-in goes when the instance goes, as RDS takes the data with it."""
    instance_id = f"{local_stack.prefix}-standin"
    client = boto3.client("rds", region_name=local_stack.region)
    create_postgres_instance(client, instance_id, DBName="bulk", BackupRetentionPeriod=0)
    rds.wait_until_available(instance_id, local_stack, poll=0.2)
    params = rds.connection_params(instance_id, local_stack)
    assert params["dbname"].startswith("bulk__")
    client.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
    rds.wait_until_deleted(instance_id, local_stack, poll=0.2)
    # the database is gone, and so is the role (PostgreSQL says so as a failed password for a
    # role it does not know, on a server that checks passwords)
    with pytest.raises(psycopg2.OperationalError, match="does not exist|password authentication failed"):
        psycopg2.connect(**params)


def test_waiting_gives_up_with_a_clear_message_and_no_hang(local_stack, monkeypatch):
    """An instance that stays `creating` past the timeout: a TutorialError that says RDS goes on.

    On an emulator of its own, paced at a minute a status, so that neither a busy machine can let
    the instance become available before the first look nor the slow pace reach other tests."""
    import os

    from support import emulator_process, use_moto

    env = {**os.environ, "TUTORIAL_AWS_LIFECYCLE": "on", "TUTORIAL_AWS_LIFECYCLE_PACE": "60"}
    with emulator_process(env) as url:
        use_moto(monkeypatch, url)
        instance_id = f"{local_stack.prefix}-slow"
        client = boto3.client("rds", region_name=local_stack.region)
        create_postgres_instance(client, instance_id, BackupRetentionPeriod=0)
        with pytest.raises(TutorialError, match="still 'creating'") as caught:
            rds.wait_until_available(instance_id, local_stack, timeout=0.2, poll=0.1)
        assert "keep waiting" in caught.value.fix


# --------------------------------------------------------------------------- stand-ins on a shared server

SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"  # CI's PostgreSQL server (.ci/run starts it)


@pytest.fixture(params=["configured", "DATABASE_URL server"])
def pg_settings(request, local_stack):
    """The stack's settings as configured (the embedded PostgreSQL, unless DATABASE_URL is set), and
    pointed at the PostgreSQL server CI uses, a server that outlives every run."""
    if request.param == "configured":
        return local_stack
    try:
        psycopg2.connect(SERVER_URL, connect_timeout=3).close()
    except psycopg2.OperationalError:
        pytest.skip(f"no PostgreSQL server at {SERVER_URL} (.ci/run starts one)")
    return replace(local_stack, database_url=SERVER_URL)


def _on_server(settings, query: str, *args) -> list:
    from helpers.local import postgres

    conn = postgres.admin_connect(settings)
    try:
        with conn.cursor() as cur:
            cur.execute(query, args)
            return [row[0] for row in cur.fetchall()]
    finally:
        conn.close()


def test_a_deleted_instance_leaves_neither_its_database_nor_its_role(pg_settings):
    """RDS takes the data and the master user with the instance; the stand-ins go too, even where the
    role owns something in another database of the server, so that roles never pile up on a server
    that many runs share."""
    from psycopg2 import sql

    from helpers.local import postgres

    instance_id = f"{pg_settings.prefix}-roles"
    client = boto3.client("rds", region_name=pg_settings.region)
    client.create_db_instance(  # as lesson 05 makes its instance: another database and master user
        DBInstanceIdentifier=instance_id,
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        DBName="bulk",
        MasterUsername="bulk_admin",
        ManageMasterUserPassword=True,
        BackupRetentionPeriod=0,
    )
    elsewhere = f"{pg_settings.prefix}_elsewhere".replace("-", "_")
    admin = postgres.admin_connect(pg_settings)
    admin.autocommit = True
    try:
        rds.wait_until_available(instance_id, pg_settings, poll=0.2)
        params = rds.connection_params(instance_id, pg_settings)
        role, database = params["user"], params["dbname"]
        assert role.startswith("bulk_admin__") and database.startswith("bulk__")
        with psycopg2.connect(**params) as conn, conn.cursor() as cur:  # the learner's own table
            cur.execute("CREATE TABLE IF NOT EXISTS users (id integer PRIMARY KEY)")
        conn.close()
        with admin.cursor() as cur:  # and something the role owns in another database of the server
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(elsewhere)))
        other = postgres.admin_connect(pg_settings, dbname=elsewhere)
        with other, other.cursor() as cur:
            cur.execute("CREATE TABLE left_behind (id integer)")
            cur.execute(sql.SQL("ALTER TABLE left_behind OWNER TO {}").format(sql.Identifier(role)))
        other.close()

        client.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
        rds.wait_until_deleted(instance_id, pg_settings, poll=0.2)

        assert _on_server(pg_settings, "SELECT datname FROM pg_database WHERE datname = %s", database) == []
        assert _on_server(pg_settings, "SELECT rolname FROM pg_roles WHERE rolname = %s", role) == []
    finally:
        if rds.describe(instance_id, pg_settings, client) is not None:
            client.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
            rds.wait_until_deleted(instance_id, pg_settings, poll=0.2)
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(elsewhere)))
        admin.close()


def test_status_shown_makes_a_waiter_tell_each_status_and_says_what_to_do_when_it_stops(local_stack):
    """Lesson 02's waiter, boto3's db_instance_available, logs "creating" then "available" inside
    status_shown, stops listening afterwards, and a waiter on no instance becomes a TutorialError."""
    instance_id = f"{local_stack.prefix}-waiter"
    client = boto3.client("rds", region_name=local_stack.region)
    create_postgres_instance(client, instance_id, BackupRetentionPeriod=0)
    lines: list[str] = []
    try:
        with rds.status_shown(client, instance_id, log=lines.append):
            client.get_waiter("db_instance_available").wait(
                DBInstanceIdentifier=instance_id, WaiterConfig={"Delay": 0.5, "MaxAttempts": 120}
            )
        assert [line.split(": ", 1)[1] for line in lines] == ["creating", "available"], lines
        client.describe_db_instances(DBInstanceIdentifier=instance_id)
        assert len(lines) == 2, "the listener is gone once the block ends"
    finally:
        client.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
        rds.wait_until_deleted(instance_id, local_stack)
    missing = f"{local_stack.prefix}-nowaiter"
    with pytest.raises(TutorialError, match="creates it first"), rds.status_shown(client, missing, log=lines.append):
        client.get_waiter("db_instance_available").wait(
            DBInstanceIdentifier=missing, WaiterConfig={"Delay": 0.5, "MaxAttempts": 2}
        )
