"""S3 stores an object's bytes whatever its Content-Type says; moto (5.x) does not.

An object PUT is bytes plus a label: the ``Content-Type`` header is stored as the object's
system metadata and returned on GET, and S3 never looks inside the body because of it
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html, "System-defined object
metadata": Content-Type is one of the values the user controls). moto's request handling,
shared by every service, parses a body labelled ``application/x-www-form-urlencoded`` as a web
form before the S3 handler sees it, so a PUT through a presigned link sent with plain ``urllib``
(which adds that label when the caller gives none) stores an empty object, or the first form
field's name; a binary body (an image, a zip) is lost before that, and the request hangs.

:func:`install` makes the S3 handler read such a PUT's body raw, and leaves the form empty, so the
object holds exactly the bytes that were sent, as on AWS. Browser POST uploads (``multipart/
form-data``) are untouched: S3 does parse those as forms.
"""

from __future__ import annotations

import threading
from typing import Any

FORM = "application/x-www-form-urlencoded"

_LOCK = threading.Lock()
_INSTALLED = False


def keep_body_raw(request: Any) -> bool:
    """Before moto parses ``request``: read a form-labelled PUT's body as bytes and leave its form empty.

    Returns True when the request was such a PUT. werkzeug caches the bytes it read, so moto's
    ``request.data`` returns them, and the empty form means no form field replaces the body or
    the query string (where a presigned link's signature lives).
    """
    from werkzeug.datastructures import ImmutableMultiDict

    if request.method != "PUT" or request.mimetype != FORM or "form" in request.__dict__:
        return False
    request.get_data(cache=True, parse_form_data=False)
    request.__dict__["form"] = ImmutableMultiDict()
    request.__dict__["files"] = ImmutableMultiDict()
    return True


def read_body_keeping_it(environ: dict[str, Any]) -> str | None:
    """moto's server peeks at a form-labelled body to guess the service; keep the bytes intact.

    moto's own version decodes the body as UTF-8 and, when that fails (any binary file), leaves
    the stream consumed: the request then hangs until it times out and is refused. Here the bytes
    always go back into ``wsgi.input``; the text is returned only when the body is text.
    """
    import io

    try:
        size = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not environ.get("CONTENT_TYPE", "").startswith(FORM) or size <= 0:
        return None
    raw = environ["wsgi.input"].read(size)
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def install() -> None:
    """Patch moto's server and S3 handler (once per process) so a PUT body is stored whatever its label."""
    global _INSTALLED
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.s3.responses import S3Response

    with _LOCK:
        if _INSTALLED:
            return
        DomainDispatcherApplication._get_body = staticmethod(read_body_keeping_it)  # type: ignore[method-assign]
        original = S3Response.setup_class

        def setup_class(self: S3Response, request: Any, full_url: str | None = None, headers: Any = None) -> None:
            keep_body_raw(request)
            original(self, request, full_url, headers)

        S3Response.setup_class = setup_class  # type: ignore[method-assign]
        _INSTALLED = True
