"""Access logs keep the path but never a session token, signature, hmac or OAuth code."""

import logging
from datetime import timedelta
from types import SimpleNamespace

from django.core.servers.basehttp import WSGIRequestHandler
from gunicorn.config import Config

from config.log_redaction import RedactingGunicornLogger

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJkZXN0IjoiaHR0cHM6Ly9zaG9wIn0.c2lnbmF0dXJl"
PATH = (
    f"/admin/?embedded=1&id_token={TOKEN}&shop=demo.myshopify.com"
    "&hmac=0a1b2c3d&signature=ffee99&code=authcode123"
)
REDACTED_PATH = (
    "/admin/?embedded=1&id_token=[redacted]&shop=demo.myshopify.com"
    "&hmac=[redacted]&signature=[redacted]&code=[redacted]"
)


def test_runserver_access_log_redacts_secret_query_parameters(caplog) -> None:
    handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
    handler.request = None
    handler.log_date_time_string = lambda: "07/Dec/2026 06:00:00"

    with caplog.at_level(logging.INFO, logger="django.server"):
        handler.log_message('"%s" %s %s', f"GET {PATH} HTTP/1.1", "200", "512")

    assert [record.getMessage() for record in caplog.records] == [
        f'"GET {REDACTED_PATH} HTTP/1.1" 200 512'
    ]


def test_gunicorn_access_log_redacts_secret_query_parameters(capsys) -> None:
    path, query = PATH.split("?", 1)
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": PATH,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "203.0.113.9",
        "HTTP_REFERER": f"https://admin.example/apps/beam?id_token={TOKEN}",
        "HTTP_USER_AGENT": "agent",
    }
    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", '"%(r)s" %(s)s q=%(q)s ref="%(f)s"')
    logger = RedactingGunicornLogger(config)
    response = SimpleNamespace(status="200 OK", sent=512, headers=[])

    logger.access(response, SimpleNamespace(headers=[]), environ, timedelta(seconds=0))

    assert capsys.readouterr().out.splitlines() == [
        f'"GET {REDACTED_PATH} HTTP/1.1" 200 q={REDACTED_PATH.split("?", 1)[1]} '
        'ref="https://admin.example/apps/beam?id_token=[redacted]"'
    ]
