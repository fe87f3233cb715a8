"""A workshop room rehearsed for real: N participants run the real notebooks at once in one account.

``python -m benchmarks --room N`` (and, with a handful of seats, tests/test_workshop_rehearsal.py)
calls :func:`rehearse`, which does what an instructor and a room do, through the same commands:

1. one emulator of the room's own (``helpers.local.stack.spawn_moto``: AWS-like lifecycle at a
   pace of 0.5 s, IAM enforcement switchable at run time through
   ``helpers.local.iam_enforcement.CONTROL_PATH``) and one PostgreSQL for everyone (``DATABASE_URL``
   when the caller has one, else an embedded server of the room's own, in the room's state folder);
2. as the administrator, before anyone sits down: decoys that belong to no participant (a bucket,
   a DynamoDB table, a security group and a DB instance, without the series' tags), then
   ``python -m helpers workshop create`` and ``workshop prepare`` (the kit's own CLI);
3. enforcement on; every seat is a process of its own, with the keys ``create`` made
   (``workshop.seat_keys``), ``TUTORIAL_LOCAL_CREDENTIALS=own`` and an output folder of its own,
   running ``python -m helpers run`` (every lesson, exercises included; or, per seat, the series
   twice in a row, the student copies, or the proof tool), all started at once unless a pool
   bounds them;
4. enforcement off; ``python -m helpers workshop sweep --yes`` as the administrator; then an
   inventory of the whole account, compared with the one taken before the room: anything new is
   what the sweep left, and every decoy must still be there; then the decoys are deleted.

It reports wall time, each seat's lessons (status, detail), what each participant saw of another
(any other participant's prefix, or a decoy's name, in their executed notebooks or their run's
output), what was left after the sweep, and the peak memory of the emulator (its VmHWM) and of
PostgreSQL (the largest sum of the proportional set size, Pss, of the postmaster and its
backends, polled every half second). Nothing here re-implements a lesson: the notebooks are the
only copy of the lessons.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.cases import Timing, log

ROOT = Path(__file__).resolve().parent.parent
PACE = "0.5"  # seconds per AWS-like status: the room's waits stay realistic in shape, short in time
REGION = "us-east-1"
SEAT_TIMEOUT = 1800.0  # seconds; a seat still running then has hung, and is reported as failed
KINDS = ("run", "twice", "core", "student", "proof")
# The lessons of the two-hour workshop: what core and student seats run.
WORKSHOP_LESSONS = ("00", "01", "02", "03", "04")
# The runner's summary table (helpers.runner.summary_table): "<notebook>  <status>  <seconds>".
_SUMMARY_ROW = re.compile(r"^(?P<notebook>\d\d_\w+)\s+(?P<status>ok|FAILED|skipped)\s+(?P<seconds>[\d.]+)$")
_FAILED_AT = re.compile(r"^(?P<notebook>\d\d_\w+) failed at (?P<detail>.+)$")


@dataclasses.dataclass(frozen=True)
class Seat:
    """One participant: a prefix, what they run, and whether each lesson runs twice in a row.

    ``run``: ``python -m helpers run``, every lesson as committed (exercises answered);
    ``twice``: the same with lessons 00-04 each twice in a row, on top of their own resources
    (:func:`twice_in_a_row`: a learner who runs a lesson again);
    ``core``: ``python -m helpers run --core 00 01 02 03 04``, a workshop that skips the deep dives
    (lesson 04's core path must still delete everything);
    ``student``: ``python -m helpers run 00 01 02 03 04 --notebooks-dir <student copies>``, a learner
    who has not typed an answer yet; ``proof``: ``python -m tools.prove_on_aws --backend local``.
    ``twice=True`` gives any seat lessons 00-04 twice in a row (``twice`` is ``run`` with it), so
    one seat can prove both: the proof tool over a series whose lessons run again.
    """

    prefix: str
    kind: str = "run"
    twice: bool = False

    @property
    def runs_twice(self) -> bool:
        return self.twice or self.kind == "twice"


@dataclasses.dataclass
class SeatRun:
    """What one seat did: its exit code, its lessons as the runner reported them, what it saw."""

    seat: Seat
    returncode: int
    seconds: float
    lessons: list[tuple[str, str, str]]  # (notebook, "ok" | "FAILED" | "skipped", detail)
    output: str
    output_dir: Path
    seen_of_others: list[str]
    desk: Path | None = None  # the folder of lessons it ran from (set_desk)

    @property
    def lessons_left_nothing(self) -> bool:
        """Whether the seat's lessons deleted all they created: the runner's final cleanup found
        nothing of the participant's (or, for the proof tool, its own look before its sweep)."""
        from helpers import cleanup

        if self.seat.kind == "proof":
            from tools.prove_on_aws import LESSONS_LEFT_NOTHING

            return LESSONS_LEFT_NOTHING in self.output
        after = self.output.split("Cleaning up what the series created", 1)
        return len(after) == 2 and cleanup.listing([]) in after[1]

    @property
    def failures(self) -> list[str]:
        found = [f"{nb}: {detail}" for nb, status, detail in self.lessons if status != "ok"]
        if not self.lessons:
            found.append(f"no lesson summary (exit {self.returncode}): {self.output[-1500:]}")
        elif self.returncode != 0 and not found:
            found.append(f"exit {self.returncode}: {self.output[-1500:]}")
        return found


@dataclasses.dataclass
class RoomReport:
    """The room, measured: seats, sweep, what was left, the decoys, peak memory."""

    seats: list[SeatRun]
    wall_seconds: float
    concurrency: int
    sweep_returncode: int
    sweep_output: str
    left_after_sweep: list[str]
    decoys: list[str]
    decoys_missing_after_sweep: list[str]
    emulator_peak_mib: float | None
    postgres_peak_mib: float | None
    postgres: str

    def failures_per_lesson(self) -> dict[str, int]:
        """Lesson -> seats where it failed or was skipped (every lesson any seat ran, 0 wanted)."""
        counts: dict[str, int] = {}
        for run in self.seats:
            for notebook, status, _ in run.lessons:
                counts[notebook] = counts.get(notebook, 0) + (status != "ok")
        return dict(sorted(counts.items()))

    def failed_seats(self) -> dict[str, list[str]]:
        return {run.seat.prefix: run.failures for run in self.seats if run.failures}

    def seen(self) -> dict[str, list[str]]:
        return {run.seat.prefix: run.seen_of_others for run in self.seats if run.seen_of_others}

    def summary(self) -> str:
        per_lesson = ", ".join(f"{nb[:2]} {n}" for nb, n in self.failures_per_lesson().items())
        return (
            f"{len(self.seats)} participants, {self.concurrency} at a time: {self.wall_seconds:.0f} s wall; "
            f"failures per lesson: {per_lesson}; seen of another's: {sum(map(len, self.seen().values()))}; "
            f"left after the sweep: {len(self.left_after_sweep)}; decoys kept: "
            f"{len(self.decoys) - len(self.decoys_missing_after_sweep)}/{len(self.decoys)}; "
            f"peak memory: emulator {_mib(self.emulator_peak_mib)}, PostgreSQL {_mib(self.postgres_peak_mib)}"
        )


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MiB"


def room_participants(n: int) -> list[str]:
    """``n`` prefixes that include ``ws-10`` and ``ws-100`` (one extends the other), then ws-01, ws-02, ..."""
    if n < 2:
        raise ValueError("a room needs at least 2 participants (ws-10 and ws-100)")
    others = (f"ws-{i:02d}" for i in range(1, 1000) if i not in (10, 100))
    names = ["ws-10", "ws-100"]
    while len(names) < n:
        names.append(next(others))
    return sorted(names)


# --------------------------------------------------------------------------- memory


def _proc_kib(pid: int, field: str, file: str = "status") -> int | None:
    try:
        for line in Path(f"/proc/{pid}/{file}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its closing parenthesis
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def _parent(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


class MemoryWatch:
    """Polls the Pss of a process tree (a postmaster and its backends) in a thread; keeps the peak."""

    def __init__(self, root: int | None, every: float = 0.5) -> None:
        self.root, self.every, self.peak_kib = root, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while self.root and not self._stop.is_set():
            pids = [self.root, *_children(self.root)]
            total = sum(_proc_kib(p, "Pss", "smaps_rollup") or 0 for p in pids)
            self.peak_kib = max(self.peak_kib, total)
            self._stop.wait(self.every)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    @property
    def peak_mib(self) -> float | None:
        return self.peak_kib / 1024 if self.root and self.peak_kib else None


# --------------------------------------------------------------------------- the administrator


def _admin_env(
    environ: dict[str, str], state_dir: Path, endpoint: str, database_url: str, pg_port: int
) -> dict[str, str]:
    """The instructor's environment: the room's emulator and PostgreSQL, the emulator's dummy keys."""
    env = {k: v for k, v in environ.items() if not k.startswith(("TUTORIAL_", "AWS_", "DATABASE_URL"))}
    if "AWS_CA_BUNDLE" in environ:
        env["AWS_CA_BUNDLE"] = environ["AWS_CA_BUNDLE"]
    env.update(
        TUTORIAL_BACKEND="local",
        TUTORIAL_STATE_DIR=str(state_dir),
        TUTORIAL_PREFIX="room-admin",
        AWS_ENDPOINT_URL=endpoint,
        AWS_DEFAULT_REGION=REGION,
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    else:
        env["TUTORIAL_PG_PORT"] = str(pg_port)
    return env


def _cli(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _must(done: subprocess.CompletedProcess, what: str) -> str:
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    return done.stdout


def _switch_iam(endpoint: str, on: bool) -> dict:
    from helpers.local import iam_enforcement

    request = urllib.request.Request(
        endpoint + iam_enforcement.CONTROL_PATH, data=json.dumps({"enforce": on}).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the room's own emulator
        return json.loads(response.read())


class Admin:
    """boto3 clients of the administrator (the emulator's dummy keys) against the room's emulator."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self.session = boto3.session.Session(
            aws_access_key_id="test",
            aws_secret_access_key="test",  # noqa: S106 - the emulator's dummy key, never a real one
            region_name=REGION,
        )
        self.endpoint = endpoint

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint)

    def inventory(self) -> set[str]:
        """Every bucket, table, DB instance, security group, secret and IAM user in the account.

        Listed independently of helpers.cleanup, so a finder that misses something cannot hide it.
        """
        s3, ddb, rds, ec2, sm, iam = (self.client(s) for s in ("s3", "dynamodb", "rds", "ec2", "secretsmanager", "iam"))
        found = {f"bucket {b['Name']}" for b in s3.list_buckets().get("Buckets", [])}
        for page in ddb.get_paginator("list_tables").paginate():
            found |= {f"table {t}" for t in page["TableNames"]}
        for page in rds.get_paginator("describe_db_instances").paginate():
            found |= {f"db-instance {d['DBInstanceIdentifier']}" for d in page["DBInstances"]}
        for page in ec2.get_paginator("describe_security_groups").paginate():
            found |= {f"security-group {g['GroupName']}" for g in page["SecurityGroups"]}
        for page in sm.get_paginator("list_secrets").paginate():
            found |= {f"secret {s['Name']}" for s in page["SecretList"]}
        for page in iam.get_paginator("list_users").paginate():
            found |= {f"iam-user {u['UserName']}" for u in page["Users"]}
        return found

    def make_decoys(self, name: str) -> list[str]:
        """A bucket (with an object), a table, a security group and a DB instance of nobody's.

        Tagged, but not with the series' tags: an account's other work, which no participant, no
        lesson and no sweep may touch.
        """
        tags = [{"Key": "team", "Value": "analytics"}]
        s3, ddb, ec2, rds = (self.client(s) for s in ("s3", "dynamodb", "ec2", "rds"))
        s3.create_bucket(Bucket=name)
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
        s3.put_object(Bucket=name, Key="report.csv", Body=b"quarter,revenue\nq1,1\n")
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
            Tags=tags,
        )
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        group = ec2.create_security_group(
            GroupName=name,
            Description="another team's database",
            VpcId=vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": tags}],
        )["GroupId"]
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            Engine="postgres",
            DBInstanceClass="db.t4g.micro",
            AllocatedStorage=20,
            MasterUsername="analyst",
            ManageMasterUserPassword=True,
            VpcSecurityGroupIds=[group],
            Tags=tags,
        )
        return [f"bucket {name}", f"table {name}", f"security-group {name}", f"db-instance {name}"]

    def delete_decoys(self, name: str, timeout: float = 120) -> None:
        """Delete them again (the instance first: its security group is in use until it is gone)."""
        s3, ddb, ec2, rds = (self.client(s) for s in ("s3", "dynamodb", "ec2", "rds"))
        for call in (
            lambda: s3.delete_object(Bucket=name, Key="report.csv"),
            lambda: s3.delete_bucket(Bucket=name),
            lambda: ddb.delete_table(TableName=name),
            lambda: rds.delete_db_instance(DBInstanceIdentifier=name, SkipFinalSnapshot=True),
        ):
            _quietly(call)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _quietly(lambda: ec2.delete_security_group(GroupName=name)):
                return
            time.sleep(1)


def _quietly(call: Callable[[], object]) -> bool:
    """Run an administrator's call whose failure only means "not yet" or "already gone"."""
    from botocore.exceptions import ClientError

    try:
        call()
    except ClientError:
        return False
    return True


# --------------------------------------------------------------------------- seats


def _seat_command(seat: Seat, out: Path, desk: Path) -> list[str]:
    """The command a seat runs: the lessons of its own ``desk`` (see :func:`set_desk`)."""
    if seat.kind in ("run", "twice"):
        return ["helpers", "run", "--notebooks-dir", str(desk), "--output-dir", str(out)]
    if seat.kind == "core":
        return ["helpers", "run", "--core", *WORKSHOP_LESSONS, "--notebooks-dir", str(desk), "--output-dir", str(out)]
    if seat.kind == "student":
        return ["helpers", "run", *WORKSHOP_LESSONS, "--notebooks-dir", str(desk), "--output-dir", str(out)]
    if seat.kind == "proof":
        return [
            "tools.prove_on_aws",
            "--backend",
            "local",
            "--prefix",
            seat.prefix,
            "--notebooks-dir",
            str(desk),
            "--output-dir",
            str(out),
        ]
    raise ValueError(f"seat kind {seat.kind!r}: one of {KINDS}")


def set_desk(seat: Seat, desk: Path, student_dir: Path) -> Path:
    """A folder of the seat's own holding the lessons it runs, as each participant has a checkout.

    The lessons write files next to themselves (lesson 01 writes ``file1.csv`` and reads it back), so
    two seats running from one folder would overwrite each other's files mid-lesson: in a real room
    every participant has their own. Student seats get the student copies; the others the lessons
    (seats that run twice: lessons 00-04 each twice in a row).
    """
    import shutil

    from helpers.runner import lesson_notebooks

    if seat.runs_twice:
        return twice_in_a_row(desk)
    if seat.kind == "student":
        shutil.copytree(student_dir, desk, dirs_exist_ok=True)
        return desk
    desk.mkdir(parents=True, exist_ok=True)
    for path in lesson_notebooks():
        shutil.copy(path, desk / path.name)
    return desk


def lesson_rows(output: str) -> list[tuple[str, str, str]]:
    """(notebook, status, detail) from the runner's summary table in a run's output."""
    details = {m["notebook"]: m["detail"] for m in map(_FAILED_AT.match, output.splitlines()) if m}
    rows = [m for m in map(_SUMMARY_ROW.match, (line.strip() for line in output.splitlines())) if m]
    return [(m["notebook"], m["status"], details.get(m["notebook"], "") if m["status"] != "ok" else "") for m in rows]


def mentions(text: str, names: Iterable[str]) -> list[str]:
    """The names of ``names`` that ``text`` mentions as a whole prefix or name.

    ``ws-10`` is found in ``ws-10-users`` but not in ``ws-100-users``: a prefix ends at a character
    that cannot continue it (not a letter or digit).
    """
    return sorted(n for n in names if re.search(rf"(?<![A-Za-z0-9-]){re.escape(n)}(?![A-Za-z0-9])", text))


def _outputs_text(folder: Path) -> str:
    import nbformat

    parts = []
    for path in sorted(folder.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            for out in cell.get("outputs", []):
                parts.append(str(out.get("text", "")))
                parts += [str(v) for v in out.get("data", {}).values()]
                parts += [str(out.get("evalue", ""))]
    return "\n".join(parts)


def _run_seat(seat: Seat, env: dict[str, str], out: Path, desk: Path, others: list[str]) -> SeatRun:
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    try:
        done = _cli(_seat_command(seat, out, desk), env, timeout=SEAT_TIMEOUT)
        code, text = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        code, text = -1, f"timed out after {SEAT_TIMEOUT:.0f} s\n{exc.stdout or ''}"
    (out / "run.log").write_text(text)
    seen = mentions(_outputs_text(out) + "\n" + text, others)
    return SeatRun(seat, code, time.monotonic() - start, lesson_rows(text), text, out, seen, desk)


def twice_in_a_row(folder: Path) -> Path:
    """``folder`` with lessons 00-04 each twice in a row (``NN_name.ipynb``, then ``NN_name_again.ipynb``,
    which sorts right after it), then lesson 05 once: what ``python -m helpers run --notebooks-dir``
    runs for a learner who runs each lesson again on top of its own resources."""
    import shutil

    from helpers.runner import lesson_notebooks

    folder.mkdir(parents=True, exist_ok=True)
    for path in lesson_notebooks():
        shutil.copy(path, folder / path.name)
        if path.name < "05":
            shutil.copy(path, folder / f"{path.stem}_again.ipynb")
    return folder


# --------------------------------------------------------------------------- the room


def rds_quota(seats: int) -> int:
    """The DB-instance quota the runbook asks for: two instances a participant (lessons 02 and 05
    may overlap) and one more (the decoy); never below AWS's default of 40 per region."""
    return max(40, 2 * seats + 1)


def rehearse(
    seats: list[Seat],
    workdir: Path,
    *,
    pool: int | None = None,
    emulator_env: dict[str, str] | None = None,
    settings=None,
    environ: dict[str, str] | None = None,
    log: Callable[[str], None] = log,
) -> RoomReport:
    """Rehearse a room of ``seats`` in ``workdir`` (its state, logs and executed notebooks); see the module.

    ``pool`` bounds how many seats run at once (default: all); ``emulator_env`` adds to the
    emulator's environment (its AWS-like limits, e.g.). The account's DB-instance quota is raised
    as the runbook says (:func:`rds_quota`), as an instructor would have asked AWS to.
    ``settings`` and ``environ`` (default: load_settings() and os.environ, read once at the start)
    let a caller that runs the room in a background thread hand over a snapshot taken before
    anything else changes the environment (the test session does; see conftest.py).
    """
    import shutil
    import tempfile

    from helpers.local import postgres, stack
    from helpers.local.processes import free_port
    from helpers.settings import load_settings
    from helpers.workshop import seat_keys

    environ = dict(os.environ if environ is None else environ)
    base_settings = settings if settings is not None else load_settings()
    prefixes = [s.prefix for s in seats]
    # The state folder (the kit's record and keys, the embedded PostgreSQL's data) lives in a
    # folder of its own under the system's temporary folder, not in ``workdir``: the embedded
    # server runs as an unprivileged user when we are root, and must reach its data folder
    # through every parent (pytest makes its own temporary root private again at each start).
    state = Path(tempfile.mkdtemp(prefix="room-state-"))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    database_url = environ.get("DATABASE_URL", "")
    env = _admin_env(environ, state, endpoint, database_url, free_port())
    workdir.mkdir(parents=True, exist_ok=True)
    with (workdir / "emulator.log").open("ab") as moto_log:
        moto = stack.spawn_moto(
            port,
            env={
                **env,
                "TUTORIAL_AWS_IAM": "off",
                "TUTORIAL_AWS_LIFECYCLE_PACE": PACE,
                "TUTORIAL_AWS_RDS_INSTANCE_QUOTA": str(rds_quota(len(seats))),
                **(emulator_env or {}),
            },
            output=moto_log,
        )
    settings = dataclasses.replace(
        base_settings, state_dir=state, pg_port=int(env.get("TUTORIAL_PG_PORT", 0)) or 5432, database_url=database_url
    )
    decoy = f"decoy-{secrets.token_hex(4)}"
    admin = Admin(endpoint)
    try:
        stack.wait_until_healthy(moto, endpoint)
        _must(_cli(["helpers", "up"], env), "python -m helpers up (the room's PostgreSQL)")
        with postgres.admin_connect(settings) as conn, conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            postmaster = _parent(cur.fetchone()[0])
        conn.close()
        log(f"  room: emulator {endpoint}, PostgreSQL {'DATABASE_URL' if database_url else 'embedded'}; decoys ...")
        decoys = admin.make_decoys(decoy)
        (workdir / "participants.txt").write_text("\n".join(prefixes) + "\n")
        _must(
            _cli(
                ["helpers", "workshop", "create", "--participants-file", str(workdir / "participants.txt"), "--yes"],
                env,
            ),
            "workshop create",
        )
        _must(_cli(["helpers", "workshop", "prepare", "--yes"], env), "workshop prepare")
        before = admin.inventory() - {f"iam-user {u}" for u in _users(admin)}
        student_dir = workdir / "student"
        if any(s.kind == "student" for s in seats):
            _must(_cli(["tools.student", "--out", str(student_dir)], env), "student copies")
        desks = {seat.prefix: set_desk(seat, workdir / "desks" / seat.prefix, student_dir) for seat in seats}
        width = min(pool or len(seats), len(seats))
        log(f"  room: {len(seats)} participants, {width} at a time, IAM enforced ...")
        assert _switch_iam(endpoint, True) == {"enforce": True}
        start = time.monotonic()
        try:
            with MemoryWatch(postmaster) as pg_memory, ThreadPoolExecutor(max_workers=width) as threads:
                runs = list(
                    threads.map(
                        lambda seat: _run_seat(
                            seat,
                            _seat_env(env, seat.prefix, seat_keys(settings, seat.prefix)),
                            workdir / "seats" / seat.prefix,
                            desks[seat.prefix],
                            [p for p in prefixes if p != seat.prefix] + [decoy],
                        ),
                        seats,
                    )
                )
        finally:
            wall = time.monotonic() - start
            _switch_iam(endpoint, False)
        log(f"    {wall:.0f} s; sweep ...")
        sweep = _cli(["helpers", "workshop", "sweep", "--yes"], env)
        after = admin.inventory()
        report = RoomReport(
            seats=runs,
            wall_seconds=wall,
            concurrency=width,
            sweep_returncode=sweep.returncode,
            sweep_output=sweep.stdout + sweep.stderr,
            left_after_sweep=sorted(after - before),
            decoys=decoys,
            decoys_missing_after_sweep=sorted(set(decoys) - after),
            emulator_peak_mib=(_proc_kib(moto.pid, "VmHWM") or 0) / 1024 or None,
            postgres_peak_mib=pg_memory.peak_mib,
            postgres="PostgreSQL from DATABASE_URL" if database_url else "embedded PostgreSQL of the room's own",
        )
    finally:
        _switch_iam(endpoint, False) if moto.poll() is None else None
        admin.delete_decoys(decoy) if moto.poll() is None else None
        moto.terminate()
        moto.wait(timeout=10)
        if not database_url:
            postgres.stop_embedded_postgres(settings)
        shutil.rmtree(state, ignore_errors=True)
    log(f"    {report.summary()}")
    return report


def _users(admin: Admin) -> list[str]:
    return [u["UserName"] for page in admin.client("iam").get_paginator("list_users").paginate() for u in page["Users"]]


def _seat_env(admin_env: dict[str, str], prefix: str, keys: tuple[str, str]) -> dict[str, str]:
    """A participant's environment: their prefix and keys, kept (not replaced by the dummy ones)."""
    return {
        **admin_env,
        "TUTORIAL_PREFIX": prefix,
        "TUTORIAL_LOCAL_CREDENTIALS": "own",
        "AWS_ACCESS_KEY_ID": keys[0],
        "AWS_SECRET_ACCESS_KEY": keys[1],
    }


def room_cases(settings, participants: int, pool: int | None = None) -> list[Timing]:
    """The benchmark's room: ``participants`` seats running the real notebooks, reported as a timing."""
    import tempfile

    seats = [Seat(p) for p in room_participants(participants)]
    with tempfile.TemporaryDirectory(prefix="room-") as tmp:
        report = rehearse(seats, Path(tmp), pool=pool)
    for prefix, why in list(report.failed_seats().items())[:5]:
        log(f"    FAILED {prefix}: {why[0].splitlines()[0]}")
    for prefix, names in list(report.seen().items())[:5]:
        log(f"    {prefix} saw {', '.join(names)}")
    for name in report.left_after_sweep[:10]:
        log(f"    left after the sweep: {name}")
    failures = sum(report.failures_per_lesson().values())
    note = (
        f"{failures} lesson failure(s); seen of another's {sum(map(len, report.seen().values()))}; "
        f"left after sweep {len(report.left_after_sweep)}; decoys kept "
        f"{len(report.decoys) - len(report.decoys_missing_after_sweep)}/{len(report.decoys)}; "
        f"peak emulator {_mib(report.emulator_peak_mib)}, PostgreSQL {_mib(report.postgres_peak_mib)}"
    )
    return [
        Timing(
            f"Workshop room: {participants} participants at once",
            f"python -m helpers run, lessons 00-05, {report.concurrency} at a time, own keys, IAM enforced",
            participants,
            "participants",
            report.wall_seconds,
            note,
            {
                "failures_per_lesson": report.failures_per_lesson(),
                "seen_of_others": report.seen(),
                "left_after_sweep": report.left_after_sweep,
                "decoys_missing_after_sweep": report.decoys_missing_after_sweep,
                "sweep_returncode": report.sweep_returncode,
                "emulator_peak_mib": report.emulator_peak_mib,
                "postgres_peak_mib": report.postgres_peak_mib,
                "postgres": report.postgres,
                "concurrency": report.concurrency,
            },
        )
    ]
