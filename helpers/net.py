""" "What is my address?", the one fact a security-group rule for *only me* needs.

On AWS the answer is the public IPv4 address the internet sees for this machine
(your home router's, or the workshop venue's NAT), which only a server outside can
tell: we ask https://checkip.amazonaws.com, AWS's own echo service, with a short
timeout so that an offline laptop fails in seconds with a clear message.

On the local backend the "database" is on this machine, so the answer is
127.0.0.1: the rule the lesson writes is the same shape, ``<address>/32``.
"""

from __future__ import annotations

import ipaddress
import urllib.error
import urllib.request

from helpers.errors import TutorialError
from helpers.settings import Settings

CHECKIP_URL = "https://checkip.amazonaws.com"
LOCAL_ADDRESS = "127.0.0.1"


def my_public_ip(settings: Settings, *, timeout: float = 5.0, url: str = CHECKIP_URL) -> str:
    """This machine's public IPv4 address as AWS sees it (127.0.0.1 on the local backend)."""
    if settings.is_local:
        return LOCAL_ADDRESS
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (fixed https URL)
            text = response.read(64).decode("ascii", errors="replace").strip()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TutorialError(
            f"Could not ask {url} for your public IP address ({reason}).",
            "Check your internet connection (are you offline, or behind a proxy?) and re-run the cell. "
            "You can also look your address up in a browser and set the rule's CidrIp to '<address>/32' by hand.",
        ) from exc
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError as exc:
        raise TutorialError(
            f"{url} answered {text[:40]!r}, which is not an IPv4 address.",
            "A captive portal (hotel or conference Wi-Fi login page) can do this: log in to the network, then re-run.",
        ) from exc
    if not address.is_global:
        raise TutorialError(
            f"{url} answered {address}, which is not a public address.",
            "Re-run the cell; if it persists, look your address up in a browser and use '<address>/32'.",
        )
    return str(address)


def my_cidr(settings: Settings, **kwargs) -> str:
    """Your address as a one-address CIDR block (``/32``), ready for a security-group rule."""
    return f"{my_public_ip(settings, **kwargs)}/32"
