"""The terminal `eval "$(python -m helpers env)"` prepares: every AWS CLI command the series shows
reaches the local emulator, as the notebooks' calls do, in bash and in zsh.

AWS CLI v1 sends `rds` (and sqs, emr, docdb, neptune, health) to a fixed AWS host in some
regions whatever AWS_ENDPOINT_URL says (awscli/customizations/overridesslcommonname.py), so
`aws rds describe-db-instances` used to leave the machine, signed with the dummy keys. The env
output now defines a small `aws` function that passes --endpoint-url to those commands; these
tests run the real CLI in a real shell and read its --debug log for where it connected.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import nbformat
import pytest
from support import create_postgres_instance

from helpers.local import stack

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # the environment's python and its AWS CLI
SHELLS = [shell for shell in ("bash", "zsh") if shutil.which(shell)]
CONNECTION = re.compile(r"Starting new HTTPS? connection \(\d+\): (\S+)")


def shell_command(shell: str, script: str) -> list[str]:
    """Run ``script`` the way a learner's shell would, without their rc files."""
    return [shell, "--norc", "--noprofile", "-c", script] if shell == "bash" else [shell, "-f", "-c", script]


def terminal_env(**extra: str) -> dict[str, str]:
    """This session's environment as a fresh terminal has it: no AWS_* yet, the venv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


# --- the function on its own, with a stand-in `aws` that prints what it was given ------------


@pytest.fixture
def echo_aws(tmp_path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    fake = folder / "aws"
    fake.write_text('#!/bin/sh\necho "$*"\n')
    fake.chmod(0o755)
    return folder


ROUTING = [  # (environment, command line, what the real CLI must receive)
    (
        {"AWS_ENDPOINT_URL": "http://e"},
        "rds describe-db-instances",
        "--endpoint-url http://e rds describe-db-instances",
    ),
    (
        {"AWS_ENDPOINT_URL": "http://e", "AWS_ENDPOINT_URL_RDS": "http://moto"},
        "rds describe-db-instances",
        "--endpoint-url http://moto rds describe-db-instances",
    ),
    (
        {"AWS_ENDPOINT_URL": "http://e"},
        "--region eu-west-1 --output text sqs list-queues",
        "--endpoint-url http://e --region eu-west-1 --output text sqs list-queues",
    ),
    ({"AWS_ENDPOINT_URL": "http://e"}, "--debug docdb describe-db-clusters", "--endpoint-url http://e --debug docdb"),
    (
        {"AWS_ENDPOINT_URL": "http://e"},
        "rds describe-db-instances --endpoint-url http://x",
        "rds describe-db-instances",
    ),
    ({"AWS_ENDPOINT_URL": "http://e"}, "--endpoint-url=http://x rds describe-db-instances", "--endpoint-url=http://x"),
    ({"AWS_ENDPOINT_URL": "http://e"}, "s3 cp rds s3://b/rds", "s3 cp rds s3://b/rds"),
    ({"AWS_ENDPOINT_URL": "http://e"}, "--region rds s3 ls", "--region rds s3 ls"),
    ({}, "rds describe-db-instances", "rds describe-db-instances"),  # no endpoint: AWS, unchanged
]


@pytest.mark.parametrize("shell", SHELLS)
def test_the_function_adds_the_endpoint_only_where_the_cli_would_ignore_it(shell, echo_aws):
    """Before the fix there was no function: every line reached the CLI as typed."""
    lines = []
    for env, command, _ in ROUTING:
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        lines.append(f"( unset AWS_ENDPOINT_URL AWS_ENDPOINT_URL_RDS; {exports} aws {command} )")
    script = stack.aws_cli_shell_function() + "\n" + "\n".join(lines)
    env = {"PATH": f"{echo_aws}{os.pathsep}{os.environ['PATH']}", "HOME": os.environ.get("HOME", "/tmp")}
    out = subprocess.run(shell_command(shell, script), env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    received = out.stdout.splitlines()
    assert len(received) == len(ROUTING), out.stdout
    for (_, command, expected), got in zip(ROUTING, received, strict=True):
        assert got.startswith(expected), f"aws {command}: the CLI got {got!r}"
        assert got.count("--endpoint-url") <= 1, got


def test_the_commands_it_routes_are_the_ones_the_installed_cli_overrides():
    """The table follows the CLI's own: a service added there without a route here fails this test."""
    overrides = pytest.importorskip("awscli.customizations.overridesslcommonname")
    assert set(stack.CLI_FIXED_ENDPOINT_COMMANDS) == set(overrides.SSL_COMMON_NAMES)
    session = boto3.Session(region_name="us-east-1")
    for command, suffix in stack.CLI_FIXED_ENDPOINT_COMMANDS.items():
        service_id = session.client(command).meta.service_model.service_id
        assert suffix == str(service_id).upper().replace(" ", "_"), command  # botocore's variable name


@pytest.mark.parametrize("shell", SHELLS)
def test_the_aws_backend_defines_no_function_and_removes_ours_only(shell, tmp_path):
    (tmp_path / "empty.env").write_text("")
    env = terminal_env(
        TUTORIAL_ENV_FILE=str(tmp_path / "empty.env"),
        TUTORIAL_STATE_DIR=str(tmp_path / "state"),
        TUTORIAL_BACKEND="aws",
    )
    plain = subprocess.run(
        [sys.executable, "-m", "helpers", "env"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert plain.returncode == 0 and "function aws" not in plain.stdout, plain.stdout + plain.stderr
    python = sys.executable
    script = f"""
        export TUTORIAL_BACKEND=local
        eval "$({python} -m helpers env)"
        typeset -f aws | grep -q {stack.SHELL_FUNCTION_MARK} && echo defined
        export TUTORIAL_BACKEND=aws
        eval "$({python} -m helpers env)"
        typeset -f aws >/dev/null 2>&1 && echo still-there || echo removed
        function aws {{ echo mine; }}
        eval "$({python} -m helpers env)"
        aws
    """
    out = subprocess.run(shell_command(shell, script), cwd=REPO, env=env, capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.split() == ["defined", "removed", "mine"], out.stdout + out.stderr


# --- every command the README and the notebooks show, against the running emulator ----------


def documented_cli_services() -> set[str]:
    """The `aws <service>` commands the README and the lessons show a learner (prose and cells)."""
    texts = [(REPO / "README.md").read_text()]
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        texts += [cell.source for cell in nbformat.read(path, as_version=4).cells]
    found = set()
    for text in texts:
        found |= set(re.findall(r"(?:`|!|^)aws ([a-z][a-z0-9-]+)(?=[\s`])", text, flags=re.MULTILINE))
    return found


# aws-backend setup commands: they prompt or open a browser and make no request to the local stack.
NOT_FOR_THE_LOCAL_STACK = {"sso"}


@pytest.fixture
def emulator_resources(local_stack):
    """A bucket, a secret and a DB instance of this test's own, created in the emulator."""
    prefix = local_stack.prefix
    tag = uuid.uuid4().hex[:6]
    bucket, instance = f"{prefix}-term-{tag}", f"{prefix}-term-{tag}"
    s3, secrets, rds = boto3.client("s3"), boto3.client("secretsmanager"), boto3.client("rds")
    s3.create_bucket(Bucket=bucket)
    secret_value = f"terminal-{tag}"
    secret = secrets.create_secret(Name=f"{prefix}-term-{tag}", SecretString=secret_value)["ARN"]
    create_postgres_instance(rds, instance)
    policy = f"{prefix}-term-{tag}"  # made by the CLI below, as the README's `aws iam create-policy`
    try:
        yield {"bucket": bucket, "secret": secret, "secret_value": secret_value, "instance": instance, "policy": policy}
    finally:
        iam = boto3.client("iam")
        for found in iam.list_policies(Scope="Local")["Policies"]:
            if found["PolicyName"] == policy:
                iam.delete_policy(PolicyArn=found["Arn"])
        for key in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]:
            s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)
        secrets.delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)
        rds.delete_db_instance(DBInstanceIdentifier=instance, SkipFinalSnapshot=True)


def cli_session(res: dict[str, str]) -> list[tuple[str, str, str | None]]:
    """(name, command line, a text its output must contain): the series' commands, in order."""
    b = res["bucket"]
    return [
        ("rds", "aws rds describe-db-instances --output json", res["instance"]),
        ("sts", "aws sts get-caller-identity --output text", "123456789012"),
        ("s3 ls", "aws s3 ls", b),
        ("s3 cp", f"aws s3 cp test.txt s3://{b}/test.txt --no-progress", "upload: ./test.txt"),
        ("s3 ls bucket", f"aws s3 ls s3://{b}", "test.txt"),
        ("s3 cp recursive", f'aws s3 cp . s3://{b}/csv/ --recursive --exclude "*" --include "*.csv"', "file1.csv"),
        ("s3 sync", f"aws s3 sync project s3://{b}/code/ --delete", "upload: project/test.py"),
        ("s3 rm", f"aws s3 rm s3://{b}/code/ --recursive", "delete: s3://"),
        ("s3api", f"aws s3api list-object-versions --bucket {b} --output json", "test.txt"),
        (
            "secretsmanager",
            f"aws secretsmanager get-secret-value --secret-id {res['secret']} --query SecretString --output text",
            res["secret_value"],
        ),
        ("ec2", "aws ec2 create-default-vpc", None),  # the emulator's answer: exists already, or made
        ("dynamodb", "aws dynamodb list-tables", "TableNames"),
        (
            "iam",
            f"aws iam create-policy --policy-name {res['policy']} --policy-document file://policy.json",
            res["policy"],
        ),
        # Lesson 00 names `aws configure`; v1 (requirements.txt) lists what is in use with `list`.
        ("configure", "aws configure list", "access_key"),  # local only: no request at all
    ]


def run_cli_session(shell: str, commands, workdir: Path) -> dict[str, tuple[int, str, str]]:
    """Every command in one shell that ran the eval, each with --debug; (rc, stdout, log) by name."""
    python = sys.executable
    steps = [f'eval "$({python} -m helpers env)"']
    for number, (_, command, _) in enumerate(commands):
        steps.append(f"{command} --debug >out{number}.txt 2>log{number}.txt; echo $? >rc{number}.txt")
    out = subprocess.run(
        shell_command(shell, "\n".join(steps)),
        cwd=workdir,
        env=terminal_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return {
        name: (
            int((workdir / f"rc{n}.txt").read_text()),
            (workdir / f"out{n}.txt").read_text(),
            (workdir / f"log{n}.txt").read_text(),
        )
        for n, (name, _, _) in enumerate(commands)
    }


@pytest.mark.timeout(300)
@pytest.mark.parametrize("shell", SHELLS)
def test_every_command_the_series_shows_reaches_the_emulator(shell, emulator_resources, local_stack, tmp_path):
    """Before the fix, `aws rds describe-db-instances` connected to rds.amazonaws.com."""
    commands = cli_session(emulator_resources)
    tested = {command.split()[1] for _, command, _ in commands}
    assert documented_cli_services() - NOT_FOR_THE_LOCAL_STACK <= tested, "a documented command is not tested here"
    if shell != "bash":  # bash runs them all; another shell repeats the one the function is for, and one more
        commands = [c for c in commands if c[0] in ("rds", "s3 ls")]
    (tmp_path / "test.txt").write_text("this is a test\n")
    for name in ("file1.csv", "file2.csv"):
        (tmp_path / name).write_text("name,age\nMatt Sosna,32\n")
    (tmp_path / "policy.json").write_text(
        json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}
        )
    )
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "test.py").write_text("print('hello')\n")

    results = run_cli_session(shell, commands, tmp_path)
    local_host = local_stack.endpoint_url.split("//", 1)[1].rstrip("/")
    for name, command, expected in commands:
        rc, out, log = results[name]
        hosts = CONNECTION.findall(log)
        assert not [h for h in hosts if "amazonaws.com" in h], f"{command}: left the machine for {hosts}"
        assert all(h == local_host for h in hosts), f"{command}: connected to {hosts}, not {local_host}"
        if name == "configure":
            assert rc == 0 and not hosts, log[-2000:]
            continue
        assert hosts, f"{command}: no connection in its --debug log"
        if expected is not None:
            assert rc == 0, f"{command}: exit {rc}\n{log[-2000:]}"
            assert expected in out, f"{command}: {out[:2000]}"
    if "rds" in results:  # the JSON names the instance this test made in the emulator
        answer = json.loads(results["rds"][1])
        assert emulator_resources["instance"] in [i["DBInstanceIdentifier"] for i in answer["DBInstances"]]


def test_the_lessons_shell_out_only_to_commands_that_follow_the_endpoint():
    """A notebook's `!aws ...` runs without the terminal's function: it must not need it (README)."""
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            for service in re.findall(r"!aws ([a-z][a-z0-9-]+)", cell.source):
                assert service not in stack.CLI_FIXED_ENDPOINT_COMMANDS, (
                    f"{path.name}: `!aws {service}` would reach AWS on the local backend (CLI v1 ignores "
                    "AWS_ENDPOINT_URL for it); use boto3 there"
                )
