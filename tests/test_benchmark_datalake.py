"""The data lake benchmark (benchmarks/datalake.py): its meter, its targets, its report, its place in RESULTS.md.

Small sizes and no timing: what is checked is that bytes are counted where S3 sends them, that each
target can be missed as well as met, and that a real run at a small size reports every path with
the byte relations the lesson teaches (Parquet reads a fraction of the CSV, a partitioned read
touches only its partition) and answers that agree.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import counting_emulator as ce
from benchmarks import datalake as dl

# --------------------------------------------------------------------------- the meter (no server)


def _app(status: str = "200 OK", body: bytes = b"x" * 100):
    def app(environ, start_response):
        start_response(status, [("Content-Length", str(len(body)))])
        return iter([body[:60], body[60:]])

    return app


def _call(app, method: str, path: str, query: str = "") -> tuple[str, bytes]:
    seen = []
    out = app(
        {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query},
        lambda status, headers, exc_info=None: seen.append(status),
    )
    body = b"".join(out)
    getattr(out, "close", lambda: None)()
    return seen[0], body


def test_the_meter_counts_the_bytes_of_object_gets_only():
    reads = ce.Reads()
    metered = ce.metered(_app(), reads)
    _call(metered, "GET", "/bench-lake/lake/a%20b.csv")
    _call(ce.metered(_app("206 Partial Content", b"y" * 10), reads), "GET", "/bench-lake/lake/a%20b.csv")
    _call(metered, "GET", "/bench-lake")  # a listing: no object read
    _call(metered, "GET", "/bench-lake/", "list-type=2&prefix=lake/")
    _call(metered, "HEAD", "/bench-lake/lake/a%20b.csv")
    _call(metered, "PUT", "/bench-lake/lake/c.csv")
    _call(metered, "GET", "/bench-lake/lake/a%20b.csv", "tagging")  # the object's tags, not its bytes
    _call(ce.metered(_app("404 Not Found"), reads), "GET", "/bench-lake/lake/missing.csv")
    assert reads.snapshot() == {"bench-lake/lake/a b.csv": [2, 110]}


def test_the_meter_answers_and_resets_on_its_control_path():
    reads = ce.Reads()
    metered = ce.metered(_app(), reads)
    _call(metered, "GET", "/bench-lake/k.parquet")
    status, body = _call(metered, "GET", ce.CONTROL_PATH)
    assert status.startswith("200") and json.loads(body) == {"objects": {"bench-lake/k.parquet": [1, 100]}}
    _call(metered, "DELETE", ce.CONTROL_PATH)
    assert reads.snapshot() == {}


# --------------------------------------------------------------------------- targets (made-up rows)

SIZES = {
    dl.CSV_KEY: 1_000_000,
    dl.PARQUET_KEY: 300_000,
    f"{dl.PARTITIONED}/year=2024/month=01/part-0.parquet": 100_000,
    f"{dl.PARTITIONED}/year=2024/month=05/part-0.parquet": 100_000,
}
LAKE = dl.Lake(bucket="b", sizes=SIZES, rows=1000)
MAY = f"{dl.PARTITIONED}/year=2024/month=05/part-0.parquet"
JAN = f"{dl.PARTITIONED}/year=2024/month=01/part-0.parquet"


def _row(tool, storage, seconds=1.0, nbytes=0, reads=None, ok=True, metered=True) -> dl.Measured:
    reads = reads or {}
    return dl.Measured(
        tool=tool,
        storage=storage,
        method="m",
        seconds=seconds,
        runs=1,
        bytes_read=nbytes if not reads else sum(b for _, b in reads.values()),
        gets=sum(g for g, _ in reads.values()),
        objects=sorted(reads),
        answer_ok=ok,
        extra={"reads": reads},
        metered=metered,
    )


def _targets(rows):
    return {t["target"]: t for t in dl.check_targets(rows, LAKE)}


def test_parquet_must_read_at_most_a_fifth_of_the_csv():
    fifth = "DuckDB: Parquet reads at most a fifth of the CSV's bytes for the question"
    met = _targets([_row("DuckDB", "CSV", nbytes=1_000_000), _row("DuckDB", "Parquet", nbytes=200_000)])
    assert met[fifth]["met"] is True
    missed = _targets([_row("DuckDB", "CSV", nbytes=1_000_000), _row("DuckDB", "Parquet", nbytes=200_001)])
    assert missed[fifth]["met"] is False


def test_a_partitioned_read_may_touch_only_its_partition_and_one_schema_footer():
    target = "pandas: partition pruning reads only month=05"
    only_may = _targets([_row("pandas", "partitioned Parquet", reads={MAY: (2, 40_000)})])
    assert only_may[target]["met"] is True
    footer = _targets([_row("pandas", "partitioned Parquet", reads={MAY: (2, 40_000), JAN: (1, 65_536)})])
    assert footer[target]["met"] is True and "(the schema)" in footer[target]["measured"]
    # January's data read too: a second GET, or more than a footer, is not pruning
    for jan in [(2, 30_000), (1, 65_537)]:
        read_jan = _targets([_row("pandas", "partitioned Parquet", reads={MAY: (2, 40_000), JAN: jan})])
        assert read_jan[target]["met"] is False, jan
    nothing = _targets([_row("pandas", "partitioned Parquet", reads={JAN: (1, 1000)})])
    assert nothing[target]["met"] is False


def test_athena_pruning_is_judged_by_data_scanned():
    target = "Athena (local): partition pruning reads only month=05"
    ok = _targets([_row("Athena (local)", "partitioned Parquet", nbytes=60_000, metered=False)])
    assert ok[target]["met"] is True
    too_much = _targets([_row("Athena (local)", "partitioned Parquet", nbytes=100_001, metered=False)])
    assert too_much[target]["met"] is False
    assert _targets([_row("Athena (local)", "partitioned Parquet", nbytes=0, metered=False)])[target]["met"] is False


def test_duckdb_over_parquet_must_be_five_times_faster_than_pandas_over_the_whole_csv():
    target = "DuckDB over Parquet at least 5x faster than pandas reading the whole CSV"
    met = _targets([_row("pandas", "CSV", seconds=5.0), _row("DuckDB", "Parquet", seconds=1.0)])
    assert met[target]["met"] is True and met[target]["measured"].startswith("5.0x")
    missed = _targets([_row("pandas", "CSV", seconds=4.9), _row("DuckDB", "Parquet", seconds=1.0)])
    assert missed[target]["met"] is False


def test_a_wrong_answer_is_named_and_a_path_not_measured_counts_for_nothing():
    agree = "every path gives the answer computed in memory"
    found = _targets([_row("pandas", "CSV"), _row("DuckDB", "CSV", ok=False)])
    assert found[agree]["met"] is False and "DuckDB CSV" in found[agree]["measured"]
    not_measured = dl.Measured("Athena (local)", "CSV", "not measured", 0.0, 0, None, 0, [], None, "absent")
    assert _targets([not_measured]) == {}
    assert dl.answers_agree({"bus": 1.0}, {"bus": 1.005}) and not dl.answers_agree({"bus": 1.0}, {"bus": 1.02})
    assert not dl.answers_agree({"bus": 1.0}, {"bus": 1.0, "tram": 2.0})


def test_athena_bills_whole_megabytes_with_a_ten_megabyte_minimum():
    assert dl.athena_cost(215_828) == (10, pytest.approx(0.00005))
    assert dl.athena_cost(63_357_340) == (64, pytest.approx(0.00032))
    assert dl.athena_cost(10_000_001)[0] == 11


def test_each_pin_is_charged_only_with_what_the_rest_did_not_already_bring():
    added = {pin: {name for name, _, _ in dists} for pin, dists in dl.added_distributions().items()}
    assert list(added) == list(dl.LAKE_PINS)
    assert {"s3fs", "fsspec", "aiobotocore", "aiohttp"} <= added["s3fs"]
    assert not {"botocore", "boto3", "pandas", "numpy"} & set().union(*added.values())  # the series had them
    assert added["pyarrow"] == {"pyarrow"} and added["duckdb"] == {"duckdb"}
    assert added["duckdb-ext-httpfs"] == {"duckdb-ext-httpfs"}  # duckdb, its one need, is counted above


def test_the_setup_part_says_whether_uv_stayed_under_fifteen_seconds():
    cost = {
        "date": "d",
        "load_average": [1.0, 1.0, 1.0],
        "pins": [
            {
                "pin": "pyarrow",
                "distributions": ["pyarrow 1"],
                "wheel_bytes": 2,
                "installed_bytes": 3,
                "seconds_alone": 4,
            }
        ],
        "requirements_without_s": 10.0,
        "requirements_with_s": 14.5,
    }

    def fresh(uv_s):
        return {"meta": {"date": "d"}, "results": {"uv_setup_s": uv_s, "pip_setup_s": 60.0}}

    assert "(+4.5 s)" in dl.setup_cost_markdown(cost)
    assert "under 15 s with uv: met." in dl.setup_cost_markdown(cost, fresh(14.9))
    assert "under 15 s with uv: not met." in dl.setup_cost_markdown(cost, fresh(15.0))


# --------------------------------------------------------------------------- RESULTS.md and the command


def test_publishing_replaces_only_the_data_lake_section(tmp_path):
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## S3\n\nold s3\n\n## Targets\n\nold targets\n")
    dl.publish(f"{dl.SECTION_TITLE}: first\n\nrun one\n", results)
    assert results.read_text().endswith("old targets\n\n## Data lake: first\n\nrun one\n")
    results.write_text(results.read_text() + "\n## After\n\nkept\n")  # a section written after ours
    dl.publish(f"{dl.SECTION_TITLE}: second\n\nrun two\n", results)
    text = results.read_text()
    assert "run one" not in text and "## Data lake: second\n\nrun two\n\n## After\n\nkept\n" in text
    assert text.startswith("# Benchmark results\n\n## S3\n\nold s3\n\n## Targets\n\nold targets\n\n")


def test_the_separate_sections_are_asked_for_alone(capsys):
    from benchmarks.__main__ import main, sections

    assert sections(["--only", "datalake", "--publish"]) == {"datalake"}
    assert sections(["--only=s3,postgres"]) == {"s3", "postgres"}
    assert sections(["--rows", "10"]) == set()
    assert main(["--only", "datalake,s3"]) == 2
    assert "python -m benchmarks --only datalake" in capsys.readouterr().err


# --------------------------------------------------------------------------- one small real run


@pytest.fixture(scope="module")
def report():
    """The whole benchmark once, at 60,000 rows (a partition then outweighs a reader's 64 KiB footer
    read), each path run once."""
    from benchmarks import cases

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cases, "MAX_RUNS", 1)
        return dl.run(60_000)


def test_every_path_is_reported_with_its_bytes_and_an_answer_that_agrees(report):
    got = {(r["tool"], r["storage"]) for r in report["results"]}
    tools = ("pandas", "DuckDB", "Athena (local)")
    assert got == {(t, s) for t in tools for s in ("CSV", "Parquet", "partitioned Parquet")}
    athena = [r for r in report["results"] if r["tool"] == "Athena (local)"]
    measured = [r for r in report["results"] if r["bytes_read"] is not None]
    assert all(r["answer_ok"] for r in measured)
    if dl.athena_available():  # the engine is not in this checkout: its rows say so, with no numbers
        assert all(r["bytes_read"] is None and r["method"] == "not measured" for r in athena)
    else:
        assert all(r["bytes_read"] and r["extra"]["states"][-1] == "SUCCEEDED" for r in athena)
    assert {t["target"]: t["met"] for t in report["targets"]}["every path gives the answer computed in memory"]


def test_reading_the_whole_csv_reads_every_byte_of_it_once(report):
    csv_size = report["objects"]["CSV"]
    for r in report["results"]:
        if r["storage"] == "CSV" and r["metered"]:
            assert (r["bytes_read"], r["objects"]) == (csv_size, [dl.CSV_KEY]), r["tool"]


def test_parquet_and_partitions_read_what_the_lesson_says(report):
    met = {t["target"]: t["met"] for t in report["targets"]}
    for tool in ("pandas", "DuckDB"):
        assert met[f"{tool}: Parquet reads at most a fifth of the CSV's bytes for the question"], tool
        assert met[f"{tool}: partition pruning reads only month=05"], tool
    partitioned = [r for r in report["results"] if r["storage"] == "partitioned Parquet" and r["metered"]]
    kept = f"{dl.PARTITIONED}/year=2024/month=05/"
    for r in partitioned:
        assert any(k.startswith(kept) for k in r["objects"]) and len(r["objects"]) <= 2, r
    assert report["objects"]["partitions"] == 12


def test_the_report_prints_and_renders_every_row_and_target(report):
    from benchmarks.run import machine

    text = dl.report_text(report)
    section = dl.markdown(report, "python -m benchmarks --only datalake", machine())
    assert section.startswith(dl.SECTION_TITLE)
    for r in report["results"]:
        assert r["tool"] in text and f"| {r['tool']} | {r['storage']} |" in section
    for t in report["targets"]:
        assert t["target"] in text and t["target"] in section
