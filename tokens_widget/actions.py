"""The widget's actions: a message from the front end in, an answer with the same id out.

A request is ``{"id": 7, "action": "save", ...}``; the answer is ``{"id": 7, "ok": true,
"result": {...}}`` or ``{"id": 7, "ok": false, "error": "plain words", "fields": {...}}`` (with
the HTTP ``status`` when the server refused).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

# The server's own GUID maker (standard library only, shipped in the same distribution), so a
# fresh GUID is made one way wherever it is made.
from tokens_server.domain.guids import new_guid

from . import form
from .errors import ApiError, plain_words
from .history import HISTORY_PAGE_SIZE, history_entry
from .models import Token
from .rows import token_row

if TYPE_CHECKING:
    from .client import TokensClient

log = logging.getLogger(__name__)
Result = dict[str, Any]
#: One of the front end's requests, answered with its result.
Action = Callable[[Mapping[str, Any]], Awaitable[Result]]


class ActionHost(Protocol):
    """What the actions use of their widget (``TokensWidget`` is one). The underscored members
    are the widget's own, shared with its helpers only."""

    notice: str

    @property
    def client(self) -> TokensClient | None: ...
    @property
    def error(self) -> str: ...
    @property
    def page_tokens(self) -> dict[str, Token]: ...
    @property
    def expiry_warning_days(self) -> int: ...
    @property
    def _scopes(self) -> list[dict[str, Any]]: ...
    @property
    def _loaded(self) -> bool: ...
    @property
    def _reload_task(self) -> asyncio.Task[None] | None: ...
    def send(self, content: Mapping[str, Any]) -> None: ...
    def refresh(self) -> None: ...
    def working(self) -> AbstractAsyncContextManager[None]: ...


class ActionError(Exception):
    """An action refused before or after calling the server, with words for the person."""

    def __init__(self, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})


class ActionHandler:
    """Answers the front end's requests on behalf of one widget."""

    def __init__(
        self,
        widget: ActionHost,
        *,
        follow_changes: Callable[[], None],
        more: Mapping[str, Action],
    ) -> None:
        """``follow_changes`` keeps a shown view current; ``more`` answers further requests
        (the selection's)."""
        self.widget = widget
        self._follow_changes = follow_changes
        self._actions: dict[str, Action] = {
            "hello": self.hello,
            "refresh": self.refresh,
            "new_guid": self.new_guid,
            "validate": self.validate,
            "save": self.save,
            "revoke": self.revoke,
            "delete": self.delete,
            "history": self.history,
            "token": self.token,
            **more,
        }

    async def handle(self, request: Mapping[str, Any]) -> Result:
        """Run one request and send its answer; returns the answer too."""
        request_id = request.get("id")
        action = self._actions.get(str(request.get("action")))
        answer: Result
        try:
            if action is None:
                raise ActionError(f"Unknown action {request.get('action')!r}.")
            answer = {"id": request_id, "ok": True, "result": await action(request)}
        except ActionError as exc:
            answer = {"id": request_id, "ok": False, "error": exc.message, "fields": exc.fields}
        except ApiError as exc:
            fields = {e.field: e.message for e in exc.errors}
            answer = {
                "id": request_id,
                "ok": False,
                "error": plain_words(exc),
                "fields": fields,
                # The browser tells a stale version (412) from other refusals by it.
                "status": exc.status,
            }
            if exc.status in (404, 412):
                self.widget.refresh()
        except Exception:
            log.exception("tokens widget action %r failed", request.get("action"))
            answer = {"id": request_id, "ok": False, "error": "Something went wrong; try again."}
        self.widget.send(answer)
        return answer

    # --- the actions -------------------------------------------------------------------------

    async def hello(self, request: Mapping[str, Any]) -> Result:
        """A view was drawn: load the data if nothing has loaded yet, and keep it current."""
        if not self.widget._loaded and self.widget._reload_task is None:
            self.widget.refresh()
        self._follow_changes()
        return {}

    async def refresh(self, request: Mapping[str, Any]) -> Result:
        self.widget.notice = ""
        self.widget.refresh()
        task = self.widget._reload_task
        if task is not None:
            # wait() rather than await: a newer reload may replace (cancel) this one.
            await asyncio.wait({task})
        return {}

    async def new_guid(self, request: Mapping[str, Any]) -> Result:
        return {"guid": new_guid()}

    async def validate(self, request: Mapping[str, Any]) -> Result:
        verdict = self._check(request)
        return {"valid": verdict.valid, "errors": verdict.errors}

    async def save(self, request: Mapping[str, Any]) -> Result:
        client = self._client()
        original = self._original(request) if request.get("token_id") else None
        verdict = self._check(request)
        if not verdict.valid:
            raise ActionError("Please correct the marked fields.", verdict.errors)
        values = verdict.values
        async with self.widget.working():
            if original is None:
                token = await client.create_token(
                    values["name"],
                    values["scopes"],
                    description=values.get("description"),
                    guid=values.get("guid"),
                    valid_from=values.get("valid_from"),
                    valid_to=values.get("valid_to"),
                )
                self.widget.notice = f"Token “{token.name}” created."
            elif values:
                token = await client.update_token(
                    original.id, if_match=self._version(request, original), **values
                )
                self.widget.notice = f"Token “{token.name}” saved."
            else:
                token = original
                self.widget.notice = "Nothing changed."
        self.widget.refresh()
        return {"token_id": token.id}

    async def revoke(self, request: Mapping[str, Any]) -> Result:
        client = self._client()
        original = self._original(request)
        if not original.is_active:
            raise ActionError("This token is already inactive.")
        async with self.widget.working():
            token = await client.revoke_token(
                original.id, if_match=self._version(request, original)
            )
        self.widget.notice = f"Token “{token.name}” revoked."
        self.widget.refresh()
        return {"token_id": token.id}

    async def delete(self, request: Mapping[str, Any]) -> Result:
        client = self._client()
        original = self._original(request)
        async with self.widget.working():
            await client.delete_token(original.id, if_match=self._version(request, original))
        self.widget.notice = f"Token “{original.name}” deleted."
        self.widget.refresh()
        return {"token_id": original.id}

    async def history(self, request: Mapping[str, Any]) -> Result:
        """A page of a token's history, newest first; ``before`` is the last answer's ``next``."""
        before = request.get("before")
        page = await self._client().history(
            str(request.get("token_id")),
            before=before if isinstance(before, int) else None,
            limit=HISTORY_PAGE_SIZE,
        )
        return {"items": [history_entry(event) for event in page.items], "next": page.next}

    async def token(self, request: Mapping[str, Any]) -> Result:
        """A token's values as they are now, for an open dialog asked to reload them."""
        token = await self._client().get_token(str(request.get("token_id")))
        # The dialog's next save compares with these values, not those it opened with.
        self.widget.page_tokens[token.id] = token
        return {"row": token_row(token, datetime.now(UTC), self.widget.expiry_warning_days)}

    # --- helpers -----------------------------------------------------------------------------

    def _client(self) -> TokensClient:
        if self.widget.client is None:
            raise ActionError(self.widget.error or "No server configured.")
        return self.widget.client

    def _original(self, request: Mapping[str, Any]) -> Token:
        token = self.widget.page_tokens.get(str(request.get("token_id")))
        if token is None:
            raise ActionError("That token is no longer in the list; refresh and try again.")
        return token

    @staticmethod
    def _version(request: Mapping[str, Any], original: Token) -> int:
        # The version the person saw, so a change made meanwhile by someone else is a 412.
        version = request.get("version")
        return int(version) if isinstance(version, int) else original.version

    def _check(self, request: Mapping[str, Any]) -> form.Verdict:
        original = None
        if request.get("token_id"):
            original = self.widget.page_tokens.get(str(request.get("token_id")))
        held = [s["name"] for s in self.widget._scopes]
        return form.check(form.Draft.from_message(request.get("draft")), held, original)
