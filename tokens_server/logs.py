"""Log set-up: one handler on stderr, and one formatter every record passes through, aiohttp's
own loggers included. Whatever a client sends, two things hold for every line written:

- no control character arrives raw, so a ``%0a`` in a path cannot forge a log line;
- nothing shaped like an API key or a GUID arrives whole (the first 8 hex digits of a GUID may,
  as the access log keeps them to tell requests apart), nor the configured secrets.

aiohttp logs a malformed request with its raw bytes in the exception (``Bearer <key>\\x00``, a
request line with a GUID); such client errors are written as one line naming the error, without
the bytes and without a traceback of aiohttp's parser.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Iterable

from aiohttp.http_exceptions import HttpProcessingError

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# C0 and C1 controls, DEL, Unicode line separators, and lone surrogates (undecodable header
# bytes arrive as those; a UTF-8 stream could not even write them).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# Hex digits in groups joined by - or / (raw or %-escaped): a GUID in any spelling, also split
# across path segments. 12 or more digits are cut to the first 8. Only a run of 12 characters or
# more can hold 12 digits: the lookahead passes over the others (every a-f in a word is a run)
# inside the regex engine, instead of calling back into Python for each (20 a line, 60 µs).
_HEX_RUN = re.compile(r"(?=[0-9a-fA-F%/-]{12})[0-9a-fA-F]+(?:(?:[-/]|%2[dDfF])[0-9a-fA-F]+)*")
_HEX_KEPT, _HEX_CUT_FROM = 8, 12
# A server-made API key, and what may be one without its prefix: a long run of the URL-safe
# alphabet mixing upper case, lower case and digits, as random bytes in base64 do.
_API_KEY = re.compile(r"tk_[A-Za-z0-9_-]{4,}")
_KEY_LIKE = re.compile(r"[A-Za-z0-9_-]{24,}")
_MIXED = (re.compile(r"[A-Z]"), re.compile(r"[a-z]"), re.compile(r"[0-9]"))
MASK = "…"


def escape(text: str) -> str:
    """Control characters as visible escapes: ``\\n`` becomes the two characters ``\\x0a``."""
    return _CONTROL.sub(lambda m: _escaped(m.group()), text)


def _escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _cut_hex_run(match: re.Match[str]) -> str:
    run = match.group()
    # A run holds only hex digits and the separators' -, / and %: the rest are its digits.
    if len(run) - run.count("-") - run.count("/") - run.count("%") < _HEX_CUT_FROM:
        return run
    # Keep the run as written up to its 8th hex digit.
    digits = end = 0
    while digits < _HEX_KEPT:
        digits += run[end] not in "-/%"
        end += 1
    return run[:end] + MASK


def _cut_key_like(match: re.Match[str]) -> str:
    word = match.group()
    return word[:3] + MASK if all(p.search(word) for p in _MIXED) else word


class RedactingFormatter(logging.Formatter):
    """The standard line format, with secrets cut and client text escaped (see the module)."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        super().__init__(FORMAT)
        # Longest first, so a secret containing another is cut whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        text = _API_KEY.sub("tk_" + MASK, text)
        text = _KEY_LIKE.sub(_cut_key_like, text)
        return _HEX_RUN.sub(_cut_hex_run, text)

    def format(self, record: logging.LogRecord) -> str:
        # Not the base class's: it would cache an unescaped traceback in ``record.exc_text``.
        record.message = escape(record.getMessage())
        record.asctime = self.formatTime(record, self.datefmt)
        text = self.formatMessage(record)
        if record.exc_info is not None and record.exc_info[1] is not None:
            text += "\n" + exception_text(record.exc_info[1])
        if record.stack_info:
            text += "\n" + record.stack_info  # frames of our own code: no client text
        return self.redact(text)


def exception_text(error: BaseException) -> str:
    """A traceback as Python prints it, but every exception's message escaped: source lines
    come from our files, messages may carry what a client sent."""
    if isinstance(error, HttpProcessingError):
        return _client_error(error)
    lines: list[str] = []
    _chain(error, lines, set())
    return "".join(lines).rstrip("\n")


def _chain(error: BaseException, lines: list[str], seen: set[int]) -> None:
    seen.add(id(error))
    context = None if error.__suppress_context__ else error.__context__
    if error.__cause__ is not None and id(error.__cause__) not in seen:
        _chain(error.__cause__, lines, seen)
        lines.append("\nThe above exception was the direct cause of the following exception:\n\n")
    elif context is not None and id(context) not in seen:
        _chain(context, lines, seen)
        lines.append("\nDuring handling of the above exception, another exception occurred:\n\n")
    if error.__traceback__ is not None:
        lines.append("Traceback (most recent call last):\n")
        lines.extend(traceback.format_tb(error.__traceback__))
    lines.append(f"{_type_name(error)}: {escape(_message(error))}\n")


def _client_error(error: HttpProcessingError) -> str:
    """What was wrong with a malformed request, without the request: aiohttp's message names
    the problem before its first colon and quotes the raw bytes after it."""
    summary = str(error.message).split(":", 1)[0].split("\n", 1)[0].strip()
    return f"{_type_name(error)}: {escape(summary)} (request not logged)"


def _type_name(error: BaseException) -> str:
    kind = type(error)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _message(error: BaseException) -> str:
    try:
        return str(error)
    except Exception:  # a broken __str__ must not lose the record
        return "<message unavailable>"


def configure_logging(secrets: Iterable[str | None] = ()) -> None:
    """Send every log record to stderr through the redacting formatter, at INFO."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
