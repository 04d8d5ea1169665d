"""What an operation is, and the one adapter that serves it.

An ``Operation`` declares a route: its method and path, what it reads (a body, a query, an
If-Match header), whether it needs a key, and what it answers. ``endpoint`` turns one into an
aiohttp handler that does what the declaration says before the operation's own handler runs, so
the declaration cannot drift from the behaviour: the router, this adapter and the OpenAPI
document all read the same value.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel

from tokens_server.domain.models import Caller
from tokens_server.http.auth import authenticate
from tokens_server.http.parsing import if_match, read_body, read_query, refuse_query
from tokens_server.http.schemas import dump_json
from tokens_server.http.state import IN_FLIGHT

Input = TypeVar("Input")
# Who calls a public operation: no one in particular, holding nothing.
ANONYMOUS = Caller(name="", admin=False, scopes=frozenset(), user_id="")
_VARIABLE = re.compile(r"{(\w+)(?::([^/]+))?}")


@dataclass(frozen=True)
class Call(Generic[Input]):
    """One request as its handler sees it: checked, authenticated and parsed."""

    request: web.Request
    operation: Operation
    caller: Caller
    input: Input
    # The version named by If-Match, for operations that read it (None: change regardless).
    expected_version: int | None = None

    @property
    def path(self) -> Mapping[str, str]:
        """The path's variables, e.g. ``call.path["token_id"]``."""
        return self.request.match_info

    def reply(
        self, body: BaseModel | None = None, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        """The operation's success: its declared status, with a body of its declared type."""
        declared = self.operation.response
        if body is None:
            assert declared is None, f"{self.operation.operation_id} must answer {declared}"
            return web.Response(status=self.operation.status, headers=headers)
        assert declared is not None and isinstance(body, declared), type(body)
        return web.Response(
            body=dump_json(body),
            status=self.operation.status,
            headers=headers,
            content_type="application/json",
            charset="utf-8",
        )

    def url_for(self, operation_id: str, **parts: str) -> str:
        """The address of another operation's resource, as the router builds it."""
        return str(self.request.app.router[operation_id].url_for(**parts))


OperationHandler = Callable[[Call[Any]], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: OperationHandler
    summary: str
    status: int = 200
    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    # The body may be left out, meaning every field at its default.
    body_optional: bool = False
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    public: bool = False
    if_match: bool = False
    # Answers text/event-stream, each event a ``response``, for as long as the reader stays.
    stream: bool = False
    tags: tuple[str, ...] = field(default=("tokens",))

    def __post_init__(self) -> None:
        assert self.body is None or self.query is None, "an operation reads a body or a query"

    @property
    def operation_id(self) -> str:
        return str(self.handler.__name__)

    @property
    def template(self) -> str:
        """The path as the document writes it: ``{token_id}``, without the router's pattern."""
        return _VARIABLE.sub(r"{\1}", self.path)

    @property
    def path_patterns(self) -> dict[str, str | None]:
        """Each path variable and the pattern the router holds it to, if any."""
        return {m[1]: m[2] for m in _VARIABLE.finditer(self.path)}


def endpoint(op: Operation) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The aiohttp handler of ``op``: bound and authenticated unless public, then parsed.

    Public operations are neither counted against the in-flight bound nor authenticated: health
    must answer while the server is saturated (and say so), and the document is for anyone.
    The bound comes before authentication, which costs a database read. A stream is counted
    only while it authenticates: it stays open for hours, and has its own bound.
    """

    async def serve(request: web.Request) -> web.StreamResponse:
        if op.public:
            return await _call(op, request, ANONYMOUS)
        in_flight = request.app[IN_FLIGHT]
        if op.stream:
            with in_flight.admitted():
                caller = await authenticate(request)
            return await _call(op, request, caller)
        with in_flight.admitted():
            return await _call(op, request, await authenticate(request))

    serve.__name__ = op.operation_id
    return serve


async def _call(op: Operation, request: web.Request, caller: Caller) -> web.StreamResponse:
    if op.query is None:
        refuse_query(request)
    expected = if_match(request) if op.if_match else None
    parsed: object = None
    if op.body is not None:
        if op.body_optional and not request.body_exists:
            parsed = op.body()
        else:
            parsed = await read_body(request, op.body)
    elif op.query is not None:
        parsed = read_query(request, op.query)
    return await op.handler(Call(request, op, caller, parsed, expected))
