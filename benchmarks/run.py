"""``python -m benchmarks``: run every comparison once, print a table, write JSON, Markdown and a chart."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict
from itertools import groupby
from operator import itemgetter
from pathlib import Path

from benchmarks.cases import Timing, log

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
# What `--publish` replaces in benchmarks/RESULTS.md: the part between these two lines. The rest
# (rooms run with --room and published by hand, the data lake's own section, notes made by hand)
# is kept as it is.
PUBLISH_BEGIN = "<!-- python -m benchmarks --publish writes from here -->"
PUBLISH_END = "<!-- to here; the sections below are published by hand or by their own benchmarks -->"

# (description, numerator method, denominator method, comparison, limit): numerator / denominator,
# or, for the "s<=" comparison, numerator minus denominator in seconds.
TARGETS = [
    ("helper loader within 1.3x of raw COPY", "helpers.bulk.copy_csv_from_s3", "COPY FROM STDIN (raw", "<=", 1.3),
    (
        "pandas.to_sql at least 4x slower than the helper loader",
        "pandas.to_sql (default)",
        "helpers.bulk.copy_csv_from_s3",
        ">=",
        4.0,
    ),
    ("put_item loop at least 5x slower than batch_writer", "put_item loop", "Table.batch_writer()", ">=", 5.0),
    ("sequential small uploads at least 2x slower than concurrent", "put_object one by one", "thread pool", ">=", 2.0),
    ("whole series within 2x of its floor", "python -m helpers run", "floor:", "<=", 2.0),
    (
        "AWS-like lifecycle adds at most 20 s to the series",
        "python -m helpers run (AWS-like lifecycle on)",
        "python -m helpers run (AWS-like lifecycle off)",
        "s<=",
        20.0,
    ),
]

SECTIONS = "postgres,memory,dynamodb,s3,emulator"


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    p.add_argument("--rows", type=int, default=200_000, help="rows loaded into PostgreSQL (default 200000)")
    p.add_argument("--items", type=int, default=10_000, help="DynamoDB items written and scanned (default 10000)")
    p.add_argument("--files", type=int, default=500, help="small S3 files (default 500)")
    p.add_argument("--file-kib", type=int, default=4, help="size of each small file in KiB (default 4)")
    p.add_argument("--big-mib", type=int, default=200, help="size of the large S3 file in MiB (default 200)")
    p.add_argument("--memory-rows", default="", help="two row counts for the peak-memory check (default rows/10,rows)")
    p.add_argument(
        "--series",
        action="store_true",
        help="also time `python -m helpers run` (lifecycle on and off) against its floor (about two minutes)",
    )
    p.add_argument(
        "--room",
        type=int,
        default=0,
        metavar="N",
        help="also rehearse a workshop room: N participants running the real notebooks at once (e.g. 30)",
    )
    p.add_argument(
        "--room-pool",
        type=int,
        default=0,
        metavar="K",
        help="run at most K of the room's participants at a time (default: all at once)",
    )
    p.add_argument("--only", default=SECTIONS, help=f"sections to run, comma-separated (default {SECTIONS})")
    p.add_argument("--skip", default="", help="PostgreSQL methods to leave out, by a piece of their name")
    p.add_argument("--publish", action="store_true", help="also copy RESULTS.md and results.png into benchmarks/")
    return p.parse_args(argv)


def machine() -> dict:
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "memory_gib": mem_gib,
        "cpu": cpu,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }


def memory_check(pg, bucket: str, sizes: list[int], s3) -> list[dict]:
    """Peak RSS of the COPY loader and of read_csv + to_sql, each size in a fresh process."""
    from benchmarks.cases import fresh_table
    from helpers import bulk

    out = []
    conn = pg.connect()
    for n in sizes:
        key = f"memory/users-{n}.csv"
        s3.put_object(Bucket=bucket, Key=key, Body=bulk.users_csv(n))
        for method in ("copy", "pandas"):
            fresh_table(conn, "users_memory")
            job = {"method": method, "params": pg.params, "bucket": bucket, "key": key, "table": "users_memory"}
            log(f"  memory: {method} at {n} rows ...")
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks.memory"],
                env=dict(os.environ, BENCH_MEMORY_JOB=json.dumps(job)),
                capture_output=True,
                text=True,
                check=True,
            )
            found = json.loads(done.stdout.strip().splitlines()[-1])
            found.update(method=method, size_rows=n)
            out.append(found)
            log(f"    peak {found['peak_mib']:.0f} MiB (after imports {found['before_mib']:.0f} MiB)")
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS users_memory")
    conn.close()
    return out


def sweep_bucket(s3, bucket: str, empty_and_delete) -> bool:
    """Delete the benchmark's bucket; a failure is reported, not raised, so the run still ends with
    its results (the measurements are done by then) and says how to remove what is left."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        empty_and_delete(s3, bucket)
    except (ClientError, BotoCoreError) as exc:
        print(
            f"\nCould not delete the benchmark's bucket {bucket}: {exc}\n"
            "It is tagged as the series', so `python -m helpers clean --yes` deletes it.",
            file=sys.stderr,
        )
        return False
    return True


def with_ratios(timings: list[Timing]) -> list[dict]:
    fastest: dict[str, float] = {}
    for t in timings:
        fastest[t.group] = min(fastest.get(t.group, t.seconds), t.seconds)
    rows = []
    for t in timings:
        row = asdict(t)
        row["ratio"] = t.seconds / fastest[t.group] if fastest[t.group] else 1.0
        row["per_second"] = t.n / t.seconds if t.seconds else None
        row["rate"] = _rate(row["per_second"], t.unit)
        rows.append(row)
    return rows


def _rate(per_second: float | None, unit: str) -> str:
    """'34,358 rows'; one decimal below 10 (a notebook every 6 s is 0.2, not 0)."""
    if per_second is None:
        return "-"
    return f"{per_second:,.1f} {unit}" if per_second < 10 else f"{per_second:,.0f} {unit}"


def check_targets(rows: list[dict]) -> list[dict]:
    out = []
    for text, num, den, op, limit in TARGETS:
        a = next((r for r in rows if r["method"].startswith(num)), None)
        b = next((r for r in rows if r["method"].startswith(den)), None)
        if not a or not b:
            continue
        if op == "s<=":
            added = a["seconds"] - b["seconds"]
            out.append(
                {"target": text, "measured": f"{added:+.1f} s", "limit": f"<= {limit:+.0f} s", "met": added <= limit}
            )
            continue
        ratio = a["seconds"] / b["seconds"]
        met = ratio <= limit if op == "<=" else ratio >= limit
        out.append({"target": text, "measured": f"{ratio:.2f}x", "limit": f"{op} {limit}", "met": met})
    return out


def text_table(rows: list[dict]) -> str:
    width = max(len(r["method"]) for r in rows)
    lines = []
    for group, members in groupby(rows, key=itemgetter("group")):
        lines += ["", group, f"  {'method':<{width}}  {'n':>8}  {'seconds':>8}  {'x fastest':>9}  {'per second':>11}"]
        for r in members:
            lines.append(
                f"  {r['method']:<{width}}  {r['n']:>8}  {r['seconds']:8.2f}  {r['ratio']:8.1f}x  {r['rate']:>16}"
            )
    return "\n".join(lines)


def publish(generated: str, published: Path) -> None:
    """Put this run's ``generated`` RESULTS.md into ``published`` between its two markers,
    leaving everything outside them as it was; a file without the markers is replaced whole."""
    title, _, body = generated.partition("\n")
    block = f"{title}\n{PUBLISH_BEGIN}\n{body.strip(chr(10))}\n{PUBLISH_END}\n"
    old = published.read_text() if published.exists() else ""
    if PUBLISH_BEGIN in old and PUBLISH_END in old:
        before = old[: old.index(PUBLISH_BEGIN)]
        before = before[: before.rindex(title)] if title in before else before
        after = old[old.index(PUBLISH_END) + len(PUBLISH_END) :].lstrip("\n")
        published.write_text(before + block + ("\n" + after if after else ""))
    else:
        published.write_text(block)


def markdown(meta: dict, rows: list[dict], memory: list[dict], targets: list[dict]) -> str:
    m = meta["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"Run {meta['date']} on the local backend ({meta['postgres']}, moto {meta['moto']}), "
        f"{m['cores']} cores, {m['memory_gib']} GiB memory, {m['cpu']}, {m['os']}, Python {m['python']}.",
        f"Command: `{meta['command']}`. Methods that take seconds run once; faster ones run up to 5 times "
        "and the best counts. Times include reading the data from S3.",
    ]
    for group, members in groupby(rows, key=itemgetter("group")):
        lines += [
            "",
            f"## {group}",
            "",
            "| method | n | seconds | x fastest | per second | note |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for r in members:
            lines.append(
                f"| {r['method']} | {r['n']:,} | {r['seconds']:.2f} | {r['ratio']:.1f}x | {r['rate']} | {r['note']} |"
            )
    if memory:
        lines += [
            "",
            "## Peak memory (VmHWM of a fresh process per size)",
            "",
            "| method | rows | after imports (MiB) | peak (MiB) | growth (MiB) |",
            "|---|---:|---:|---:|---:|",
        ]
        for x in memory:
            name = "helpers.bulk.copy_csv_from_s3" if x["method"] == "copy" else "pandas.read_csv + to_sql"
            lines.append(
                f"| {name} | {x['size_rows']:,} | {x['before_mib']:.0f} | {x['peak_mib']:.0f} | "
                f"{x['peak_mib'] - x['before_mib']:.0f} |"
            )
    if targets:
        lines += ["", "## Targets", "", "| target | measured | wanted | met |", "|---|---:|---|---|"]
        for t in targets:
            lines.append(f"| {t['target']} | {t['measured']} | {t['limit']} | {'yes' if t['met'] else 'no'} |")
    return "\n".join(lines) + "\n"


def chart(rows: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys(r["group"] for r in rows))
    heights = [len([r for r in rows if r["group"] == g]) for g in groups]
    fig, axes = plt.subplots(
        len(groups),
        1,
        figsize=(9, 1.1 + 0.45 * sum(heights) + 0.5 * len(groups)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, g in zip(axes[:, 0], groups):
        sub = [r for r in rows if r["group"] == g][::-1]
        colors = ["#2a9d8f" if r["ratio"] == 1.0 else "#e76f51" for r in sub]
        ax.barh([r["method"] for r in sub], [r["seconds"] for r in sub], color=colors)
        for i, r in enumerate(sub):
            ax.text(r["seconds"], i, f"  {r['seconds']:.2f} s ({r['ratio']:.1f}x)", va="center", fontsize=8)
        ax.set_title(g, fontsize=10, loc="left")
        ax.set_xlim(0, max(r["seconds"] for r in sub) * 1.35)
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel("seconds (lower is better; green = fastest in its group)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    import boto3
    import moto

    from benchmarks import cases
    from helpers import bulk, setup
    from helpers.cleanup import empty_and_delete_bucket
    from helpers.local import stack

    tut = setup(quiet=True)
    settings = tut.settings
    if not settings.is_local:
        print("The benchmark runs on the local backend only: unset TUTORIAL_BACKEND=aws.", file=sys.stderr)
        return 2
    sections = {s.strip() for s in args.only.split(",") if s.strip()}
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    sizes = [int(x) for x in args.memory_rows.split(",")] if args.memory_rows else [max(args.rows // 10, 1), args.rows]

    s3 = boto3.client("s3")
    bucket = f"{settings.prefix}-bench-{tut.names.bucket.split('-')[-2]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tut.tags})
    timings: list[Timing] = []
    memory: list[dict] = []
    pg = None
    pg_version = ""
    print(f"Benchmark on the local backend, prefix {settings.prefix}; bucket {bucket}")
    try:
        if sections & {"postgres", "memory"}:
            pg = cases.Pg.create(settings)
            conn = pg.connect()
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                pg_version = cur.fetchone()[0].split()[0]
            conn.close()
        if "postgres" in sections:
            key = f"users-{args.rows}.csv"
            s3.put_object(Bucket=bucket, Key=key, Body=bulk.users_csv(args.rows))
            print(f"\nPostgreSQL: {args.rows:,} rows from s3://{bucket}/{key}")
            timings += cases.postgres_cases(pg, s3, bucket, key, args.rows, skip)
        if "memory" in sections:
            print(f"\nPeak memory at {sizes[0]:,} and {sizes[1]:,} rows")
            memory = memory_check(pg, bucket, sizes, s3)
        if "dynamodb" in sections:
            print(f"\nDynamoDB: {args.items:,} items")
            timings += cases.dynamodb_cases(settings.prefix, tut.tags, args.items)
        if "s3" in sections:
            print(f"\nS3: {args.files} files of {args.file_kib} KiB, one file of {args.big_mib} MiB")
            timings += cases.s3_cases(bucket, args.files, args.file_kib, args.big_mib, skip_big=args.big_mib <= 0)
        if "emulator" in sections:
            from benchmarks.emulator import emulator_cases

            print(f"\nEmulator: {args.files} put_object calls against moto as shipped and as the stack starts it")
            timings += emulator_cases(args.files, args.file_kib)
    finally:
        sweep_bucket(s3, bucket, empty_and_delete_bucket)
        if pg is not None:
            pg.drop()
    if args.room:
        print(f"\nA workshop room: {args.room} participants running the real notebooks")
        from benchmarks.room import room_cases

        timings += room_cases(settings, args.room, pool=args.room_pool or None)
    if args.series:
        print("\nThe series")
        from benchmarks.series import series_cases

        timings += series_cases(settings)
        stack.up(settings)

    rows = with_ratios(timings)
    targets = check_targets(rows)
    meta = {
        "date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "command": "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:]),
        "machine": machine(),
        "postgres": ("PostgreSQL from DATABASE_URL" if settings.database_url else "embedded PostgreSQL")
        + (f" {pg_version}" if pg_version else ""),
        "moto": moto.__version__,
        "parameters": vars(args),
    }
    print(text_table(rows))
    if memory:
        print(
            "\nPeak memory (MiB, fresh process per size): "
            + ", ".join(f"{x['method']} {x['size_rows']:,} rows {x['peak_mib']:.0f}" for x in memory)
        )
    if targets:
        print("\nTargets")
        for t in targets:
            print(f"  {'met   ' if t['met'] else 'MISSED'} {t['target']}: {t['measured']} (wanted {t['limit']})")

    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "results.json").write_text(
        json.dumps({"meta": meta, "results": rows, "memory": memory, "targets": targets}, indent=2, default=str)
    )
    (RESULTS / "RESULTS.md").write_text(markdown(meta, rows, memory, targets))
    if rows:
        m = meta["machine"]
        chart(
            rows, RESULTS / "results.png", f"{meta['date']}, {m['cores']} cores, {m['memory_gib']} GiB, local backend"
        )
    print(f"\nWrote {RESULTS.relative_to(HERE.parent)}/results.json, RESULTS.md, results.png")
    if args.publish:
        publish((RESULTS / "RESULTS.md").read_text(), HERE / "RESULTS.md")
        if rows:
            shutil.copy(RESULTS / "results.png", HERE / "results.png")
        print("Copied RESULTS.md and results.png into benchmarks/ (commit them with the README).")
    return 0
