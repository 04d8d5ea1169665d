"""The widget: what one page change costs in bytes sent to the browser and in HTTP round trips.

The widget runs here, outside a kernel, with its real ``TokensClient`` against the service; the
messages it would send to the browser are caught at its comm and counted as JSON bytes.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from . import dataset
from .stats import Ratio

PAGES = 5


class _Wire:
    """Counts HTTP requests and response body bytes on the widget's client session."""

    def __init__(self) -> None:
        self.requests = 0
        self.body_bytes = 0
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._request)
        self.trace.on_response_chunk_received.append(self._chunk)

    async def _request(self, *_: Any) -> None:
        self.requests += 1

    async def _chunk(self, _session: Any, _context: Any, params: Any) -> None:
        self.body_bytes += len(params.chunk)


async def measure(url: str) -> tuple[list[Ratio], dict[str, Any]] | None:
    """None when the widget package is not installed."""
    try:  # here, not at the top: the widget's dependencies are an optional extra
        from tokens_widget import TokensClient, TokensWidget
    except ImportError:
        return None
    wire = _Wire()
    async with aiohttp.ClientSession(trace_configs=[wire.trace]) as session:
        widget = TokensWidget(client=TokensClient(url, dataset.CALLER_KEY, session=session))
        await widget.settled()
        synced: list[int] = []
        comm_send = widget.comm.send

        def counting_send(data: Any = None, buffers: Any = None, **kwargs: Any) -> None:
            synced.append(len(json.dumps(data, ensure_ascii=False).encode()))
            comm_send(data=data, buffers=buffers, **kwargs)

        widget.comm.send = counting_send
        per_page: list[dict[str, int]] = []
        last = (widget.total - 1) // widget.page_size  # past it, the widget reloads the last
        for page in range(1, min(PAGES, last) + 1):
            synced.clear()
            wire.requests = wire.body_bytes = 0
            widget.page = page
            await widget.settled()
            per_page.append({"synced_bytes": sum(synced), "messages": len(synced),
                             "http_requests": wire.requests, "api_bytes": wire.body_bytes})
        widget.close()
    mean = {k: sum(p[k] for p in per_page) / len(per_page) for k in per_page[0]}
    ratios = [
        Ratio("widget page change: bytes synced vs API JSON", mean["synced_bytes"],
              mean["api_bytes"], "B", 1.0, "<="),
        Ratio("widget page change: HTTP round trips", mean["http_requests"], 1, "", 1.0, "<="),
    ]
    return ratios, {"pages": per_page}
