"""Fresh setup, cold caches: pip against uv, and a fresh clone to every lesson done.

``python -m benchmarks.fresh_setup`` clones the committed repository into a temporary folder
and times, with every download cache pointed at an empty folder (PIP_CACHE_DIR, UV_CACHE_DIR):

1. ``make setup`` on pip alone (the Makefile's fallback, forced with ``UV_VERSION=none``);
2. ``make setup`` as it runs by default (uv bootstrapped into the environment, then
   ``uv pip install`` of the same requirements.txt);
3. a second fresh clone: ``make lessons``, from nothing to every lesson executed and cleaned up,
   with the split between setup and the lessons themselves;
4. a third fresh clone: ``make test``, what a contributor waits for (setup, lint, the tests, nbval
   over the notebooks), with the same split.

It prints the three with ratios from this one run and writes them to
``benchmarks/results/fresh_setup.json``. The local stack of each clone runs on its own ports and
state folder (``--moto-port``, ``--pg-port``), so it collides with no stack already running, and
is stopped at the end. A measurement, not a test: nothing fails because it is slow; the targets
(under 90 seconds to every lesson done, under 5 minutes to ``make test`` done) are reported as met
or missed. ``--only test`` (or ``setup``, ``lessons``, comma-separated) runs some of the steps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
TARGET_SECONDS = 90.0
TEST_TARGET_SECONDS = 300.0
STEPS = ("setup", "lessons", "test")


def _run(cmd: list[str], cwd: Path, env: dict[str, str], log: Path) -> float:
    """Seconds ``cmd`` took; its output goes to ``log``; a failure stops the benchmark."""
    start = time.monotonic()
    with log.open("w") as out:
        done = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - start
    if done.returncode:
        tail = "\n".join(log.read_text().splitlines()[-20:])
        raise SystemExit(f"{' '.join(cmd)} failed after {seconds:.0f} s (log {log}):\n{tail}")
    return seconds


def _clone(into: Path) -> Path:
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(into)], check=True)
    return into


def _cold_env(tmp: Path, name: str, args) -> dict[str, str]:
    """The environment of one measured command: empty caches, an isolated local stack."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "TUTORIAL_", "AWS_", "UV_"))}
    env.pop("DATABASE_URL", None)
    for var in ("PIP_CACHE_DIR", "UV_CACHE_DIR"):
        cache = tmp / f"cache-{name}-{var.lower()}"
        cache.mkdir()
        env[var] = str(cache)
    env.update(
        TUTORIAL_STATE_DIR=str(tmp / f"state-{name}"),
        TUTORIAL_MOTO_PORT=str(args.moto_port),
        TUTORIAL_PG_PORT=str(args.pg_port),
    )
    return env


def _fresh_make(tmp: Path, target: str, logs: Path, args) -> tuple[float, float]:
    """(total, setup part) of ``make <target>`` in a fresh clone of its own, with cold caches."""
    fresh = _clone(tmp / f"fresh-{target}")
    env = _cold_env(tmp, target, args)
    start = time.time()
    try:
        total = _run(["make", target], fresh, env, logs / f"{target}.log")
    finally:
        subprocess.run(
            [str(fresh / ".venv/bin/python"), "-m", "helpers", "down"],
            cwd=fresh,
            env=env,
            capture_output=True,
            check=False,
        )
    stamp = fresh / ".venv" / ".installed"
    return total, stamp.stat().st_mtime - start if stamp.exists() else float("nan")


def measure(args) -> dict:
    steps = {s.strip() for s in args.only.split(",") if s.strip()}
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="fresh-setup-") as t:
        tmp = Path(t)
        logs = Path(args.logs) if args.logs else tmp
        logs.mkdir(parents=True, exist_ok=True)
        print(f"Fresh clones of {ROOT} in {tmp}; caches empty for every step; logs in {logs}")
        if "setup" in steps:
            repo = _clone(tmp / "clone")
            pip_s = _run(
                ["make", "setup", "VENV=.venv-pip", "UV_VERSION=none"],
                repo,
                _cold_env(tmp, "pip", args),
                logs / "pip.log",
            )
            print(f"  make setup with pip only      {pip_s:6.1f} s")
            uv_s = _run(["make", "setup", "VENV=.venv-uv"], repo, _cold_env(tmp, "uv", args), logs / "uv.log")
            print(f"  make setup with uv (default)  {uv_s:6.1f} s")
            out.update(pip_setup_s=round(pip_s, 1), uv_setup_s=round(uv_s, 1), pip_over_uv=round(pip_s / uv_s, 1))
        if "lessons" in steps:
            total, setup_part = _fresh_make(tmp, "lessons", logs, args)
            print(f"  fresh clone -> make lessons   {total:6.1f} s (setup {setup_part:.1f} s)")
            out.update(
                lessons_total_s=round(total, 1),
                lessons_setup_part_s=round(setup_part, 1),
                lessons_run_part_s=round(total - setup_part, 1),
                target_s=TARGET_SECONDS,
                target_met=total < TARGET_SECONDS,
            )
        if "test" in steps:
            total, setup_part = _fresh_make(tmp, "test", logs, args)
            print(f"  fresh clone -> make test      {total:6.1f} s (setup {setup_part:.1f} s)")
            out.update(
                test_total_s=round(total, 1),
                test_setup_part_s=round(setup_part, 1),
                test_run_part_s=round(total - setup_part, 1),
                test_target_s=TEST_TARGET_SECONDS,
                test_target_met=total < TEST_TARGET_SECONDS,
            )
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.fresh_setup", description=__doc__.splitlines()[0])
    p.add_argument("--moto-port", type=int, default=5755, help="the clones' emulator port (default 5755)")
    p.add_argument("--pg-port", type=int, default=6133, help="the clones' embedded PostgreSQL port (default 6133)")
    p.add_argument("--logs", default="", help="keep each step's output in this folder (default: dropped)")
    p.add_argument("--only", default=",".join(STEPS), help=f"steps to run, comma-separated (default {','.join(STEPS)})")
    args = p.parse_args(argv)
    result = measure(args)
    cores = os.cpu_count()
    lines = [f"\nCold caches, {cores} cores:"]
    if "pip_setup_s" in result:
        lines.append(
            f"  pip {result['pip_setup_s']} s, uv {result['uv_setup_s']} s (pip takes {result['pip_over_uv']}x as long)"
        )
    if "lessons_total_s" in result:
        met = "met" if result["target_met"] else "MISSED"
        lines.append(
            f"  fresh clone to every lesson done {result['lessons_total_s']} s: "
            f"target under {TARGET_SECONDS:.0f} s {met}"
        )
    if "test_total_s" in result:
        met = "met" if result["test_target_met"] else "MISSED"
        lines.append(
            f"  fresh clone to `make test` done {result['test_total_s']} s: "
            f"target under {TEST_TARGET_SECONDS:.0f} s {met}"
        )
    print("\n".join(lines))
    RESULTS.mkdir(exist_ok=True)
    meta = {"date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "cores": cores, "python": sys.version.split()[0]}
    (RESULTS / "fresh_setup.json").write_text(json.dumps({"meta": meta, "results": result}, indent=2))
    print(f"Wrote {(RESULTS / 'fresh_setup.json').relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
