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
