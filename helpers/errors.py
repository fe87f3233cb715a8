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


def hint_for(exc: BaseException) -> str | None:
    """A one-paragraph "what to do" for errors learners commonly cause, or None.

    Used by the notebook hook below; kept separate so it can be tested without IPython.
    """
    if isinstance(exc, TutorialError):
        return None  # its message already carries the fix
    try:
        from botocore.exceptions import EndpointConnectionError, NoCredentialsError
    except ImportError:  # pragma: no cover - boto3 is a requirement
        return None
    if isinstance(exc, NoCredentialsError):
        return (
            "boto3 found no AWS credentials. On the local backend, re-run the notebook's first cell "
            "(setup() sets dummy ones); on aws, run `aws configure` or fill in .env."
        )
    if isinstance(exc, EndpointConnectionError):
        url = getattr(exc, "kwargs", {}).get("endpoint_url", "")
        if "127.0.0.1" in url or "localhost" in url:
            return (
                "The local AWS emulator is not answering (stopped, or it crashed). Re-run the notebook's "
                "first cell, or `python -m helpers up` in a terminal. Everything the emulator held is gone "
                "after a restart: re-run the earlier lessons' cells that create resources."
            )
        return "AWS could not be reached: check your network connection and AWS_DEFAULT_REGION."
    try:
        import psycopg2
    except ImportError:  # pragma: no cover
        return None
    if isinstance(exc, psycopg2.OperationalError):
        text = str(exc)
        if "password authentication failed" in text:
            return (
                "PostgreSQL refused the password. Fetch the current one again with "
                "helpers.rds.connection_params(...) (RDS rotates managed passwords), and never type it by hand."
            )
        if "timeout" in text or "Connection refused" in text or "could not connect" in text:
            return (
                "PostgreSQL is not reachable. Local backend: `python -m helpers up`. On AWS: is the instance "
                "'available', and does its security group admit your current address (it changes between "
                "networks; re-run lesson 02's security-group cell)?"
            )
    return None


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
