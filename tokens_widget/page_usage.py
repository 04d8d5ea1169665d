"""Usage in the widget: the "Uses (14 d)" column of the page shown, and the History dialog's chart.

The column's counts arrive with the page: one ``GET /usage?ids=…&series=day`` for the tokens on
it, read right after the page itself and handed to the browser in the same update (the
``_usage`` trait: each token's uses, refusals and counts per UTC day).

How the column stays current. Verify counts uses in each server's memory and writes them every
few seconds (the writer of last uses), as ``$inc`` upserts into usage collections and a plain
``$set`` of ``last_used_at`` / ``last_refused_at`` on the token. None of that is a history event,
and ``/events/stream`` carries only history events: a flush is invisible to the change feed
the widget follows (``live.py``). Reading the page's usage again on a timer is the simplest
exact way: while a view is shown (from its first ``hello`` until the widget closes), every
``refresh_s`` seconds the usage of the tokens on the page is read again (one small request,
as cheap as the page's own), and the browser is told only when a count changed. Any page reload
(filters, paging, a change on the feed) reads it too. An open usage chart asks again for its
range when its token's counts change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from tokens_server.domain.usage import bucket_start

from .actions import Action, ActionError
from .errors import ApiError
from .usage_chart import RANGE_KEYS, Plan, chart, display_zone, plan
from .usage_models import UsageBucket

if TYPE_CHECKING:
    from .client import TokensClient

log = logging.getLogger(__name__)

#: The days of the grid's column, today (UTC) included.
COLUMN_DAYS: Final = 14
#: How often a shown page's usage is read again; the server writes counts every 10 s.
USAGE_REFRESH_S: Final = 15.0


@dataclass(frozen=True)
class Reading:
    """The ``_usage`` value for some tokens, and when its read began, counted: ``{"days": [UTC
    dates], "tokens": {id: {"uses", "refused", "refusals" (those not 0), "daily": [[uses,
    refused] a day]}}}``, without refusals when none, without daily when unused."""

    number: int
    usage: dict[str, Any]


class UsageHost(Protocol):
    """What the page's usage uses of its widget (``TokensWidget`` is one). The underscored
    members are the widget's own, shared with its helpers only."""

    _usage: dict[str, Any]

    @property
    def client(self) -> TokensClient | None: ...
    @property
    def page_tokens(self) -> Mapping[str, Any]: ...
    @property
    def _reload_task(self) -> asyncio.Task[None] | None: ...
    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]: ...


class PageUsage:
    """The usage of the page shown, kept current while a view is shown, and the usage charts."""

    def __init__(self, widget: UsageHost) -> None:
        self.widget = widget
        self.refresh_s = USAGE_REFRESH_S
        self._timer: asyncio.Task[None] | None = None
        # Reads are numbered as they start; one is shown only when none begun later was.
        self._started = self._shown = 0

    async def read(self, ids: Sequence[str]) -> Reading:
        """The usage of the tokens ``ids``: one request, however many they are. Empty when
        there are none, or when the server could not answer (the column then shows no counts
        rather than the page failing)."""
        self._started += 1
        return Reading(self._started, await self._read(ids))

    def show(self, reading: Reading) -> None:
        """Hand a reading to the browser, unless one begun later was already handed."""
        if reading.number > self._shown:
            self._shown = reading.number
            if reading.usage != self.widget._usage:
                self.widget._usage = reading.usage

    async def _read(self, ids: Sequence[str]) -> dict[str, Any]:
        client = self.widget.client
        if client is None or not ids:
            return {}
        now = datetime.now(UTC)
        start = bucket_start(now, "day") - timedelta(days=COLUMN_DAYS - 1)
        try:
            found = await client.usage_summary(
                from_=start, to=now, ids=ids, daily=True, limit=len(ids)
            )
        except ApiError as exc:
            log.info("the usage of the page could not be read: %s", exc)
            return {}
        tokens: dict[str, Any] = {}
        days: list[str] = []
        for item in found.items:
            daily = item.daily or ()
            days = days or [day.start.date().isoformat() for day in daily]
            # Kept small, as it comes with every page: no reasons nor days of a token unused.
            entry: dict[str, Any] = {"uses": item.uses, "refused": item.refused}
            if item.refused:
                reasons = item.refusals.model_dump().items()
                entry["refusals"] = {reason: n for reason, n in reasons if n}
            if item.uses or item.refused:
                entry["daily"] = [[day.uses, day.refused] for day in daily]
            tokens[item.token_id] = entry
        return {"days": days, "tokens": tokens}

    # --- keeping the page's usage current ----------------------------------------------------

    @property
    def running(self) -> bool:
        return self._timer is not None and not self._timer.done()

    def start(self) -> None:
        """Read the page's usage every ``refresh_s`` until ``stop()``; on the widget's loop."""
        if self.widget.client is None or self.running:
            return
        # Not one of the widget's settled() tasks: it runs until stopped.
        self._timer = asyncio.get_running_loop().create_task(self._keep_current())

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None

    async def _keep_current(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            with contextlib.suppress(Exception):
                await self.refresh()

    async def refresh(self) -> None:
        """Read the page's usage again, and hand it to the browser if a count changed."""
        reload = self.widget._reload_task
        if reload is not None and not reload.done():
            return  # the page is being read again, its usage with it
        ids = list(self.widget.page_tokens)
        fresh = await self.read(ids)
        # Not when another page came meanwhile (its own reading came with it).
        if fresh.usage and ids == list(self.widget.page_tokens):
            self.show(fresh)

    # --- the History dialog's chart ----------------------------------------------------------

    def actions(self) -> dict[str, Action]:
        """The front end's requests about usage."""
        return {"usage": self.chart}

    async def chart(
        self, request: Mapping[str, Any], now: datetime | None = None
    ) -> dict[str, Any]:
        """A token's uses and refusals over ``range`` (24h, 14d or 90d) as bars labelled in the
        time zone ``tz`` the browser names (UTC when it names none)."""
        key = request.get("range")
        if key not in RANGE_KEYS:
            raise ActionError(f"Choose one of {', '.join(RANGE_KEYS)}.")
        client = self.widget.client
        if client is None:
            raise ActionError("No server configured.")
        the_plan = plan(key, display_zone(request.get("tz")), now or datetime.now(UTC))
        buckets = await self._hours(client, str(request.get("token_id")), the_plan)
        return chart(the_plan, buckets)

    @staticmethod
    async def _hours(client: TokensClient, token_id: str, the_plan: Plan) -> list[UsageBucket]:
        windows = the_plan.windows()
        series = await asyncio.gather(
            *(client.usage(token_id, from_=a, to=b, bucket="hour") for a, b in windows)
        )
        return [bucket for one in series for bucket in one.buckets]
