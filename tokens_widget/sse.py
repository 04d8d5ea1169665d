"""Server-Sent Events read from bytes, as the WHATWG HTML standard defines the format.

Lines end with CRLF, LF or CR (also when a chunk ends between CR and LF); a blank line ends a
message; ``:`` starts a comment (the server's heartbeat); ``data`` lines join with newlines. A
message cut off by the end of the stream is dropped, as a browser drops it. Unlike a browser's
``EventSource``, a message carrying only an ``id`` is passed on too: it moves the reader's cursor.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Final

_LINE_END: Final = re.compile(rb"\r\n|\r|\n")
# Far above any event the server sends; a line without end beyond it is a broken stream.
LINE_MAX: Final = 1 << 20


class StreamBroken(Exception):
    """The stream sent something that cannot be an event stream."""


@dataclass(frozen=True)
class Message:
    """One message: its ``event`` type, its ``data`` and its ``id`` (None when it had none)."""

    event: str = "message"
    data: str = ""
    id: str | None = None


class LineSplitter:
    """Bytes in, complete lines out (without their line ends)."""

    def __init__(self) -> None:
        self._rest = b""
        self._after_cr = False

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF that the chunks cut in two
        self._after_cr = False
        data = self._rest + chunk
        lines: list[bytes] = []
        start = 0
        for end in _LINE_END.finditer(data):
            lines.append(data[start : end.start()])
            start = end.end()
            self._after_cr = end.group() == b"\r" and start == len(data)
        self._rest = data[start:]
        if len(self._rest) > LINE_MAX:
            raise StreamBroken(f"a line longer than {LINE_MAX} bytes")
        return lines


class MessageBuilder:
    """Lines in, a message out at each blank line that ends one."""

    def __init__(self) -> None:
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None

    def line(self, raw: bytes) -> Message | None:
        text = raw.decode("utf-8", errors="replace")
        if not text:
            return self._dispatch()
        if text.startswith(":"):
            return None
        name, colon, value = text.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id" and "\0" not in value:
            self._id = value
        return None  # "retry" and unknown fields are ignored: the reader keeps its own backoff

    def _dispatch(self) -> Message | None:
        message = None
        if self._data or self._id is not None or self._event:
            message = Message(self._event or "message", "\n".join(self._data), self._id)
        self._event, self._data, self._id = "", [], None
        return message


async def messages(chunks: AsyncIterable[bytes]) -> AsyncIterator[Message]:
    """Every complete message of a stream of byte chunks, in order."""
    splitter = LineSplitter()
    builder = MessageBuilder()
    async for chunk in chunks:
        for line in splitter.feed(chunk):
            message = builder.line(line)
            if message is not None:
                yield message
