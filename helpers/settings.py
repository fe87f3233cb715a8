"""Settings: one object built from the environment and an optional ``.env`` file.

Why one object: every notebook, the CLI and the tests must agree on the backend,
the region and the resource prefix. Reading ``os.environ`` in thirty places is how
two cells end up talking to two different regions.

Rules:

* ``.env`` (at the repository root, or ``TUTORIAL_ENV_FILE``) is read with
  python-dotenv and never overrides a variable the environment already has, so
  ``TUTORIAL_BACKEND=aws make lessons`` wins over the file.
* A malformed ``.env`` line is an error naming the line, not a silent skip.
* Secrets (``AWS_SECRET_ACCESS_KEY``, the password in ``DATABASE_URL``) are never
  printed: ``str(settings)`` masks them.
* On the aws backend, what the local backend leaves behind (an ``AWS_ENDPOINT_URL*``
  pointing at this machine, the emulator's dummy keys) is refused here, in the one
  place every notebook and every command loads its settings: otherwise boto3 would
  quietly send the "AWS" calls to the emulator while the banner says AWS.
"""

from __future__ import annotations

import io
import ipaddress
import os
import re
import secrets
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from dotenv import dotenv_values
from dotenv.parser import parse_stream

from helpers.errors import TutorialError

REPO_ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("local", "aws")
DEFAULT_REGION = "us-east-1"
DEFAULT_MOTO_PORT = 5055
DEFAULT_PG_PORT = 5433
# The local backend's AWS-like lifecycle (helpers/local/moto_server.py): on by default, and the
# seconds one status lasts (creating, deleting, ...) where AWS takes minutes.
DEFAULT_LIFECYCLE_PACE = 2.0

# The local backend's dummy credentials. "test"/"test" because LocalStack checks presigned
# links against exactly these (moto accepts any keys); "testing" is what earlier versions of
# the series exported, so a shell that still has it is recognised as well.
LOCAL_ACCESS_KEY = "test"
LOCAL_SECRET_KEY = "test"  # noqa: S105 - the public dummy value emulators expect
DUMMY_KEYS = frozenset({LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, "testing"})

# botocore reads AWS_ENDPOINT_URL for every service and AWS_ENDPOINT_URL_<SERVICE ID> for one
# (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html). These are the
# ids of the services the lessons use; a near miss such as AWS_ENDPOINT_URL_SECRETSMANAGER is
# silently ignored by botocore, so it is reported instead.
ENDPOINT_VAR = "AWS_ENDPOINT_URL"
SERVICE_ENDPOINT_VARS = {
    "S3": "s3",
    "DYNAMODB": "dynamodb",
    "RDS": "rds",
    "EC2": "ec2",
    "STS": "sts",
    "SECRETS_MANAGER": "secretsmanager",
}

# The prefix ends up in bucket names (lowercase, digits, hyphens; 63 chars in all)
# and RDS identifiers (must start with a letter, no "--", no trailing hyphen).
PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{1,22}[a-z0-9]$")

# Every region AWS had when this was written; an unknown name is far more often a
# typo ("us-east1") than a brand-new region, and a typo otherwise surfaces as a
# confusing DNS or endpoint error several cells later.
KNOWN_REGIONS = frozenset(
    """
    af-south-1 ap-east-1 ap-east-2 ap-northeast-1 ap-northeast-2 ap-northeast-3
    ap-south-1 ap-south-2 ap-southeast-1 ap-southeast-2 ap-southeast-3
    ap-southeast-4 ap-southeast-5 ap-southeast-6 ap-southeast-7 ca-central-1 ca-west-1
    eu-central-1 eu-central-2 eu-north-1 eu-south-1 eu-south-2 eu-west-1 eu-west-2
    eu-west-3 il-central-1 me-central-1 me-south-1 mx-central-1 sa-east-1 us-east-1
    us-east-2 us-west-1 us-west-2 us-gov-east-1 us-gov-west-1 cn-north-1
    cn-northwest-1
    """.split()
)
# The regions every new AWS account has enabled: "Regions launched before March 20, 2019 are
# enabled by default"; the others are opt-in, and answer every call with a credentials error until
# the account enables them
# (https://docs.aws.amazon.com/accounts/latest/reference/manage-acct-regions.html).
REGIONS_ENABLED_BY_DEFAULT = frozenset(
    """
    us-east-1 us-east-2 us-west-1 us-west-2 ca-central-1 sa-east-1 eu-central-1 eu-north-1
    eu-west-1 eu-west-2 eu-west-3 ap-northeast-1 ap-northeast-2 ap-northeast-3 ap-south-1
    ap-southeast-1 ap-southeast-2
    """.split()
)


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


# What load_env_file put into os.environ in this process, name -> value. A value .env set is
# not "the environment": when the learner edits .env and re-runs the first cell, the new
# line must win, or `TUTORIAL_BACKEND=local` read once would stick until a kernel restart.
_FROM_ENV_FILE: dict[str, str] = {}

# What the local backend (stack.apply_local_env) set in this process:
# name -> (value before, value set), None meaning unset.
_LOCAL_EXPORTS: dict[str, tuple[str | None, str | None]] = {}


def record_local_export(name: str, before: str | None, after: str | None) -> None:
    """Remember that the local backend sets ``name`` to ``after``; ``before`` is its current value.

    When it still holds what the local backend set last time, the value from before that
    is kept; when something else changed it since (``%env``, the learner's own code),
    that new value is what an undo must put back.
    """
    if name in _LOCAL_EXPORTS and _LOCAL_EXPORTS[name][1] == before:
        before = _LOCAL_EXPORTS[name][0]
    _LOCAL_EXPORTS[name] = (before, after)


def undo_local_exports() -> tuple[str, ...]:
    """Put back what the local backend changed in this process; return the names put back.

    Only a variable still holding the value the local backend set is touched: one the
    learner changed since, or one that already had that value before (exported by the
    shell or written in .env), is left alone, so the aws backend refuses it instead.
    """
    restored = []
    for name, (before, after) in _LOCAL_EXPORTS.items():
        if before == after or os.environ.get(name) != after:
            continue
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before
        restored.append(name)
    _LOCAL_EXPORTS.clear()
    return tuple(restored)


def load_env_file(path: Path | None = None) -> Path | None:
    """Load ``.env`` into ``os.environ`` without overriding what is already set.

    Returns the file that was read, or None when there is none (a missing ``.env``
    is normal: every variable has a default). A value this function set on an
    earlier call is not "already set": it follows the file, so an edited or removed
    line takes effect when the first cell runs again. Raises TutorialError when a line
    cannot be parsed, because python-dotenv would only log a warning and skip it,
    and a skipped ``TUTORIAL_BACKEND=aws`` line silently changes the backend.
    """
    if path is None:
        path = Path(_env("TUTORIAL_ENV_FILE") or REPO_ROOT / ".env")
    if not path.is_file():
        if _env("TUTORIAL_ENV_FILE"):
            raise TutorialError(
                f"TUTORIAL_ENV_FILE points to {path}, which does not exist.",
                "Fix the path, or unset TUTORIAL_ENV_FILE to use the .env at the repository root.",
            )
        return None
    text = path.read_text(encoding="utf-8")
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            line = (binding.original.string.strip().splitlines() or [""])[0]
            raise TutorialError(
                f"{path.name} line {binding.original.line}: cannot read {line!r}.",
                "Each line must look like NAME=value (no spaces around '='; quote values "
                "with spaces). Compare with .env.example.",
            )
    values = {key: value for key, value in dotenv_values(path).items() if value is not None}
    for key, value in values.items():
        current = os.environ.get(key)
        if current is None or _FROM_ENV_FILE.get(key) == current:
            os.environ[key] = value
            _FROM_ENV_FILE[key] = value
    for key in [k for k in _FROM_ENV_FILE if k not in values]:  # a line removed since the last read
        if os.environ.get(key) == _FROM_ENV_FILE.pop(key):
            del os.environ[key]
    return path


def _state_dir() -> Path:
    return Path(_env("TUTORIAL_STATE_DIR") or REPO_ROOT / ".tutorial").resolve()


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if it can start every resource name, else explain why not.

    Two checks: the series' own shape (short, lowercase: it goes into bucket names), then
    every name the prefix builds against its service's rules (helpers.names.prefix_problems),
    which catches what the shape allows but AWS reserves: a security group name starting
    with ``sg-``, a bucket name starting with ``sthree-`` or ``amzn-s3-demo-``.
    """
    from helpers.names import prefix_problems

    if not PREFIX_RE.match(prefix) or "--" in prefix:
        raise TutorialError(
            f"TUTORIAL_PREFIX={prefix!r} cannot be used in AWS resource names.",
            "Use 3-24 characters: lowercase letters, digits and single hyphens, starting "
            "with a letter and not ending with a hyphen (e.g. ws-alice or team-07).",
        )
    problems = prefix_problems(prefix)
    if problems:
        raise TutorialError(
            f"TUTORIAL_PREFIX={prefix!r} cannot be used: {'; '.join(problems)}.",
            "Choose a prefix that starts differently (e.g. ws-alice or team-07): AWS reserves names "
            "starting with sg- for security groups, and sthree- and amzn-s3-demo- for buckets.",
        )
    return prefix


def validate_region(region: str) -> str:
    if region not in KNOWN_REGIONS:
        raise TutorialError(
            f"Unknown AWS region {region!r}.",
            "Set AWS_DEFAULT_REGION to a region code such as us-east-1 or eu-west-1 "
            "(see https://docs.aws.amazon.com/general/latest/gr/rande.html).",
        )
    return region


def new_prefix(lead: str = "ds-") -> str:
    """A fresh prefix: ``lead`` and six random lowercase letters or digits (``ds-k3x9q2``).

    Six characters from 36 make two learners (or two test sessions) sharing an account
    collide about once in two billion; the result always passes :func:`validate_prefix`.
    """
    alphabet = string.ascii_lowercase + string.digits
    return validate_prefix(lead + "".join(secrets.choice(alphabet) for _ in range(6)))


def remembered_prefix(state_dir: Path) -> str:
    """The prefix generated for this checkout on first use, then reused forever.

    A prefix that changed between notebooks would orphan lesson 01's bucket by the
    time lesson 04 looks for it, so it is written to the state folder once.
    """
    path = state_dir / "prefix"
    if path.is_file():
        value = path.read_text(encoding="utf-8").strip()
        if value:
            return value
    value = new_prefix()
    state_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n", encoding="utf-8")
    return value


def _port(name: str, default: int) -> int:
    raw = _env(name, str(default))
    if not raw.isdigit() or not 1024 <= int(raw) <= 65535:
        raise TutorialError(
            f"{name}={raw!r} is not a usable port.",
            f"Use a number between 1024 and 65535, or remove {name} to use {default}.",
        )
    return int(raw)


def _switch(name: str, default: bool) -> bool:
    raw = _env(name).lower()
    if not raw:
        return default
    if raw in {"1", "on", "true", "yes"}:
        return True
    if raw in {"0", "off", "false", "no"}:
        return False
    raise TutorialError(f"{name}={raw!r} is neither on nor off.", f"Use {name}=on or {name}=off.")


def _seconds(name: str, default: float) -> float:
    raw = _env(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 600:
        raise TutorialError(
            f"{name}={raw!r} is not a number of seconds between 0 and 600.",
            f"Use e.g. {name}={default:g}, or remove it for the default.",
        )
    return value


def _mask_url(url: str) -> str:
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1****@", url)


def is_local_url(url: str) -> bool:
    """True when ``url`` points at this machine (loopback, localhost, LocalStack's localhost name).

    Such an endpoint is an emulator: on the aws backend it can only be a leftover.
    """
    host = (urlparse(url if "://" in url else f"http://{url}").hostname or "").lower().rstrip(".")
    if host == "localhost" or host.endswith((".localhost", "localhost.localstack.cloud")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def is_moto_url(url: str, moto_port: int) -> bool:
    """True when ``url`` is the series' own moto server (127.0.0.1, localhost or ::1, its port)."""
    parsed = urlparse(url.strip())
    try:
        port = parsed.port
    except ValueError:
        return False
    return parsed.scheme == "http" and port == moto_port and is_local_url(url) and parsed.path in {"", "/"}


def endpoint_variables() -> dict[str, str]:
    """Every AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> set (non-empty) in the environment."""
    return {
        name: value.strip()
        for name, value in sorted(os.environ.items())
        if (name == ENDPOINT_VAR or name.startswith(ENDPOINT_VAR + "_")) and value.strip()
    }


def _service_endpoints() -> tuple[tuple[str, str], ...]:
    """The per-service endpoints set, as (service name for boto3, url); a misspelt name is an error."""
    found = []
    for name, url in endpoint_variables().items():
        if name == ENDPOINT_VAR:
            continue
        suffix = name[len(ENDPOINT_VAR) + 1 :]
        if suffix in SERVICE_ENDPOINT_VARS:
            found.append((SERVICE_ENDPOINT_VARS[suffix], url))
            continue
        near = [key for key in SERVICE_ENDPOINT_VARS if key.replace("_", "") == suffix.replace("_", "")]
        if near:
            raise TutorialError(
                f"{name} is not a variable botocore reads, so that endpoint would be ignored.",
                f"Rename it to {ENDPOINT_VAR}_{near[0]} (the service id in capitals, spaces as underscores).",
            )
    return tuple(found)


def _truthy(name: str) -> bool:
    return _env(name).lower() in {"1", "true", "yes", "on"}


class LocalLeftoversError(TutorialError):
    """The aws backend found the local backend's endpoint or dummy keys in the environment.

    ``in_environment`` are the variables to unset in the shell (or to lose by restarting
    the kernel); ``in_env_file`` are those that the .env file itself sets.
    """

    def __init__(self, problem: str, fix: str, in_environment: list[str], in_env_file: list[str]) -> None:
        super().__init__(problem, fix)
        self.in_environment = in_environment
        self.in_env_file = in_env_file


def check_no_local_leftovers(env_file: Path | None) -> None:
    """On the aws backend, refuse an endpoint on this machine or the emulator's dummy keys.

    Why refuse rather than quietly unset: a value the learner's shell or .env set is
    theirs, and the fix (restart the kernel, ``unset`` in the shell, delete a line in
    .env) must happen where it came from, or it comes back with the next kernel.
    AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true makes botocore ignore every endpoint
    variable, so then only the keys are checked.
    """
    reasons: dict[str, str] = {}
    if not _truthy("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        for name, url in endpoint_variables().items():
            if is_local_url(url):
                reasons[name] = f"{name}={url} (an emulator on this machine)"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        if _env(name) in DUMMY_KEYS:
            reasons[name] = f"{name} (the local backend's dummy key)"
    if not reasons:
        return
    names = list(reasons)
    file_values = {k: v for k, v in dotenv_values(env_file).items() if v} if env_file else {}
    in_env_file = [
        n for n in names if n in file_values and (is_local_url(file_values[n]) or file_values[n] in DUMMY_KEYS)
    ]
    in_environment = [n for n in names if _FROM_ENV_FILE.get(n) != os.environ.get(n)]
    fixes = []
    if in_env_file:
        fixes.append(f"Delete these lines from {env_file}: {', '.join(in_env_file)}.")
    if in_environment:
        unset = "unset " + " ".join(in_environment)
        if "ipykernel" in sys.modules:
            fixes.append(
                "Restart the kernel (Kernel > Restart Kernel) and run this cell again. If they are still "
                "set, Jupyter inherited them from the terminal that started it: quit Jupyter, run "
                f"`{unset}` in that terminal (and set AWS_PROFILE again if you use one), start Jupyter again."
            )
        else:
            fixes.append(
                f'Run `{unset}` in this shell (they come from `eval "$(python -m helpers env)"` on the local '
                "backend; on the aws backend that command prints this unset line for you), or open a new "
                "terminal. Set AWS_PROFILE again if you use a profile."
            )
    raise LocalLeftoversError(
        "TUTORIAL_BACKEND=aws, but this environment still points at the local backend: "
        + "; ".join(reasons.values())
        + ". boto3 would send the 'AWS' calls to the emulator (or sign them with dummy keys).",
        " ".join(fixes),
        in_environment,
        in_env_file,
    )


@dataclass(frozen=True)
class Settings:
    """Everything a notebook needs to know about where it runs."""

    backend: str
    region: str
    prefix: str
    state_dir: Path
    moto_port: int = DEFAULT_MOTO_PORT
    pg_port: int = DEFAULT_PG_PORT
    external_endpoint: str = ""  # AWS_ENDPOINT_URL the user set (e.g. LocalStack)
    # AWS_ENDPOINT_URL_<SERVICE> the user set, as (boto3 service name, url): e.g. rds to moto
    # while AWS_ENDPOINT_URL sends the rest to LocalStack.
    service_endpoints: tuple[tuple[str, str], ...] = ()
    database_url: str = field(default="", repr=False)
    env_file: Path | None = None
    lifecycle: bool = True  # TUTORIAL_AWS_LIFECYCLE: statuses and refusals as on AWS (local backend)
    lifecycle_pace: float = DEFAULT_LIFECYCLE_PACE  # TUTORIAL_AWS_LIFECYCLE_PACE, seconds per status
    # TUTORIAL_LOCAL_CREDENTIALS=own: on the local backend, keep the keys of the environment / .env
    # instead of the dummy ones (a workshop seat rehearsed against an emulator that enforces IAM).
    local_own_credentials: bool = False
    # Variables the local backend had set earlier in this process and the aws backend put back.
    restored_env: tuple[str, ...] = ()

    @property
    def is_local(self) -> bool:
        return self.backend == "local"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

    @property
    def needs_moto(self) -> bool:
        """Whether the local backend must run the built-in moto server.

        True without AWS_ENDPOINT_URL, and also with one (e.g. LocalStack) when an
        AWS_ENDPOINT_URL_<SERVICE> sends some services to our moto port.
        """
        if not self.is_local:
            return False
        if not self.external_endpoint:
            return True
        return any(is_moto_url(url, self.moto_port) for _, url in self.service_endpoints)

    @property
    def endpoint_url(self) -> str:
        """Where boto3 and the AWS CLI send requests; empty means real AWS."""
        if not self.is_local:
            return self.external_endpoint
        return self.external_endpoint or self.moto_url

    @property
    def runs_dir(self) -> Path:
        return REPO_ROOT / "runs"

    def __str__(self) -> str:
        lines = [
            f"backend      {self.backend}",
            f"region       {self.region}",
            f"prefix       {self.prefix}",
            f"endpoint     {self.endpoint_url or '(real AWS)'}",
        ]
        lines += [f"  {service:<10} {url}" for service, url in self.service_endpoints]
        if self.is_local:
            pg = _mask_url(self.database_url) if self.database_url else f"embedded, 127.0.0.1:{self.pg_port}"
            lines.append(f"postgres     {pg}")
        lines.append(f"env file     {self.env_file or '(none)'}")
        return "\n".join(lines)


def load_settings(env_file: Path | None = None) -> Settings:
    """Build the settings from ``.env`` and the environment, validating each value.

    On the aws backend this first undoes what the local backend set earlier in this
    same process (a kernel that ran setup() on local, then had .env switched to aws),
    reads .env again for the slots that frees, and then refuses whatever local
    endpoint or dummy key is still set (see :func:`check_no_local_leftovers`).
    """
    used = load_env_file(env_file)
    backend = _env("TUTORIAL_BACKEND", "local").lower()
    if backend not in BACKENDS:
        raise TutorialError(
            f"TUTORIAL_BACKEND={backend!r} is not a backend this series knows.",
            "Use TUTORIAL_BACKEND=local (free, offline, the default) or TUTORIAL_BACKEND=aws "
            "(your AWS account), in .env or the environment.",
        )
    restored: tuple[str, ...] = ()
    if backend == "aws":
        restored = undo_local_exports()
        if restored:
            load_env_file(env_file)
        check_no_local_leftovers(used)
    region = validate_region(_env("AWS_DEFAULT_REGION") or _env("AWS_REGION") or DEFAULT_REGION)
    state_dir = _state_dir()
    prefix = _env("TUTORIAL_PREFIX")
    prefix = validate_prefix(prefix) if prefix else remembered_prefix(state_dir)
    moto_port = _port("TUTORIAL_MOTO_PORT", DEFAULT_MOTO_PORT)
    pg_port = _port("TUTORIAL_PG_PORT", DEFAULT_PG_PORT)
    endpoint = _env(ENDPOINT_VAR)
    if is_moto_url(endpoint, moto_port):
        endpoint = ""  # our own moto, exported earlier by this process or `helpers env`
    return Settings(
        backend=backend,
        region=region,
        prefix=prefix,
        state_dir=state_dir,
        moto_port=moto_port,
        pg_port=pg_port,
        external_endpoint=endpoint,
        service_endpoints=_service_endpoints(),
        database_url=_env("DATABASE_URL"),
        env_file=used,
        lifecycle=_switch("TUTORIAL_AWS_LIFECYCLE", True),
        lifecycle_pace=_seconds("TUTORIAL_AWS_LIFECYCLE_PACE", DEFAULT_LIFECYCLE_PACE),
        local_own_credentials=_env("TUTORIAL_LOCAL_CREDENTIALS").lower() == "own",
        restored_env=restored,
    )
