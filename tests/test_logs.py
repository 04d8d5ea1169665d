"""The log formatter: client text escaped, secrets cut, in messages and in tracebacks alike."""

from __future__ import annotations

import logging
import sys
import uuid

from aiohttp.http_exceptions import BadHttpMessage

from tokens_server.logs import RedactingFormatter

CONFIGURED = "a-configured-admin-key-0123456789abcdef"


def _record(message: str, *args: object, error: BaseException | None = None) -> logging.LogRecord:
    exc_info = None
    if error is not None:
        try:
            raise error
        except BaseException:
            exc_info = sys.exc_info()
    return logging.LogRecord("t", logging.ERROR, __file__, 1, message, args, exc_info)


def test_a_newline_from_a_client_cannot_start_a_line_in_a_message_or_a_traceback() -> None:
    text = RedactingFormatter().format(
        _record("GET %s", "/x\nFORGED\u2028", error=ValueError("bad\r\nFORGED"))
    )
    assert not any(line.startswith("FORGED") for line in text.splitlines())
    assert "/x\\x0aFORGED\\u2028" in text and "bad\\x0d\\x0aFORGED" in text
    assert "Traceback (most recent call last)" in text  # our own traceback keeps its lines


def test_keys_guids_and_configured_secrets_are_cut_everywhere() -> None:
    guid = str(uuid.uuid4())
    key = "tk_" + "Ab1-" * 11
    split = f"{guid[:13]}/{guid[13:24]}/{guid[24:]}"
    text = RedactingFormatter([CONFIGURED]).format(
        _record("%s %s %s", guid.upper(), split, key, error=KeyError(f"{CONFIGURED} {guid}"))
    )
    for secret in (guid[8:], guid[24:], key[3:], CONFIGURED[-16:], guid.replace("-", "")[8:]):
        assert secret.lower() not in text.lower(), secret
    assert guid[:8] in text  # the prefix the access log keeps to tell requests apart


def test_a_malformed_request_is_logged_by_its_error_without_its_bytes() -> None:
    error = BadHttpMessage(f"Invalid header value char:\n\n  b'Bearer {CONFIGURED}\\x00'\n ^")
    text = RedactingFormatter().format(_record("Error handling request", error=error))
    assert text.endswith("BadHttpMessage: Invalid header value char (request not logged)")
    assert "Bearer" not in text and "Traceback" not in text
