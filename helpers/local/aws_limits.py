"""AWS's quotas and refusals that moto does not apply, added to the emulator the local backend runs.

Work in progress: the numbers and the policy size count IAM applies, importable by the kit's tests.
"""

from __future__ import annotations

import json
import re
from typing import Any

# IAM and AWS STS quotas, https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html:
# "You can add as many inline policies as you want to an IAM user, role, or group. But the total
# aggregate policy size (the sum size of all inline policies) per entity cannot exceed" these;
# "IAM does not count white space when calculating the size of a policy against these limitations."
USER_INLINE_POLICY_CHARS = 2048
ROLE_INLINE_POLICY_CHARS = 10240
GROUP_INLINE_POLICY_CHARS = 5120
MANAGED_POLICY_CHARS = 6144
ACCESS_KEYS_PER_USER = 2

_WHITESPACE = re.compile(r"\s+")


def policy_chars(document: str | dict[str, Any]) -> int:
    """The size IAM counts for a policy document: its characters, white space not counted.

    A dict is counted as the JSON text boto3 would send for it (``json.dumps``); a string as given.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
    """
    text = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    return len(_WHITESPACE.sub("", text))
