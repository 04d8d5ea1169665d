"""``TokensClient.events()``: the server's change feed as one endless iterator of events.

The feed is ``GET /events/stream``. When the connection drops, or the server says this reader
fell behind (an ``overflow`` message, after which it hangs up), the reader connects again with
``Last-Event-ID`` set to the last event it saw: the server then sends every event after it, so
nothing is missed, and an event at or before it is never yielded again. Waits between attempts
double from BACKOFF_FIRST to BACKOFF_MAX; only a refusal that retrying cannot cure (the key no
longer works) ends the iterator, with ApiError.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from typing import Final

import aiohttp
import pydantic

from .connection import Connection
from .errors import ApiError
from .limits import FEED_SILENCE_MAX
from .models import Event
from .sse import Message, StreamBroken, messages

log = logging.getLogger(__name__)

STREAM_PATH: Final = "/events/stream"
BACKOFF_FIRST: Final = 0.25
BACKOFF_MAX: Final = 5.0
OVERFLOW: Final = "overflow"

#: Told True when the feed is up and False when it went down (only when that changes).
ConnectionListener = Callable[[bool], None]


def retry_cures(status: int) -> bool:
    """Whether asking again may succeed: no answer, a timeout, throttling or a server error."""
    return status in (0, 408, 429) or status >= 500


def _cursor(message: Message) -> int | None:
    try:
        return int(message.id) if message.id is not None else None
    except ValueError:
        return None


class _Listener:
    """Tells the listener of each change between up and down, once."""

    def __init__(self, listener: ConnectionListener | None) -> None:
        self._listener = listener
        self._up: bool | None = None

    def __call__(self, up: bool) -> None:
        if up != self._up and self._listener is not None:
            self._listener(up)
        self._up = up


async def follow(
    connection: Connection,
    after: int | None = None,
    on_connection: ConnectionListener | None = None,
) -> AsyncGenerator[Event, None]:
    """Every event after ``after`` (None: from the first connection on), each once, in order."""
    tell = _Listener(on_connection)
    loop = asyncio.get_running_loop()
    last = after
    delay = BACKOFF_FIRST
    while True:
        started = loop.time()
        delivered = False
        try:
            async with connection.stream(
                STREAM_PATH, last_event_id=last, silence=FEED_SILENCE_MAX
            ) as body:
                tell(True)
                async for message in messages(body):
                    if message.event == OVERFLOW:
                        log.info("the change feed fell behind; resuming after event %s", last)
                        break
                    cursor = _cursor(message)
                    if not message.data:
                        # Only an id: where the feed stands, to resume from should it drop.
                        if cursor is not None and (last is None or cursor > last):
                            last = cursor
                        continue
                    try:
                        event = Event.model_validate_json(message.data)
                    except pydantic.ValidationError:
                        log.warning("skipped an unreadable event (id %s)", message.id)
                        continue
                    if last is not None and event.id <= last:
                        continue
                    last = event.id
                    delivered = True
                    yield event
        except ApiError as exc:
            if not retry_cures(exc.status):
                tell(False)
                raise
            log.info("the change feed is unavailable (%s); retrying", exc)
        except (aiohttp.ClientError, TimeoutError, StreamBroken) as exc:
            log.info("the change feed dropped (%r); reconnecting", exc)
        tell(False)
        if delivered or loop.time() - started >= BACKOFF_MAX:
            delay = BACKOFF_FIRST  # it worked for a while: this is a new outage
        await asyncio.sleep(delay)
        delay = min(delay * 2, BACKOFF_MAX)
