"""Access logs without credentials: the values of secret query parameters are replaced.

Session tokens (``id_token``), app-proxy ``signature``\\s, OAuth ``hmac``\\s and ``code``\\s
travel in query strings; an access log that keeps them hands a reader working credentials.
Both access logs (runserver's ``django.server`` logger and gunicorn's) go through
``redact_secrets``.
"""

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

SECRET_QUERY_PARAMETERS = ("id_token", "session", "signature", "hmac", "code", "state")
REDACTED = "[redacted]"

_SECRET_PARAMETER = re.compile(
    r"(^|[?&;])(" + "|".join(SECRET_QUERY_PARAMETERS) + r")=[^&;\s\"']*",
    re.IGNORECASE,
)


def redact_secrets(text: str) -> str:
    """Return ``text`` (a path, request line or query string) with secret values replaced."""
    return _SECRET_PARAMETER.sub(rf"\1\2={REDACTED}", text)


class RedactSecretsFilter(logging.Filter):
    """Redact the string arguments of a record (runserver passes the request line as one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_secrets(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        if isinstance(record.msg, str):
            record.msg = redact_secrets(record.msg)
        return True


class RedactingGunicornLogger(GunicornLogger):
    """Gunicorn's logger with every access-log atom (request line, query, referer) redacted."""

    def atoms(self, resp: Any, req: Any, environ: dict, request_time: Any) -> dict:
        atoms = super().atoms(resp, req, environ, request_time)
        return {
            key: redact_secrets(value) if isinstance(value, str) else value
            for key, value in atoms.items()
        }
