"""S3 conveniences for lesson 01: checking a CSV before it is uploaded, tidy CLI listings.

Why validate before upload: S3 stores whatever bytes it is given. A CSV with a
renamed column or a word where a number belongs is accepted without complaint, and
the problem only shows up later, when a query engine (Glue/Athena) or the next
notebook chokes on it, by which time nobody knows which of hundreds of files is to
blame. A database refuses bad rows at write time; for files in a bucket the only
place to do that is the code that uploads them. :func:`validate_csv` is that gate,
and :func:`upload_csv_checked` never sends a file that fails it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from helpers.errors import TutorialError

# The columns of the article's file1.csv / file2.csv, in order, with their Python types.
PEOPLE_COLUMNS: dict[str, type] = {"name": str, "age": int}

_MAX_REPORTED = 5
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_TIMESTAMP_PLACEHOLDER = "yyyy-mm-dd hh:mm:ss"


def validate_csv(path: str | Path, columns: Mapping[str, type] = PEOPLE_COLUMNS) -> pd.DataFrame:
    """Read ``path`` and check it has exactly ``columns`` (names, order, types).

    Supported types: ``str`` (non-empty text) and ``int`` (whole numbers, no blanks).
    Returns the parsed DataFrame with those dtypes. Raises :class:`TutorialError`
    naming the file, the offending columns or rows (with their line numbers in the
    file) and what to do, so that nothing malformed is uploaded.
    """
    path = Path(path)
    if not path.is_file():
        raise TutorialError(f"{path} does not exist.", "Check the file name and the current folder.")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise TutorialError(
            f"{path.name} is not a readable CSV file ({exc}).",
            "Save it as UTF-8 CSV with a header line.",
        ) from exc

    expected = list(columns)
    found = [str(c) for c in frame.columns]
    if found != expected:
        missing = [c for c in expected if c not in found]
        extra = [c for c in found if c not in expected]
        details = []
        if missing:
            details.append(f"missing {missing}")
        if extra:
            details.append(f"unexpected {extra}")
        if not details:
            details.append("same names in a different order")
        raise TutorialError(
            f"{path.name} has columns {found}, expected {expected} ({'; '.join(details)}).",
            "Fix the header line before uploading; the files in the bucket must all share one layout.",
        )

    problems: list[str] = []
    for column, kind in columns.items():
        values = frame[column].str.strip()
        if kind is int:
            ok = values.str.fullmatch(r"[+-]?\d+")
            wanted = "a whole number"
        elif kind is str:
            ok = values != ""
            wanted = "some text"
        else:
            raise TypeError(f"validate_csv supports int and str columns, not {kind!r}")
        for index in frame.index[~ok]:
            # +2: line 1 is the header and the index starts at 0.
            problems.append(f"line {index + 2}: {column}={frame.at[index, column]!r} is not {wanted}")
    if problems:
        shown = problems[:_MAX_REPORTED]
        if len(problems) > _MAX_REPORTED:
            shown.append(f"... and {len(problems) - _MAX_REPORTED} more")
        raise TutorialError(
            f"{path.name} has {len(problems)} bad value(s): " + "; ".join(shown) + ".",
            "Correct those rows (or drop them) and validate again.",
        )

    return frame.astype({c: ("int64" if k is int else "string") for c, k in columns.items()})


def upload_csv_checked(
    s3_client,
    path: str | Path,
    bucket: str,
    key: str,
    columns: Mapping[str, type] = PEOPLE_COLUMNS,
) -> pd.DataFrame:
    """Validate ``path`` with :func:`validate_csv`, and upload it only if it passes.

    The check runs entirely before the first byte is sent, so a refused file never
    reaches the bucket (not even partially). Returns the validated DataFrame.
    """
    frame = validate_csv(path, columns)
    s3_client.upload_file(str(path), bucket, key)
    return frame


def hide_timestamps(lines: Iterable[str]) -> list[str]:
    """Replace the leading ``YYYY-MM-DD hh:mm:ss`` of ``aws s3 ls`` lines, keeping alignment.

    The CLI prints each object's upload time; without this, every run of a lesson
    would change its saved output.
    """
    return [_TIMESTAMP.sub(_TIMESTAMP_PLACEHOLDER, line) for line in lines]
