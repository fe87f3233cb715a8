"""Small utilities shared by the test modules (pytest puts tests/ on sys.path)."""

from __future__ import annotations

import secrets
import socket
import string


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def random_prefix() -> str:
    """A participant prefix in the generated format (ds- and six characters), unique per call."""
    return "ds-" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(6))
