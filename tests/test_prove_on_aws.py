"""`make test-aws`: refuses without confirmation, and always sweeps what a run left.

CI cannot reach AWS, so the same code runs here on the local backend: with lessons that
forget to clean up or crash halfway (made up below), and with the real lessons.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from helpers import cleanup
from helpers.runner import lesson_notebooks
from helpers.settings import load_settings
from tools import prove_on_aws

SETUP = "from helpers import setup\ntut = setup(quiet=True)\nimport boto3\n"
LEAVES_A_BUCKET = (
    SETUP + 's3 = boto3.client("s3")\n'
    "s3.create_bucket(Bucket=tut.names.bucket)\n"
    's3.put_bucket_tagging(Bucket=tut.names.bucket, Tagging={"TagSet": tut.tags})\n'
)


def lessons(folder, *sources: str):
    folder.mkdir()
    for number, source in enumerate(sources):
        nb = new_notebook(cells=[new_code_cell(source)])
        nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
        nbformat.write(nb, folder / f"{number:02d}_made_up.ipynb")
    return folder


@pytest.fixture
def isolated(monkeypatch):
    """The tool sets TUTORIAL_BACKEND and TUTORIAL_PREFIX for its run; give them back afterwards."""
    monkeypatch.setenv("TUTORIAL_BACKEND", "local")
    monkeypatch.delenv(prove_on_aws.CONFIRM_ENV, raising=False)
    yield monkeypatch


def test_aws_is_refused_without_an_explicit_confirmation(isolated, capsys):
    assert prove_on_aws.main(["--backend", "aws"]) == 2
    assert "Confirm with" in capsys.readouterr().err
    assert load_settings().backend == "local"  # refused before anything was switched


def test_a_learner_prefix_is_refused(isolated, capsys):
    assert prove_on_aws.main(["--backend", "local", "--prefix", "ws-alice"]) == 2
    assert "prefix of its own" in capsys.readouterr().err


def test_leftovers_fail_the_proof_and_are_swept(local_stack, isolated, tmp_path, capsys):
    folder = lessons(tmp_path / "nb", LEAVES_A_BUCKET)
    prefix = prove_on_aws.new_prefix()
    code = prove_on_aws.main(["--backend", "local", "--prefix", prefix, "--notebooks-dir", str(folder)])
    out = capsys.readouterr().out
    assert code == 1
    assert "the lessons left resources behind" in out and "Nothing of the series is left." in out
    assert cleanup.find(load_settings(), [prefix], log=lambda _: None) == []


def test_a_failed_lesson_fails_the_proof_and_is_still_swept(local_stack, isolated, tmp_path, capsys):
    folder = lessons(tmp_path / "nb", LEAVES_A_BUCKET, 'raise RuntimeError("this lesson broke")')
    prefix = prove_on_aws.new_prefix()
    code = prove_on_aws.main(["--backend", "local", "--prefix", prefix, "--notebooks-dir", str(folder)])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED lesson 01_made_up" in out and "this lesson broke" in out
    assert cleanup.find(load_settings(), [prefix], log=lambda _: None) == []


@pytest.mark.timeout(1500)
def test_the_real_series_passes_the_proof_on_the_local_backend(room):
    """The session's workshop room (conftest.py ``room``) has a seat that runs
    ``python -m tools.prove_on_aws --backend local`` with the real lessons: a proof run in an
    account shared with participants and decoys, holding only the participant policy."""
    (proof,) = [run for run in room.seats if run.seat.kind == "proof"]
    assert proof.seat.prefix.startswith(prove_on_aws.PREFIX_START)
    assert prove_on_aws.LESSONS_LEFT_NOTHING in proof.output, proof.output[-3000:]
    assert "Proof passed" in proof.output and proof.returncode == 0, proof.output[-3000:]
    assert {notebook[:2] for notebook, _, _ in proof.lessons} == {path.name[:2] for path in lesson_notebooks()}
    assert {status for _, status, _ in proof.lessons} == {"ok"}, proof.failures


def test_make_test_aws_refuses_without_confirm(isolated):
    """The Makefile passes CONFIRM through; an empty one is no confirmation."""
    import subprocess
    import sys
    from pathlib import Path

    from helpers.settings import REPO_ROOT

    venv = Path(sys.executable).parent.parent  # the environment running these tests, set up by make
    if not (venv / ".installed").exists():
        pytest.skip("not a virtual environment made by `make setup`")
    done = subprocess.run(
        ["make", "--no-print-directory", "-s", "test-aws", f"VENV={venv}"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "Confirm with" in done.stderr


def test_the_workflow_is_manual_uses_oidc_and_sweeps_always():
    import yaml

    from helpers.settings import REPO_ROOT

    flow = yaml.safe_load((REPO_ROOT / ".github/workflows/aws-proof.yml").read_text())
    triggers = flow[True]  # YAML reads the key `on` as a boolean
    assert list(triggers) == ["workflow_dispatch"]
    assert flow["permissions"] == {"contents": "read", "id-token": "write"}
    steps = flow["jobs"]["prove"]["steps"]
    assert any("configure-aws-credentials" in s.get("uses", "") and "role-to-assume" in s["with"] for s in steps)
    assert not any("aws-access-key-id" in s.get("with", {}) for s in steps), "no long-lived keys"
    sweeps = [s for s in steps if "helpers clean --yes" in s.get("run", "")]
    assert sweeps and sweeps[0]["if"] == "always()"
    assert "proof-" in flow["jobs"]["prove"]["env"]["PROOF_PREFIX"]


def test_the_proof_policy_only_writes_to_the_proof_prefix_or_the_series_tag():
    import json

    from helpers.settings import REPO_ROOT

    policy = json.loads((REPO_ROOT / "policies/proof-run-policy.json").read_text())
    read_only = ("Describe", "List", "Get")
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        writes = [a for a in actions if not a.split(":")[1].startswith(read_only)]
        if not writes or statement["Sid"] == "ReadOnlyCallsThatCannotBeScoped":
            assert not writes, statement["Sid"]
            continue
        # Lesson 06: the proof prefix's Glue database (proof_..._lake), Glue's catalog (authorised with
        # every database in it) and Athena's default database (Athena requires it).
        marks = ("proof-", "proof_", "rds!db-", ":og:", ":pg:", ":subgrp:", ":catalog", "database/default")
        scoped = all(any(mark in r for mark in marks) for r in resources)
        exempt = "Condition" in statement or statement["Sid"] == "SecurityGroupsInTheDefaultVpc"
        assert scoped or exempt, statement["Sid"]


# --- the GitHub workflow's credentials and the role it assumes (README, "Proving the series on AWS")

PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")  # an action at a full commit SHA
DEFAULT_MAX_SESSION = (
    3600  # a new role's MaxSessionDuration: https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use.html
)


def _workflow_steps() -> list[dict]:
    import yaml

    from helpers.settings import REPO_ROOT

    flow = yaml.safe_load((REPO_ROOT / ".github/workflows/aws-proof.yml").read_text())
    return flow["jobs"]["prove"]["steps"]


def _readme() -> str:
    from helpers.settings import REPO_ROOT

    return (REPO_ROOT / "README.md").read_text()


def _requested_seconds(value) -> tuple[int, str | None]:
    """(seconds asked for when no variable is set, the repository variable that may raise it)."""
    if isinstance(value, int):
        return value, None
    found = re.fullmatch(r"\$\{\{\s*vars\.(\w+)\s*\|\|\s*'?(\d+)'?\s*\}\}", str(value).strip())
    assert found, f"role-duration-seconds {value!r}: a number, or vars.NAME || number"
    return int(found.group(2)), found.group(1)


def test_the_workflow_asks_for_no_longer_session_than_the_role_allows():
    """STS refuses DurationSeconds above the role's MaxSessionDuration (1 h unless raised)."""
    readme = _readme()
    raised = [int(n) for n in re.findall(r"--max-session-duration (\d+)", readme)]
    credentials = [s for s in _workflow_steps() if "configure-aws-credentials" in s.get("uses", "")]
    assert credentials
    for step in credentials:
        seconds, variable = _requested_seconds(step["with"].get("role-duration-seconds", DEFAULT_MAX_SESSION))
        assert 900 <= seconds <= DEFAULT_MAX_SESSION, f"{step.get('name')}: {seconds} s, more than a new role allows"
        if variable:  # raising it is documented, with the role's maximum raised at least as far
            documented = [int(n) for n in re.findall(rf"{variable}=(\d+)", readme)]
            assert documented and raised, f"README must say how to raise {variable} and MaxSessionDuration"
            assert max(documented) <= max(raised) <= 43200


def test_the_final_sweep_gets_fresh_credentials_of_its_own():
    steps = _workflow_steps()
    run = next(i for i, s in enumerate(steps) if "make test-aws" in s.get("run", ""))
    sweep = next(i for i, s in enumerate(steps) if "helpers clean --yes" in s.get("run", ""))
    first = [s for s in steps[:run] if "configure-aws-credentials" in s.get("uses", "")]
    again = [s for s in steps[run + 1 : sweep] if "configure-aws-credentials" in s.get("uses", "")]
    assert first and again, "the sweep needs a credentials step between the run and itself"
    assert again[-1]["if"] == "always()", "even when the run failed or its session expired"
    assert again[-1]["uses"] == first[0]["uses"], "the same action at the same commit"
    assert again[-1]["with"]["role-to-assume"] == first[0]["with"]["role-to-assume"]
    assert again[-1]["with"].get("unset-current-credentials") in (True, "true"), "replace the expired ones"
    for step in steps:
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{step['uses']}: pin actions to a commit SHA"


def test_the_documented_trust_policy_admits_only_main_and_sts_tokens():
    """A role that creates billable resources: not for any branch, fork or audience."""
    readme = _readme()
    blocks = [b for b in re.findall(r"```json\n(.*?)```", readme, flags=re.S) if "AssumeRoleWithWebIdentity" in b]
    assert len(blocks) == 1, "one trust policy in the README"
    (statement,) = json.loads(re.sub(r"(?m)^ {3}", "", blocks[0]))["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"].endswith(":oidc-provider/token.actions.githubusercontent.com")
    conditions = statement["Condition"]
    assert set(conditions) == {"StringEquals"}, "no StringLike: a wildcard would admit other branches"
    equals = conditions["StringEquals"]
    assert equals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    sub = equals["token.actions.githubusercontent.com:sub"]
    assert re.fullmatch(r"repo:[^:*?]+/[^:*?]+:(ref:refs/heads/main|environment:[\w-]+)", sub), sub
    # and how to create the provider that policy names
    assert "aws iam create-open-id-connect-provider" in readme
    assert "--url https://token.actions.githubusercontent.com --client-id-list sts.amazonaws.com" in readme
    assert "id_roles_providers_create_oidc.html" in readme


def test_the_proof_role_may_tag_a_security_group_only_while_creating_it():
    """A standalone CreateTags carries no ec2:CreateAction: without that condition the role could tag
    any group in the account as the series' and then open or delete it."""
    import json

    from helpers.local.iam_enforcement import decide
    from helpers.settings import REPO_ROOT

    policy = json.loads((REPO_ROOT / "policies/proof-run-policy.json").read_text())
    group = "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0123456789abcdef0"
    series_tag = {"aws:RequestTag/tutorial": "aws-storage-for-data-science"}
    on_create = {**series_tag, "ec2:CreateAction": "CreateSecurityGroup"}
    assert decide([policy], "ec2:CreateTags", group, on_create) == "allow"
    assert decide([policy], "ec2:CreateTags", group, series_tag) == "implicit-deny"
