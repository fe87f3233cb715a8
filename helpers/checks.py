"""Preflight: what works, what is missing, and what to do about it, as one table.

Why a table and not the first exception: a learner with no credentials *and* a
stopped database wants both problems named at once, with the fix next to each.
"""

from __future__ import annotations

from dataclasses import dataclass

from helpers.errors import TutorialError
from helpers.settings import REPO_ROOT, Settings


@dataclass
class Check:
    check: str
    ok: bool
    detail: str
    fix: str = ""


def _gitignore_covers_env() -> bool:
    path = REPO_ROOT / ".gitignore"
    if not path.is_file():
        return False
    lines = {line.strip() for line in path.read_text(encoding="utf-8").splitlines()}
    return bool(lines & {".env", "/.env", ".env*", "*.env"})


def preflight(settings: Settings) -> list[Check]:
    """Run every check; never raises for a failed check."""
    import boto3

    from helpers import aws
    from helpers.local import postgres

    checks: list[Check] = []
    env_detail = f"read {settings.env_file.name}" if settings.env_file else "no .env (defaults used)"
    checks.append(Check("settings", True, f"backend={settings.backend}, region={settings.region}; {env_detail}"))
    ignored = _gitignore_covers_env()
    checks.append(
        Check(
            ".env kept out of git",
            ignored,
            ".gitignore lists .env" if ignored else ".gitignore does not list .env",
            "" if ignored else "Add a line `.env` to .gitignore before you put anything in .env.",
        )
    )
    creds = boto3.Session().get_credentials()
    if creds is None:
        checks.append(
            Check(
                "credentials",
                False,
                "none found",
                "Run `aws configure`, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in .env.",
            )
        )
    else:
        source = "the emulator's dummy keys" if settings.is_local else f"found via {creds.method}"
        checks.append(Check("credentials", True, source))
    try:
        who = aws.whoami(settings)
        # The endpoint botocore really sent STS to, on both backends: AWS_ENDPOINT_URL_STS (which
        # botocore honours over AWS_ENDPOINT_URL) may send STS to moto while the rest goes to
        # LocalStack, and on aws a redirect to an emulator cannot hide here either.
        where = who.endpoint_url or settings.endpoint_url or "(endpoint not resolved)"
        checks.append(Check("AWS API", True, f"{where} answers (STS GetCallerIdentity)"))
    except TutorialError as exc:
        checks.append(Check("AWS API", False, exc.problem, exc.fix))
    if settings.is_local:
        try:
            conn = postgres.admin_connect(settings, timeout=3)
            with conn.cursor() as cur:
                cur.execute("SHOW server_version")
                version = cur.fetchone()[0].split()[0]
            conn.close()
            target = postgres.pg_target(settings)
            kind = "embedded" if target.embedded else "DATABASE_URL"
            checks.append(Check("PostgreSQL", True, f"{kind}, {target.host}:{target.port}, version {version}"))
        except TutorialError as exc:
            checks.append(Check("PostgreSQL", False, exc.problem, exc.fix))
    else:
        checks.append(Check("PostgreSQL", True, "created on RDS in lesson 02"))
    return checks


def report(checks: list[Check]) -> str:
    """One line per check, the detail last so that varying details never shift columns."""
    lines = []
    for c in checks:
        lines.append(f"{'ok' if c.ok else 'MISSING':<8} {c.check:<21} {c.detail}")
        if c.fix:
            lines.append(f"{'':<8} {'':<21} what to do: {c.fix}")
    return "\n".join(lines)
