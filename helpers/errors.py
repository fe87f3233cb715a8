"""One exception type for every problem a learner can cause or fix.

A notebook cell that fails should say what happened and what to do next, in one
short paragraph, rather than leave a forty-line traceback as the only clue. Every
helper raises :class:`TutorialError` for such problems; the CLI prints it without
a traceback and exits non-zero, and notebooks show the message as the error.
"""

from __future__ import annotations


class TutorialError(RuntimeError):
    """A problem with a clear cause and a clear fix.

    ``problem`` says what went wrong, ``fix`` says what the learner can do about it.
    """

    def __init__(self, problem: str, fix: str = "") -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}\n  What to do: {fix}" if fix else problem)


def _is_local_url(url: str) -> bool:
    return any(host in url for host in ("127.0.0.1", "localhost", "[::1]"))


def advice(exc: BaseException, *, local: bool | None = None, region: str = "") -> tuple[str, str] | None:
    """(what happened, what to do) for the errors learners commonly cause, or None.

    The one place these words live: :func:`helpers.aws.explain` (CLI and helpers) and the
    notebook hook below (:func:`hint_for`) both read them. ``local`` says which backend
    failed; None means "tell from the endpoint in the error".
    """
    if isinstance(exc, TutorialError):
        return None  # it carries its own fix
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, PartialCredentialsError

    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return (
            "No AWS credentials were found.",
            "On the local backend, re-run the notebook's first cell (setup() sets the emulator's dummy keys). "
            "On aws, run `aws configure` (or `aws sso login`), or put AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY in .env, never in a notebook.",
        )
    if isinstance(exc, EndpointConnectionError):
        url = getattr(exc, "kwargs", {}).get("endpoint_url", "")
        if local if local is not None else _is_local_url(url):
            return (
                f"The local AWS emulator at {url or 'its endpoint'} is not answering.",
                "Re-run the notebook's first cell, or `python -m helpers up` in a terminal. Everything the "
                "emulator held is gone after a restart: re-run the earlier lessons' cells that create resources.",
            )
        where = f" in region {region}" if region else ""
        return (f"Cannot reach AWS{where} ({exc}).", "Check your network connection and AWS_DEFAULT_REGION.")
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException"}:
            from helpers.settings import REGIONS_ENABLED_BY_DEFAULT

            opt_in = ""
            if region and region not in REGIONS_ENABLED_BY_DEFAULT and code != "SignatureDoesNotMatch":
                opt_in = (
                    f" Or {region} is an opt-in region your account has not enabled: AWS answers every call "
                    "there this way until it is. Enable it (console: your account name > Account > AWS Regions) "
                    "or set AWS_DEFAULT_REGION to a region every account has, such as us-east-1."
                )
            return (
                f"AWS rejected your credentials ({code}).",
                "Check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or your profile); keys may have been "
                "deactivated or mistyped." + opt_in,
            )
        if code in {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}:
            return ("Your AWS session token has expired.", "Log in again (e.g. `aws sso login`).")
        return None
    try:
        import psycopg2
    except ImportError:  # pragma: no cover - a requirement
        return None
    if isinstance(exc, psycopg2.OperationalError):
        text = str(exc)
        if "password authentication failed" in text:
            return (
                "PostgreSQL refused the password.",
                "Fetch the current one again with helpers.rds.connection_params(...) (RDS rotates managed "
                "passwords), and never type it by hand.",
            )
        if "timeout" in text or "Connection refused" in text or "could not connect" in text:
            return (
                "PostgreSQL is not reachable.",
                "Local backend: `python -m helpers up`. On AWS: is the instance 'available', and does its "
                "security group admit your current address (it changes between networks; re-run lesson 02's "
                "security-group cell)?",
            )
    return None


def hint_for(exc: BaseException) -> str | None:
    """The "what to do" line the notebook hook adds under a common error's traceback, or None."""
    found = advice(exc)
    return f"{found[0]} {found[1]}" if found else None


def install_notebook_hints() -> bool:
    """In IPython, show a TutorialError as its message alone, and add a hint to common errors.

    The cell still fails (papermill and nbval see the error); the learner just reads the
    cause and the fix first instead of a forty-line traceback. Returns False outside IPython.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - notebooks always have IPython
        return False
    shell = get_ipython()
    if shell is None:
        return False
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    try:
        import psycopg2

        pg_errors: tuple = (psycopg2.OperationalError,)
    except ImportError:  # pragma: no cover
        pg_errors = ()

    def handler(self, etype, value, tb, tb_offset=None):
        # IPython calls this instead of showing the error, and ignores what it returns,
        # so it shows the error itself; ipykernel turns that into the cell's error output.
        if isinstance(value, TutorialError):
            stb = [f"{etype.__name__}: {value.problem}"]
            if value.fix:
                stb.append(f"What to do: {value.fix}")
        else:
            stb = self.InteractiveTB.structured_traceback(etype, value, tb, tb_offset=tb_offset)
            hint = hint_for(value)
            if hint:
                stb = [*stb, f"What to do: {hint}"]
        self._showtraceback(etype, value, stb)
        return stb

    shell.set_custom_exc((TutorialError, EndpointConnectionError, NoCredentialsError, *pg_errors), handler)
    return True
