"""The AWS regions a participant has used, so that status and cleanup look in all of them.

Why: every lesson works in the region of the moment (``AWS_DEFAULT_REGION``), and a
learner may change it between lessons. Resources created under the old region are
invisible to a cleanup that only looks in the new one, and an RDS instance there
keeps costing money. So :func:`helpers.setup` records each region it runs in, in the
state folder (``<state_dir>/regions``, one name per line), and cleanup searches all of
them. An instructor's sweep can go further with every region enabled for the account
(:func:`enabled`).
"""

from __future__ import annotations

import re
from pathlib import Path

from helpers.settings import Settings

FILE_NAME = "regions"
# A region code such as us-east-1 or ap-southeast-7; anything else in the file is ignored.
_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")


def _path(settings: Settings) -> Path:
    return settings.state_dir / FILE_NAME


def _read(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return {line for line in lines if _REGION_RE.match(line)}


def remember(settings: Settings) -> None:
    """Record the settings' region as used; does nothing when it is already recorded.

    Appending one short line is safe when two notebooks start at once: at worst a
    region is written twice, and reading ignores the repeat.
    """
    path = _path(settings)
    if settings.region in _read(path):
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(settings.region + "\n")


def used(settings: Settings) -> list[str]:
    """Every region recorded for this checkout, plus the current one, sorted."""
    return sorted(_read(_path(settings)) | {settings.region})


def enabled(ec2) -> list[str]:
    """The regions enabled for the account, sorted, from an EC2 client.

    DescribeRegions without ``AllRegions=True`` lists only the regions enabled for the
    account, which are the only ones where anything can exist: an opt-in region that is
    not enabled answers every call with an authentication error.
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeRegions.html
    """
    return sorted(region["RegionName"] for region in ec2.describe_regions().get("Regions", []))
