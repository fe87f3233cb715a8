"""`.env.example` documents every variable the series reads: a learner who wants to change a
behaviour finds its switch there, with what it does."""

from __future__ import annotations

import re

from helpers.settings import REPO_ROOT

# Variables botocore defines and the series sets for the learner (never a choice in .env).
SET_FOR_YOU = {
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_MAX_ATTEMPTS",
    "AWS_REGION",
    "AWS_RETRY_MODE",
    "AWS_SESSION_TOKEN",
}


def variables_read(text: str) -> set[str]:
    """Names in quotes that look like the series' or AWS's environment variables."""
    return set(re.findall(r"[\"'](TUTORIAL_[A-Z0-9_]+|DATABASE_URL|AWS_[A-Z0-9_]+)[\"']", text))


def test_every_variable_the_code_reads_is_documented_in_env_example():
    example = (REPO_ROOT / ".env.example").read_text()
    read = set()
    for folder in ("helpers", "tools"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            read |= variables_read(path.read_text())
    undocumented = sorted(name for name in read - SET_FOR_YOU if not re.search(rf"\b{name}=", example))
    assert undocumented == [], f"add to .env.example, with what each does: {undocumented}"


def test_the_scan_finds_quoted_names_only():
    assert variables_read('os.environ.get("TUTORIAL_LIVE", "") and env["AWS_REGION"]') == {
        "TUTORIAL_LIVE",
        "AWS_REGION",
    }
    assert variables_read("TUTORIAL_LIVE is mentioned in prose") == set()
