"""Scan files for AWS keys, passwords and real-looking account ids.

Why our own scanner: notebook outputs are committed on purpose (nbval compares
them), so a printed secret would be published with the next push. Generic scanners
read a notebook as JSON, where a quote inside a cell is escaped (``\\"``) and
patterns anchored on quotes miss it; this one decodes each notebook and scans cell
sources and text outputs as the learner sees them.

``python -m tools.secrets_scan [FILE ...]`` (default: every file git tracks)
prints each finding and exits 1 if there is any; pre-commit runs it on staged files.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from helpers.settings import REPO_ROOT

# Documented example values and the emulator's fixed account are not secrets.
ALLOWED = {
    "AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "123456789012",  # moto's account id, and the AWS documentation's example
    "000000000000",
}

PATTERNS = {
    "AWS access key id": re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}(?![A-Z0-9])"),
    "AWS secret access key": re.compile(
        r"(?i)(?:aws_?secret_?access_?key|secret_?key)[\"']?\s*[:=]\s*[\"']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])"
    ),
    "password": re.compile(r"(?i)(?:password|passwd|pwd)[\"']?\s*[:=]\s*[\"']([^\"'\s*{}<>]{6,})[\"']"),
    "password in a URL": re.compile(r"[a-z+]+://[^/\s:@]+:([^@\s*/]{4,})@"),
    "AWS account id": re.compile(r"(?<![\d.\-/])(\d{12})(?![\d.])"),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----"),
}

# Placeholders that documentation and tests use on purpose.
PLACEHOLDERS = re.compile(r"(?i)^(?:x+|\.+|your[-_].*|example.*|changeme|password|testing|secret|none|null)$")

SCANNED_SUFFIXES = {".py", ".ipynb", ".md", ".txt", ".cfg", ".toml", ".yml", ".yaml", ".example", ".ini", ""}


@dataclass(frozen=True)
class Finding:
    path: str
    where: str
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path} ({self.where}): {self.kind}: {self.excerpt}"


def notebook_texts(path: Path) -> Iterator[tuple[str, str]]:
    """(where, text) for every cell source and every text output of a notebook."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(nb.get("cells", [])):
        yield f"cell {index} source", "".join(cell.get("source", ""))
        for output in cell.get("outputs", []):
            if "text" in output:
                yield f"cell {index} output", "".join(output["text"])
            for mime, data in output.get("data", {}).items():
                if mime.startswith("text/") or mime == "application/json":
                    yield f"cell {index} output", "".join(data) if isinstance(data, list) else str(data)
            if "evalue" in output:
                yield f"cell {index} error", output["evalue"] + "\n" + "\n".join(output.get("traceback", []))


def scan_text(text: str, path: str, where: str) -> Iterator[Finding]:
    for kind, pattern in PATTERNS.items():
        for match in pattern.finditer(text):
            value = match.group(1) if match.groups() else match.group(0)
            if value in ALLOWED or PLACEHOLDERS.match(value):
                continue
            shown = value[:4] + "..." if len(value) > 8 else "..."
            yield Finding(path, where, kind, shown)


def scan_file(path: Path) -> list[Finding]:
    rel = str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
    try:
        if path.suffix == ".ipynb":
            texts = list(notebook_texts(path))
        else:
            texts = [("text", path.read_text(encoding="utf-8"))]
    except (UnicodeDecodeError, ValueError):
        return []
    findings: list[Finding] = []
    for where, text in texts:
        findings.extend(scan_text(text, rel, where))
    return findings


def tracked_files() -> list[Path]:
    """Every file git tracks, except tests/, whose fake keys and passwords are planted on purpose."""
    out = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    return [REPO_ROOT / line for line in out.stdout.splitlines() if line and not line.startswith("tests/")]


def scan(paths: Iterable[Path]) -> list[Finding]:
    findings: list[Finding] = []
    for path in paths:
        if path.is_file() and (path.suffix in SCANNED_SUFFIXES or path.name.startswith(".env")):
            findings.extend(scan_file(path))
    return findings


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    paths = [Path(a).resolve() for a in args] if args else tracked_files()
    findings = scan(paths)
    for finding in findings:
        print(finding)
    if findings:
        print(f"\n{len(findings)} possible secret(s). Remove them (and rotate any real key) before committing.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
