"""The emulator's Athena runs queries as Athena does (helpers/local/athena_engine.py).

Each behaviour follows the Athena API reference, cited in the module: states QUEUED -> RUNNING ->
SUCCEEDED observed by polling, FAILED with a reason, results with a header row and NextToken
paging, the result file at ``<OutputLocation><QueryExecutionId>.csv``, and DataScannedInBytes
that counts what was really read (fewer bytes for two Parquet columns than for the CSV, fewer for
one partition than for all). Tests run against a private emulator started by the stack's own
launcher; one runs with ``TUTORIAL_AWS_ATHENA=off`` to show that moto's own answer differs.
"""

from __future__ import annotations

import io
import os
import threading
import time

import boto3
import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError
from support import emulator_process

from helpers.local import athena_engine, stack

BUCKET = "athena-engine-tests"
OUTPUT = f"s3://{BUCKET}/athena-results/"
ROWS = 2500  # more than one page of GetQueryResults (1000 rows)
PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}
CSV = {
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe",
        "Parameters": {"field.delim": ","},
    },
}
COLUMNS = [
    {"Name": "trip_id", "Type": "bigint"},
    {"Name": "fare", "Type": "double"},
    {"Name": "city", "Type": "string"},
    {"Name": "pickup", "Type": "date"},
    {"Name": "note", "Type": "string"},
]
TERMINAL = {"SUCCEEDED", "FAILED", "CANCELLED"}


def trips(rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """A wide-ish table: two numeric columns a question needs, and text it does not."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "trip_id": np.arange(rows, dtype="int64"),
            "fare": np.round(rng.uniform(3, 60, rows), 2),
            "city": rng.choice(["Lisbon", "Porto", "Braga"], rows),
            "pickup": pd.to_datetime("2024-04-01") + pd.to_timedelta(np.arange(rows) % 60, "D"),
            "note": [f"trip number {i} with a note nobody reads " * 3 for i in range(rows)],
        }
    )


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.to_parquet(out, index=False)
    return out.getvalue()


@pytest.fixture(scope="module")
def emulator():
    """The stack's emulator, paced fast (a tenth of a second per state) unless a test re-paces it."""
    env = {**os.environ, "TUTORIAL_AWS_LIFECYCLE_PACE": "0.4", "TUTORIAL_AWS_ATHENA": "on"}
    with emulator_process(env) as url:
        yield url


def clients(url: str):
    options = {
        "endpoint_url": url,
        "region_name": "us-east-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",  # noqa: S106 - the emulator's dummy key
    }
    return boto3.client("s3", **options), boto3.client("glue", **options), boto3.client("athena", **options)


def make_lake(url: str, database: str, frame: pd.DataFrame) -> None:
    """One participant's lake: the frame as CSV, as Parquet, and as Parquet partitioned by month."""
    s3, glue, _ = clients(url)
    try:
        s3.create_bucket(Bucket=BUCKET)
    except ClientError:
        pass
    root = f"{database}/"
    s3.put_object(Bucket=BUCKET, Key=f"{root}csv/trips.csv", Body=frame.to_csv(index=False).encode())
    s3.put_object(Bucket=BUCKET, Key=f"{root}parquet/trips.parquet", Body=parquet_bytes(frame))
    s3.put_object(Bucket=BUCKET, Key=f"{root}parquet/_SUCCESS", Body=b"not data")
    months = frame["pickup"].dt.strftime("%m")
    for month in sorted(months.unique()):
        part = frame[months == month]
        s3.put_object(
            Bucket=BUCKET, Key=f"{root}by_month/year=2024/month={month}/part-0.parquet", Body=parquet_bytes(part)
        )
    glue.create_database(DatabaseInput={"Name": database})
    location = f"s3://{BUCKET}/{root}"
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "trips_csv",
            "Parameters": {"skip.header.line.count": "1", "classification": "csv"},
            "StorageDescriptor": {"Columns": COLUMNS, "Location": location + "csv/", **CSV},
        },
    )
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "trips",
            "StorageDescriptor": {"Columns": COLUMNS, "Location": location + "parquet/", **PARQUET},
        },
    )
    glue.create_table(
        DatabaseName=database,
        TableInput={
            "Name": "trips_by_month",
            "PartitionKeys": [{"Name": "year", "Type": "string"}, {"Name": "month", "Type": "string"}],
            "StorageDescriptor": {"Columns": COLUMNS, "Location": location + "by_month/", **PARQUET},
        },
    )


@pytest.fixture(scope="module")
def lake(emulator):
    """The emulator with one participant's lake in database ``ds_aaaaaa_lake``; yields (url, database, frame)."""
    frame = trips()
    make_lake(emulator, "ds_aaaaaa_lake", frame)
    return emulator, "ds_aaaaaa_lake", frame


def start(athena, sql: str, database: str, output: str = OUTPUT) -> str:
    return athena.start_query_execution(
        QueryString=sql,
        QueryExecutionContext={"Database": database},
        ResultConfiguration={"OutputLocation": output},
    )["QueryExecutionId"]


def wait(athena, query_id: str, seen: list[str] | None = None, timeout: float = 120) -> dict:
    """Poll GetQueryExecution until the query ends, as a learner's loop does; every state change in ``seen``."""
    deadline = time.monotonic() + timeout
    while True:
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        state = execution["Status"]["State"]
        if seen is not None and (not seen or seen[-1] != state):
            seen.append(state)
        if state in TERMINAL:
            return execution
        assert time.monotonic() < deadline, f"query {query_id} still {state}"
        time.sleep(0.02)


def run(url: str, sql: str, database: str) -> dict:
    _, _, athena = clients(url)
    return wait(athena, start(athena, sql, database))


def all_rows(athena, query_id: str) -> list[list[str | None]]:
    rows = []
    for page in athena.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
        rows += [[cell.get("VarCharValue") for cell in row["Data"]] for row in page["ResultSet"]["Rows"]]
    return rows


def scanned(url: str, sql: str, database: str) -> int:
    execution = run(url, sql, database)
    assert execution["Status"]["State"] == "SUCCEEDED", execution["Status"]
    return execution["Statistics"]["DataScannedInBytes"]


# --------------------------------------------------------------------------- states


def test_states_go_queued_running_succeeded(lake):
    url, database, _ = lake
    _, _, athena = clients(url)
    stack.set_lifecycle(url, True, 4.0)  # a second per state: polling every 20 ms sees each one
    try:
        seen: list[str] = []
        execution = wait(athena, start(athena, "SELECT count(*) FROM trips", database), seen)
    finally:
        stack.set_lifecycle(url, True, 0.4)
    assert seen == ["QUEUED", "RUNNING", "SUCCEEDED"]
    status = execution["Status"]
    assert status["CompletionDateTime"] >= status["SubmissionDateTime"]
    statistics = execution["Statistics"]
    assert statistics["TotalExecutionTimeInMillis"] >= statistics["QueryQueueTimeInMillis"] > 0
    assert statistics["EngineExecutionTimeInMillis"] > 0


def test_results_wait_for_the_query(lake):
    url, database, _ = lake
    _, _, athena = clients(url)
    stack.set_lifecycle(url, True, 4.0)
    try:
        query_id = start(athena, "SELECT count(*) FROM trips", database)
        with pytest.raises(ClientError) as refused:
            athena.get_query_results(QueryExecutionId=query_id)
        wait(athena, query_id)
    finally:
        stack.set_lifecycle(url, True, 0.4)
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"
    assert "not yet finished" in refused.value.response["Error"]["Message"]


def test_stop_cancels_a_queued_query(lake):
    url, database, _ = lake
    _, _, athena = clients(url)
    stack.set_lifecycle(url, True, 4.0)
    try:
        query_id = start(athena, "SELECT count(*) FROM trips", database)
        athena.stop_query_execution(QueryExecutionId=query_id)
        execution = wait(athena, query_id)
    finally:
        stack.set_lifecycle(url, True, 0.4)
    assert execution["Status"]["State"] == "CANCELLED"
    with pytest.raises(ClientError):
        athena.get_query_results(QueryExecutionId=query_id)


# --------------------------------------------------------------------------- results


def test_result_rows_start_with_the_header(lake):
    url, database, frame = lake
    _, _, athena = clients(url)
    query_id = start(
        athena,
        'SELECT city, count(*) AS trips, round(sum(fare), 2) FROM "ds_aaaaaa_lake"."trips" GROUP BY city ORDER BY city',
        database,
    )
    assert wait(athena, query_id)["Status"]["State"] == "SUCCEEDED"
    answer = athena.get_query_results(QueryExecutionId=query_id)
    rows = [[cell.get("VarCharValue") for cell in row["Data"]] for row in answer["ResultSet"]["Rows"]]
    expected = frame.groupby("city").agg(trips=("trip_id", "size"), total=("fare", "sum")).sort_index()
    assert rows[0] == ["city", "trips", "_col2"]  # Athena names an unaliased expression _colN
    assert [r[0] for r in rows[1:]] == list(expected.index)
    assert [int(r[1]) for r in rows[1:]] == list(expected["trips"])
    assert [float(r[2]) for r in rows[1:]] == pytest.approx(list(expected["total"].round(2)))
    types = [c["Type"] for c in answer["ResultSet"]["ResultSetMetadata"]["ColumnInfo"]]
    assert types == ["varchar", "bigint", "double"]
    assert "NextToken" not in answer


def test_types_and_nulls_read_as_athena_writes_them(lake):
    url, database, frame = lake
    _, _, athena = clients(url)
    query_id = start(
        athena, "SELECT trip_id, pickup, NULL AS nothing, 7 / 2 AS halves FROM trips ORDER BY trip_id LIMIT 1", database
    )
    assert wait(athena, query_id)["Status"]["State"] == "SUCCEEDED"
    rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
    assert rows[1]["Data"][0] == {"VarCharValue": "0"}
    assert rows[1]["Data"][1] == {"VarCharValue": frame["pickup"][0].strftime("%Y-%m-%d")}
    assert rows[1]["Data"][2] == {}  # NULL: no VarCharValue
    assert rows[1]["Data"][3] == {"VarCharValue": "3"}  # integer division, as in Trino


def test_paging_with_next_token_across_more_than_1000_rows(lake):
    url, database, frame = lake
    _, _, athena = clients(url)
    query_id = start(athena, "SELECT trip_id FROM trips ORDER BY trip_id", database)
    assert wait(athena, query_id)["Status"]["State"] == "SUCCEEDED"
    first = athena.get_query_results(QueryExecutionId=query_id)
    assert len(first["ResultSet"]["Rows"]) == 1000 and first["NextToken"]
    rows = all_rows(athena, query_id)
    assert rows[0] == ["trip_id"]
    assert [int(r[0]) for r in rows[1:]] == list(frame["trip_id"])
    small = athena.get_query_results(QueryExecutionId=query_id, MaxResults=10, NextToken=first["NextToken"])
    assert [r["Data"][0]["VarCharValue"] for r in small["ResultSet"]["Rows"]] == [str(i) for i in range(999, 1009)]
    with pytest.raises(ClientError) as refused:
        athena.get_query_results(QueryExecutionId=query_id, MaxResults=1001)
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"


def test_result_csv_is_stored_at_the_documented_key(lake):
    url, database, _ = lake
    s3, _, athena = clients(url)
    query_id = start(athena, "SELECT city, trip_id FROM trips WHERE trip_id < 2 ORDER BY trip_id", database)
    execution = wait(athena, query_id)
    assert execution["ResultConfiguration"]["OutputLocation"] == f"{OUTPUT}{query_id}.csv"
    body = s3.get_object(Bucket=BUCKET, Key=f"athena-results/{query_id}.csv")["Body"].read().decode()
    lines = body.splitlines()
    assert lines[0] == '"city","trip_id"'
    assert lines[1].endswith(',"0"') and lines[1].startswith('"')
    assert len(lines) == 3


def test_output_location_comes_from_the_workgroup_or_is_required(lake):
    url, database, _ = lake
    _, _, athena = clients(url)
    with pytest.raises(ClientError) as refused:
        athena.start_query_execution(QueryString="SELECT 1", QueryExecutionContext={"Database": database})
    assert "output location" in refused.value.response["Error"]["Message"]
    athena.create_work_group(
        Name="ds-aaaaaa-lake",
        Configuration={"ResultConfiguration": {"OutputLocation": f"s3://{BUCKET}/workgroup-results/"}},
    )
    query_id = athena.start_query_execution(
        QueryString="SELECT 1", QueryExecutionContext={"Database": database}, WorkGroup="ds-aaaaaa-lake"
    )["QueryExecutionId"]
    execution = wait(athena, query_id)
    assert execution["WorkGroup"] == "ds-aaaaaa-lake"
    assert execution["ResultConfiguration"]["OutputLocation"] == f"s3://{BUCKET}/workgroup-results/{query_id}.csv"
    assert query_id in athena.list_query_executions(WorkGroup="ds-aaaaaa-lake")["QueryExecutionIds"]


# --------------------------------------------------------------------------- bytes scanned


def test_parquet_two_columns_scan_less_than_csv(lake):
    url, database, _ = lake
    question = "SELECT city, avg(fare) FROM {} GROUP BY city"
    csv_bytes = scanned(url, question.format("trips_csv"), database)
    parquet_bytes_read = scanned(url, question.format("trips"), database)
    s3, _, _ = clients(url)
    csv_size = s3.head_object(Bucket=BUCKET, Key=f"{database}/csv/trips.csv")["ContentLength"]
    assert csv_bytes == csv_size  # a CSV is read whole
    assert 0 < parquet_bytes_read < csv_bytes / 5


def test_partition_pruning_reads_only_the_partitions_asked_for(lake):
    url, database, _ = lake
    s3, _, _ = clients(url)
    assert run(url, "MSCK REPAIR TABLE trips_by_month", database)["Status"]["State"] == "SUCCEEDED"
    full = scanned(url, "SELECT * FROM trips_by_month", database)
    one = scanned(url, "SELECT * FROM trips_by_month WHERE year = '2024' AND month = '05'", database)
    may = s3.head_object(Bucket=BUCKET, Key=f"{database}/by_month/year=2024/month=05/part-0.parquet")
    assert 0 < one <= may["ContentLength"]  # that partition's one file, and nothing of the others
    assert one < full / 2


def test_partitioned_table_without_partitions_returns_no_rows(emulator):
    make_lake(emulator, "ds_cccccc_lake", trips(50))
    _, _, athena = clients(emulator)
    query_id = start(athena, "SELECT count(*) FROM trips_by_month", "ds_cccccc_lake")
    execution = wait(athena, query_id)
    assert execution["Status"]["State"] == "SUCCEEDED"
    assert execution["Statistics"]["DataScannedInBytes"] == 0
    assert all_rows(athena, query_id) == [["_col0"], ["0"]]
    repaired = start(athena, "MSCK REPAIR TABLE ds_cccccc_lake.trips_by_month", "ds_cccccc_lake")
    assert wait(athena, repaired)["StatementType"] == "DDL"
    assert any("Added partition" in (r[0] or "") for r in all_rows(athena, repaired))
    again = start(athena, "SELECT count(*) FROM trips_by_month", "ds_cccccc_lake")
    wait(athena, again)
    assert all_rows(athena, again)[1] == ["50"]


# --------------------------------------------------------------------------- failures


def test_missing_table_fails_with_a_clear_reason(lake):
    url, database, _ = lake
    _, _, athena = clients(url)
    query_id = start(athena, "SELECT * FROM no_such_table", database)
    execution = wait(athena, query_id)
    status = execution["Status"]
    assert status["State"] == "FAILED"
    assert "TABLE_NOT_FOUND" in status["StateChangeReason"]
    assert f"{database}.no_such_table" in status["StateChangeReason"]
    assert status["AthenaError"]["ErrorCategory"] == 2  # USER
    with pytest.raises(ClientError) as refused:
        athena.get_query_results(QueryExecutionId=query_id)
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"


def test_wrong_sql_fails(lake):
    url, database, _ = lake
    cases = (
        ("SELEC 1", "SYNTAX_ERROR"),
        ("SELECT 1; SELECT 2", "SYNTAX_ERROR: Only one sql statement"),
        ("SELECT no_such_column FROM trips", "COLUMN_NOT_FOUND"),
        ("CREATE DATABASE elsewhere", "NOT_SUPPORTED"),
        ("SELECT date_format(pickup, '%Y-%m') FROM trips", "FUNCTION_NOT_FOUND"),  # Trino's, not DuckDB's
    )
    for sql, code in cases:
        status = run(url, sql, database)["Status"]
        assert status["State"] == "FAILED", sql
        assert status["StateChangeReason"].startswith(code), status


def test_unknown_query_id_is_refused(lake):
    url, _, _ = lake
    _, _, athena = clients(url)
    with pytest.raises(ClientError) as refused:
        athena.get_query_execution(QueryExecutionId="00000000-0000-0000-0000-000000000000")
    assert refused.value.response["Error"]["Code"] == "InvalidRequestException"


# --------------------------------------------------------------------------- participants


def test_two_participants_at_once_do_not_mix(emulator):
    frames = {"ds_dddddd_lake": trips(300, seed=1), "ds_eeeeee_lake": trips(700, seed=2)}
    for database, frame in frames.items():
        make_lake(emulator, database, frame)
    answers: dict[str, tuple[dict, list]] = {}

    def ask(database: str) -> None:
        _, _, athena = clients(emulator)
        output = f"s3://{BUCKET}/{database}/athena-results/"
        query_id = start(athena, "SELECT count(*) AS n, round(sum(fare), 2) AS total FROM trips", database, output)
        answers[database] = (wait(athena, query_id), all_rows(athena, query_id))

    threads = [threading.Thread(target=ask, args=(database,)) for database in frames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for database, frame in frames.items():
        execution, rows = answers[database]
        assert execution["ResultConfiguration"]["OutputLocation"].startswith(
            f"s3://{BUCKET}/{database}/athena-results/"
        )
        assert rows[0] == ["n", "total"]
        assert int(rows[1][0]) == len(frame)
        assert float(rows[1][1]) == pytest.approx(round(frame["fare"].sum(), 2))


# --------------------------------------------------------------------------- the switch


def test_switched_off_moto_answers():
    env = {**os.environ, "TUTORIAL_AWS_ATHENA": "off", "TUTORIAL_AWS_LIFECYCLE": "off"}
    with emulator_process(env) as url:
        make_lake(url, "ds_ffffff_lake", trips(20))
        s3, _, athena = clients(url)
        query_id = start(athena, "SELECT count(*) FROM trips", "ds_ffffff_lake")
        execution = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
        rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
        listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="athena-results/").get("KeyCount", 0)
    assert execution["Status"]["State"] == "SUCCEEDED"  # moto: at once
    assert rows == []  # moto runs no SQL
    assert listed == 0  # and writes no result file


# --------------------------------------------------------------------------- pieces


def test_values_print_as_trino_prints_them():
    assert athena_engine.java_double(2.5) == "2.5"
    assert athena_engine.java_double(10.0) == "10.0"
    assert athena_engine.java_double(1e7) == "1.0E7"
    assert athena_engine.java_double(0.0001234) == "1.234E-4"
    assert athena_engine.as_text(0.1, "FLOAT") == "0.1"  # a REAL prints its own digits, not a double's
    assert athena_engine.as_text(True) == "true"
    assert athena_engine.as_text(None) is None
    assert athena_engine.as_text([1, None]) == "[1, null]"


def test_glue_types_map_to_duckdb_types():
    assert athena_engine.duckdb_type("string") == "VARCHAR"
    assert athena_engine.duckdb_type("decimal(10,2)") == "DECIMAL(10,2)"
    assert athena_engine.duckdb_type("array<int>") == "INTEGER[]"
    assert (
        athena_engine.duckdb_type("struct<a:int,b:map<string,double>>")
        == 'STRUCT("a" INTEGER, "b" MAP(VARCHAR, DOUBLE))'
    )


def test_execution_parameters_fill_placeholders_outside_strings():
    sql = "SELECT '?' FROM t WHERE a = ? AND b = ?"
    assert athena_engine.substitute_parameters(sql, ["1", "'x'"]) == "SELECT '?' FROM t WHERE a = 1 AND b = 'x'"


def test_switch_reads_the_environment():
    assert athena_engine.enabled_from_env({}) is True
    assert athena_engine.enabled_from_env({"TUTORIAL_AWS_ATHENA": "off"}) is False
