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
    with pytest.raises(psycopg2.OperationalError, match="does not exist"):
        psycopg2.connect(**params)


def test_waiting_gives_up_with_a_clear_message_and_no_hang(local_stack):
    """An instance that stays `creating` past the timeout: a TutorialError that says RDS goes on."""
    instance_id = f"{local_stack.prefix}-slow"
    client = boto3.client("rds", region_name=local_stack.region)
    create_postgres_instance(client, instance_id, BackupRetentionPeriod=0)
    try:
        with pytest.raises(TutorialError, match="still 'creating'") as caught:
            rds.wait_until_available(instance_id, local_stack, timeout=0.2, poll=0.1)
        assert "keep waiting" in caught.value.fix
    finally:
        rds.wait_until_available(instance_id, local_stack)
        client.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
        rds.wait_until_deleted(instance_id, local_stack)
