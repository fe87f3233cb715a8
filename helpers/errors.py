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
