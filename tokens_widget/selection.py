"""The tokens picked for a bulk revoke or delete, and those two actions.

Python owns the selection: ``TokensWidget.selected`` holds the ids in the order picked, and the
names are kept here for the confirmation. The browser draws the checkboxes and the bar from it
and asks, by message, to change it. Only tokens the caller may change can be picked, so both
actions are allowed on everything selected. The selection survives paging and is cleared when
the filters change, since "all matching" means the set the filters define.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Literal, Protocol

from .actions import Action, ActionError, Result
from .limits import BULK_IDS_MAX, PAGE_SIZE_MAX
from .models import BulkCounts, Token

if TYPE_CHECKING:
    from .client import TokensClient

# How many names the confirmation spells out before "and 9 more".
NAMED = 3
# Ids sent in one request: all that may be selected. The server writes them in a few group
# commits, and the client allows a bulk call its own, longer time (``BULK_TIMEOUT_S``).
CHUNK = BULK_IDS_MAX
BulkKind = Literal["revoke", "delete"]
# An outcome's words in the notice after a bulk action, by kind; in this order.
_WORDS: dict[BulkKind, tuple[tuple[str, str], ...]] = {
    "revoke": (
        ("revoked", "revoked"),
        ("conflict", "not active"),
        ("forbidden", "not yours to change"),
        ("not_found", "not found"),
    ),
    "delete": (
        ("deleted", "deleted"),
        ("forbidden", "not yours to change"),
        ("not_found", "not found"),
    ),
}


class SelectionHost(Protocol):
    """What the selection uses of its widget (``TokensWidget`` is one). The underscored members
    are the widget's own, shared with its helpers only."""

    selected: list[str]
    notice: str
    _selection_summary: str
    _all_matching: bool
    _selection_note: str

    @property
    def client(self) -> TokensClient | None: ...
    @property
    def error(self) -> str: ...
    @property
    def page_tokens(self) -> Mapping[str, Token]: ...
    def list_filters(self) -> dict[str, Any]: ...
    def refresh(self) -> None: ...
    def working(self) -> AbstractAsyncContextManager[None]: ...


def outcome_words(kind: BulkKind, counts: BulkCounts) -> str:
    """Like "10 revoked, 2 not active.": the changed count always, each refusal if any."""
    parts = [
        f"{getattr(counts, outcome)} {words}"
        for index, (outcome, words) in enumerate(_WORDS[kind])
        if index == 0 or getattr(counts, outcome)
    ]
    return ", ".join(parts) + "."


def names_phrase(names: list[str]) -> str:
    """Like "alpha, beta, gamma and 9 more", "alpha and beta" or "alpha"."""
    shown = names[:NAMED]
    more = len(names) - len(shown)
    if more:
        return f"{', '.join(shown)} and {more} more"
    if len(shown) > 1:
        return f"{', '.join(shown[:-1])} and {shown[-1]}"
    return "".join(shown)


class Selection:
    """The selection of one widget: picking, clearing, all matching, and acting on it."""

    def __init__(self, widget: SelectionHost) -> None:
        self.widget = widget
        #: Names of the tokens picked, by id, for the confirmation.
        self.names: dict[str, str] = {}

    def actions(self) -> dict[str, Action]:
        """The front end's requests this answers, for ``ActionHandler``."""
        return {
            "select": self.select,
            "select_matching": self.select_matching,
            "clear_selection": self.clear_selection,
            "bulk_revoke": lambda request: self.run("revoke", request),
            "bulk_delete": lambda request: self.run("delete", request),
        }

    # --- the state -------------------------------------------------------------------------

    def replace(self, picked: Iterable[tuple[str, str]]) -> None:
        """Select exactly these (id, name), in this order, each once, up to the bulk limit."""
        self.names = dict(list(dict(picked).items())[:BULK_IDS_MAX])
        self.widget.selected = list(self.names)

    def clear(self) -> None:
        self.replace(())

    def changed(self) -> None:
        """``selected`` changed: its names, and the word on "all matching", follow it."""
        widget = self.widget
        known = {t.id: t.name for t in widget.page_tokens.values()}
        names = [self.names.get(i) or known.get(i) or i for i in widget.selected]
        widget._selection_summary = names_phrase(names)
        widget._all_matching = False
        widget._selection_note = ""

    # --- the front end's requests ----------------------------------------------------------

    async def select(self, request: Mapping[str, Any]) -> Result:
        """Pick (``selected`` true) or unpick rows of the page shown, by id."""
        ids = request.get("token_ids")
        if not isinstance(ids, list):
            raise ActionError("Say which rows to select.")
        on = bool(request.get("selected"))
        chosen = {str(i) for i in ids}
        kept = [(i, self.names.get(i, i)) for i in self.widget.selected if on or i not in chosen]
        # Only rows the caller may change can be picked (their checkboxes are disabled).
        page = self.widget.page_tokens.values()
        added = [(t.id, t.name) for t in page if on and t.id in chosen and t.can_change]
        self.replace([*kept, *added])
        return {"count": len(self.widget.selected)}

    async def select_matching(self, request: Mapping[str, Any]) -> Result:
        """Select every token the filters match that the caller may change, page by page in
        the grid's order, up to the bulk limit; the bar says what was left out."""
        client = self.widget.client
        if client is None:
            raise ActionError(self.widget.error or "No server configured.")
        found: list[Token] = []
        skipped = total = offset = 0
        async with self.widget.working():
            while len(found) < BULK_IDS_MAX:
                page = await client.list_tokens(
                    **self.widget.list_filters(), limit=PAGE_SIZE_MAX, offset=offset
                )
                total = page.total
                found += [t for t in page.items if t.can_change]
                skipped += sum(1 for t in page.items if not t.can_change)
                offset += len(page.items)
                if not page.items or offset >= total:
                    break
        self.replace((t.id, t.name) for t in found)
        capped = len(found) > BULK_IDS_MAX or (len(found) == BULK_IDS_MAX and offset < total)
        self.widget._all_matching = True
        if capped:
            self.widget._selection_note = (
                f"Only the first {BULK_IDS_MAX:,} of {total:,} matching are selected: "
                f"one action takes at most {BULK_IDS_MAX:,}."
            )
        elif skipped:
            self.widget._selection_note = (
                f"{skipped:,} matching {'is' if skipped == 1 else 'are'} not selected: "
                "you do not hold every scope of "
                f"{'it' if skipped == 1 else 'them'}."
            )
        return {"count": len(self.widget.selected)}

    async def clear_selection(self, request: Mapping[str, Any]) -> Result:
        self.clear()
        return {}

    async def run(self, kind: BulkKind, request: Mapping[str, Any]) -> Result:
        """Revoke or delete everything selected, as the dialog showed it; the notice tells
        each outcome's count. The selection is cleared: what was refused would be refused
        again, and the notice says what it was. Should a request fail midway, the notice
        counts what was done and the ids not yet sent stay selected, to send again."""
        client = self.widget.client
        if client is None:
            raise ActionError(self.widget.error or "No server configured.")
        ids = list(self.widget.selected)
        if not ids:
            raise ActionError("Nothing is selected.")
        if request.get("count") != len(ids):
            raise ActionError("The selection changed meanwhile; check it and try again.")
        act = client.bulk_revoke if kind == "revoke" else client.bulk_delete
        outcomes: Counter[str] = Counter()
        sent = 0
        try:
            async with self.widget.working():
                for sent in range(0, len(ids), CHUNK):
                    result = await act(ids[sent : sent + CHUNK])
                    outcomes.update(item.outcome for item in result.results)
                sent = len(ids)
        finally:
            counts = BulkCounts(**outcomes)
            if outcomes:
                self.widget.notice = outcome_words(kind, counts)
                self.widget.refresh()
            self.replace((i, self.names.get(i, i)) for i in ids[sent:])
        return {"counts": counts.model_dump()}
