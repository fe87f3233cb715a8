"""No secret in anything committed, and a scanner that really finds them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tools.secrets_scan import REPO_ROOT, scan, scan_file, tracked_files

FAKE_KEY_ID = "AKIA" + "Q3EGRXB7SJ2LTZ5M"  # split so this file itself is no finding
FAKE_SECRET = "k9Dw2/" + "Zp8qLm4Rt7Xv1Bn6Yc3Hf0Js5Ga8Ue2Wi9"  # 40 characters, as AWS issues them


def test_nothing_committed_looks_like_a_secret():
    files = tracked_files()
    assert any(p.suffix == ".ipynb" for p in files), "the scan must cover the notebooks"
    findings = scan(files)
    assert not findings, "\n".join(map(str, findings))


def _notebook(tmp_path: Path, source: str, output: str = "") -> Path:
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(source)
    if output:
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=output)]
    nb.cells.append(cell)
    path = tmp_path / "leak.ipynb"
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize(
    "source,kind",
    [
        (f'client = boto3.client("s3", aws_access_key_id="{FAKE_KEY_ID}")', "access key id"),
        (f'aws_secret_access_key = "{FAKE_SECRET}"', "secret access key"),
        ('conn = psycopg2.connect(password="hunter2-db")', "password"),
        ('url = "postgresql://admin:Sup3rS3cret@db.example.com/x"', "password in a URL"),
        ('arn = "arn:aws:iam::' + "4829" + '17305561:user/alice"', "account id"),
    ],
)
def test_secrets_in_notebook_sources_are_found_despite_json_escaping(tmp_path, source, kind):
    path = _notebook(tmp_path, source)
    assert '\\"' in path.read_text(), "the quotes are escaped in the file, as in every notebook"
    findings = scan_file(path)
    assert any(kind in f.kind for f in findings), findings


def test_secrets_in_outputs_are_found(tmp_path):
    path = _notebook(tmp_path, "print(params)", output=f"{{'user': 'admin', 'password': 'P@55w0rd!'}}\n{FAKE_KEY_ID}")
    kinds = {f.kind for f in scan_file(path)}
    assert {"password", "AWS access key id"} <= kinds


def test_examples_and_masked_values_are_not_findings(tmp_path):
    source = (
        'key = "AKIAIOSFODNN7EXAMPLE"\n'
        "account = '123456789012'\n"
        "params = {'password': '****'}\n"
        'url = "postgresql://admin:****@127.0.0.1:5433/db"\n'
    )
    assert scan_file(_notebook(tmp_path, source)) == []


def test_cli_exit_code(tmp_path):
    leak = _notebook(tmp_path, f'k = "{FAKE_KEY_ID}"')
    bad = subprocess.run([sys.executable, "-m", "tools.secrets_scan", str(leak)], capture_output=True, text=True)
    assert bad.returncode == 1 and "access key id" in bad.stdout
    assert FAKE_KEY_ID not in bad.stdout, "the report must not repeat the secret"
    clean = tmp_path / "ok.py"
    clean.write_text("x = 1\n")
    ok = subprocess.run([sys.executable, "-m", "tools.secrets_scan", str(clean)], capture_output=True, text=True)
    assert ok.returncode == 0


def test_pre_commit_runs_the_scan_and_ruff():
    config = (REPO_ROOT / ".pre-commit-config.yaml").read_text()
    assert "entry: python -m tools.secrets_scan" in config
    assert "entry: ruff check" in config and "entry: ruff format" in config
