"""The benchmark's own arithmetic: what it reads from other commands and how it judges targets."""

from __future__ import annotations

from benchmarks.cases import Timing
from benchmarks.run import check_targets, with_ratios
from benchmarks.series import lesson_seconds
from helpers.runner import Result


def test_lesson_seconds_come_from_the_runner_results():
    results = [
        Result("00_setup_and_secrets", "ok", 1.26),
        Result("01_s3", "ok", 10.04),
        Result("02_rds_postgres", "FAILED", 3.0, "cell 4: KeyError: x"),
    ]
    assert lesson_seconds(results) == {"00": 1.3, "01": 10.0}


def test_targets_compare_the_named_methods_in_both_directions():
    rows = with_ratios(
        [
            Timing("S3", "put_object one by one", 500, "files", 3.0),
            Timing("S3", "thread pool (8 threads, one client)", 500, "files", 2.0),
            Timing("Series", "python -m helpers run", 6, "notebooks", 30.0),
            Timing("Series", "floor: stack start + empty notebooks", 6, "notebooks", 10.0),
        ]
    )
    found = {t["target"]: t for t in check_targets(rows)}
    uploads = found["sequential small uploads at least 2x slower than concurrent"]
    assert (uploads["measured"], uploads["met"]) == ("1.50x", False)
    series = found["whole series within 2x of its floor"]
    assert (series["measured"], series["met"]) == ("3.00x", False)
    assert len(found) == 2  # targets whose methods did not run are left out, not counted as met


def test_the_lifecycle_target_is_a_difference_in_seconds():
    def rows(on: float, off: float):
        return with_ratios(
            [
                Timing("Series", "python -m helpers run (AWS-like lifecycle on)", 6, "notebooks", on),
                Timing("Series", "python -m helpers run (AWS-like lifecycle off)", 6, "notebooks", off),
                Timing("Series", "floor: stack start + empty notebooks", 6, "notebooks", 10.0),
            ]
        )

    target = "AWS-like lifecycle adds at most 20 s to the series"
    met = {t["target"]: t for t in check_targets(rows(45.0, 30.0))}
    assert (met[target]["measured"], met[target]["met"]) == ("+15.0 s", True)
    missed = {t["target"]: t for t in check_targets(rows(55.0, 30.0))}
    assert (missed[target]["measured"], missed[target]["met"]) == ("+25.0 s", False)
    # the floor target compares the lifecycle-on run, the series as learners get it
    assert missed["whole series within 2x of its floor"]["measured"] == "5.50x"


def test_a_room_always_holds_the_two_prefixes_that_extend_one_another():
    from benchmarks.room import rds_quota, room_participants

    assert room_participants(3) == ["ws-01", "ws-10", "ws-100"]
    thirty = room_participants(30)
    assert len(set(thirty)) == 30 and {"ws-10", "ws-100"} <= set(thirty)
    assert rds_quota(3) == 40 and rds_quota(30) == 61  # AWS's default, or two per participant and the decoy


def test_seeing_another_prefix_means_the_whole_prefix():
    """ws-10 must be found in ws-10's names and not in ws-100's, and the other way round."""
    from benchmarks.room import mentions

    assert mentions("deleted table ws-100-users", ["ws-10", "ws-100"]) == ["ws-100"]
    assert mentions("bucket ws-10-1a2b3c-data", ["ws-10", "ws-100"]) == ["ws-10"]
    assert mentions("Prefix ws-10\n", ["ws-10"]) == ["ws-10"]
    assert mentions("xws-10-users, ws-101-users, decoy-ab12cd34x", ["ws-10", "decoy-ab12cd34"]) == []


def test_a_seats_lessons_are_read_from_the_runners_summary_table():
    from benchmarks.room import lesson_rows
    from helpers.runner import summary_table

    results = [
        Result("00_setup_and_secrets", "ok", 1.2),
        Result("00_setup_and_secrets_again", "ok", 1.0),
        Result("01_s3", "FAILED", 3.0, "cell 4: KeyError: x"),
        Result("02_rds_postgres", "skipped", 0.0, "an earlier lesson failed"),
    ]
    output = "[1/4] 00_setup_and_secrets ...\n      ok (1.2 s)\n\n" + summary_table(results)
    assert lesson_rows(output) == [
        ("00_setup_and_secrets", "ok", ""),
        ("00_setup_and_secrets_again", "ok", ""),
        ("01_s3", "FAILED", "cell 4: KeyError: x"),
        ("02_rds_postgres", "skipped", ""),
    ]
    assert lesson_rows("Traceback (most recent call last): ...") == []


def test_a_bucket_that_will_not_go_away_does_not_cost_the_run_its_results(capsys):
    """`make benchmark` once ended in a traceback (BucketNotEmpty) after every measurement was
    done, and wrote nothing; now the sweep's failure is reported with what to do, and the run goes on."""
    from botocore.exceptions import ClientError

    from benchmarks.run import sweep_bucket

    def refuses(s3, name):
        raise ClientError({"Error": {"Code": "BucketNotEmpty", "Message": "not empty"}}, "DeleteBucket")

    assert sweep_bucket(None, "ds-abc-bench-1", refuses) is False
    err = capsys.readouterr().err
    assert "ds-abc-bench-1" in err and "python -m helpers clean --yes" in err
    assert sweep_bucket(None, "ds-abc-bench-1", lambda s3, name: None) is True


def test_publishing_a_run_keeps_the_sections_published_by_hand_or_by_their_own_benchmarks(tmp_path):
    """`python -m benchmarks --publish` used to copy its RESULTS.md over the published one, dropping
    the workshop rooms (run with --room, published by hand), the data lake's section and notes."""
    from benchmarks import run

    committed = (run.HERE / "RESULTS.md").read_text()
    assert committed.count(run.PUBLISH_BEGIN) == 1 and committed.count(run.PUBLISH_END) == 1
    kept = committed.split(run.PUBLISH_END, 1)[1]
    assert "## Workshop room: 30 participants at once" in kept and "## Data lake:" in kept
    published = tmp_path / "RESULTS.md"
    published.write_text(committed)
    generated = "# Benchmark results\n\nRun 2099-01-01 00:00.\n\n## PostgreSQL: load CSV from S3\n\n| a | b |\n"
    run.publish(generated, published)
    after = published.read_text()
    assert after.startswith("# Benchmark results\n" + run.PUBLISH_BEGIN + "\nRun 2099-01-01 00:00.\n")
    assert "## DynamoDB: write items" not in after  # the old run's own sections went
    assert after.endswith(kept.lstrip("\n")) and after.count("# Benchmark results") == 1
    run.publish(generated, published)
    assert published.read_text() == after  # publishing the same run again changes nothing
    fresh = tmp_path / "new.md"
    run.publish(generated, fresh)
    body = generated.split("\n", 1)[1].strip("\n")
    assert fresh.read_text() == f"# Benchmark results\n{run.PUBLISH_BEGIN}\n{body}\n{run.PUBLISH_END}\n"
