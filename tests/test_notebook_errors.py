"""In a notebook, a learner's mistake reads as cause and fix, and the cell still fails."""

from __future__ import annotations

import socket

import pytest
from botocore.exceptions import EndpointConnectionError, NoCredentialsError
from IPython.core.interactiveshell import InteractiveShell

from helpers.errors import TutorialError, hint_for, install_notebook_hints


@pytest.fixture
def shell(monkeypatch):
    ip = InteractiveShell.instance()
    monkeypatch.setattr("IPython.get_ipython", lambda: ip)
    assert install_notebook_hints()
    yield ip
    ip.set_custom_exc((), None)


def run(shell, capsys, code: str):
    """Run a cell; return its result and the error text a notebook would show.

    ipykernel overrides ``_showtraceback`` to send the traceback lines to the
    notebook; we collect them the same way.
    """
    shown: list[str] = []
    shell._showtraceback = lambda etype, evalue, stb: shown.extend(stb)
    result = shell.run_cell(code)
    del shell._showtraceback
    return result, "\n".join(shown)


def test_tutorial_error_shows_message_and_fix_without_traceback(shell, capsys):
    shell.user_ns["TutorialError"] = TutorialError
    result, text = run(shell, capsys, "raise TutorialError('The bucket name is taken.', 'Pick another prefix.')")
    assert result.error_in_exec is not None, "the cell must still fail, so papermill and nbval notice"
    assert "The bucket name is taken." in text and "What to do: Pick another prefix." in text
    assert "Traceback" not in text and "most recent call" not in text


def test_dead_emulator_gets_a_hint_after_the_traceback(shell, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    code = (
        "import boto3\n"
        f"boto3.client('s3', endpoint_url='http://127.0.0.1:{dead}', region_name='us-east-1',"
        " aws_access_key_id='x', aws_secret_access_key='y',"
        " config=__import__('botocore.config').config.Config(retries={'max_attempts': 1})).list_buckets()"
    )
    result, text = run(shell, capsys, code)
    assert isinstance(result.error_in_exec, EndpointConnectionError)
    assert "EndpointConnectionError" in text
    assert "What to do:" in text and "helpers up" in text


def test_hints():
    assert "aws configure" in hint_for(NoCredentialsError())
    assert "network" in hint_for(EndpointConnectionError(endpoint_url="https://s3.amazonaws.com"))
    import psycopg2

    refused = psycopg2.OperationalError('FATAL:  password authentication failed for user "postgres"')
    assert "connection_params" in hint_for(refused)
    assert hint_for(ValueError("unrelated")) is None
    assert hint_for(TutorialError("has its own fix", "x")) is None


def test_rejected_keys_in_an_opt_in_region_also_name_the_region_as_a_cause():
    """A learner who picks ap-east-1 (Hong Kong) on a new account meets InvalidClientTokenId on the
    first call, exactly as with mistyped keys: the advice names both causes there, and only the
    keys in a region every account has; a wrong secret (SignatureDoesNotMatch) is always the keys."""
    from botocore.exceptions import ClientError

    from helpers.errors import advice
    from helpers.settings import KNOWN_REGIONS, REGIONS_ENABLED_BY_DEFAULT

    def rejected(code: str) -> ClientError:
        return ClientError({"Error": {"Code": code, "Message": "The security token is invalid."}}, "GetCallerIdentity")

    assert REGIONS_ENABLED_BY_DEFAULT < KNOWN_REGIONS and len(REGIONS_ENABLED_BY_DEFAULT) == 17
    _, fix = advice(rejected("InvalidClientTokenId"), local=False, region="ap-east-1")
    assert "AWS_ACCESS_KEY_ID" in fix and "ap-east-1 is an opt-in region" in fix and "us-east-1" in fix
    _, fix = advice(rejected("UnrecognizedClientException"), local=False, region="eu-west-1")
    assert "AWS_ACCESS_KEY_ID" in fix and "opt-in" not in fix
    _, fix = advice(rejected("SignatureDoesNotMatch"), local=False, region="ap-east-1")
    assert "opt-in" not in fix
