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
"""

from __future__ import annotations

import io
import os
import re
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv
from dotenv.parser import parse_stream

from helpers.errors import TutorialError

REPO_ROOT = Path(__file__).resolve().parent.parent
BACKENDS = ("local", "aws")
DEFAULT_REGION = "us-east-1"
DEFAULT_MOTO_PORT = 5055
DEFAULT_PG_PORT = 5433
# The local backend's AWS-like lifecycle (helpers/moto_server.py): on by default, and the
# seconds one status lasts (creating, deleting, ...) where AWS takes minutes.
DEFAULT_LIFECYCLE_PACE = 2.0

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


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def load_env_file(path: Path | None = None) -> Path | None:
    """Load ``.env`` into ``os.environ`` without overriding what is already set.

    Returns the file that was read, or None when there is none (a missing ``.env``
    is normal: every variable has a default). Raises TutorialError when a line
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
    load_dotenv(path, override=False)
    return path


def _state_dir() -> Path:
    return Path(_env("TUTORIAL_STATE_DIR") or REPO_ROOT / ".tutorial").resolve()


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if it can start every resource name, else explain why not."""
    if not PREFIX_RE.match(prefix) or "--" in prefix:
        raise TutorialError(
            f"TUTORIAL_PREFIX={prefix!r} cannot be used in AWS resource names.",
            "Use 3-24 characters: lowercase letters, digits and single hyphens, starting "
            "with a letter and not ending with a hyphen (e.g. ws-alice or team-07).",
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
    alphabet = string.ascii_lowercase + string.digits
    value = "ds-" + "".join(secrets.choice(alphabet) for _ in range(6))
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
    database_url: str = field(default="", repr=False)
    env_file: Path | None = None
    lifecycle: bool = True  # TUTORIAL_AWS_LIFECYCLE: statuses and refusals as on AWS (local backend)
    lifecycle_pace: float = DEFAULT_LIFECYCLE_PACE  # TUTORIAL_AWS_LIFECYCLE_PACE, seconds per status

    @property
    def is_local(self) -> bool:
        return self.backend == "local"

    @property
    def moto_url(self) -> str:
        return f"http://127.0.0.1:{self.moto_port}"

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
        if self.is_local:
            pg = _mask_url(self.database_url) if self.database_url else f"embedded, 127.0.0.1:{self.pg_port}"
            lines.append(f"postgres     {pg}")
        lines.append(f"env file     {self.env_file or '(none)'}")
        return "\n".join(lines)


def load_settings(env_file: Path | None = None) -> Settings:
    """Build the settings from ``.env`` and the environment, validating each value."""
    used = load_env_file(env_file)
    backend = _env("TUTORIAL_BACKEND", "local").lower()
    if backend not in BACKENDS:
        raise TutorialError(
            f"TUTORIAL_BACKEND={backend!r} is not a backend this series knows.",
            "Use TUTORIAL_BACKEND=local (free, offline, the default) or TUTORIAL_BACKEND=aws "
            "(your AWS account), in .env or the environment.",
        )
    region = validate_region(_env("AWS_DEFAULT_REGION") or _env("AWS_REGION") or DEFAULT_REGION)
    state_dir = _state_dir()
    prefix = _env("TUTORIAL_PREFIX")
    prefix = validate_prefix(prefix) if prefix else remembered_prefix(state_dir)
    moto_port = _port("TUTORIAL_MOTO_PORT", DEFAULT_MOTO_PORT)
    pg_port = _port("TUTORIAL_PG_PORT", DEFAULT_PG_PORT)
    endpoint = _env("AWS_ENDPOINT_URL")
    if endpoint.rstrip("/") == f"http://127.0.0.1:{moto_port}":
        endpoint = ""  # our own moto, exported earlier by this process or `helpers env`
    return Settings(
        backend=backend,
        region=region,
        prefix=prefix,
        state_dir=state_dir,
        moto_port=moto_port,
        pg_port=pg_port,
        external_endpoint=endpoint,
        database_url=_env("DATABASE_URL"),
        env_file=used,
        lifecycle=_switch("TUTORIAL_AWS_LIFECYCLE", True),
        lifecycle_pace=_seconds("TUTORIAL_AWS_LIFECYCLE_PACE", DEFAULT_LIFECYCLE_PACE),
    )
