"""Every operation the API serves, declared once: the router and the OpenAPI document both
read this table, so they cannot disagree.
"""

from __future__ import annotations

from aiohttp import web

from tokens_server.http import schemas as s
from tokens_server.http.field_types import OBJECT_ID_PATTERN
from tokens_server.http.handlers import bulk, events, meta, scopes, stream, tokens, usage, users
from tokens_server.http.openapi import openapi_document
from tokens_server.http.operations import Operation, endpoint
from tokens_server.http.state import OPENAPI

BASE = "/api/v1"


# Token ids are ObjectIds as served. Holding the variable to them keeps /tokens/verify and
# /tokens/bulk-* from also matching /tokens/{token_id}, so a GET there is a 405 naming POST,
# not a 404 for "verify".
_TOKEN = f"{BASE}/tokens/{{token_id:{OBJECT_ID_PATTERN}}}"
# A bulk change answers each id's refusal in its body, so only the request itself can fail.
_BULK = (400, 401, 413, 415, 422)
_CHANGE = (401, 403, 404, 409, 412, 422)

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "GET",
        f"{BASE}/tokens",
        tokens.list_tokens,
        "List the tokens you can see",
        response=s.TokenPageOut,
        query=s.TokenListQuery,
        errors=(401, 422),
    ),
    Operation(
        "POST",
        f"{BASE}/tokens",
        tokens.create_token,
        "Create a token",
        status=201,
        response=s.TokenOut,
        body=s.TokenCreate,
        errors=(400, 401, 403, 409, 413, 415, 422),
    ),
    Operation(
        "POST",
        f"{BASE}/tokens/verify",
        tokens.verify_token,
        "Tell whether a GUID is a usable credential",
        response=s.VerifyOut,
        body=s.VerifyRequest,
        errors=(400, 401, 413, 415, 422),
    ),
    Operation(
        "POST",
        f"{BASE}/tokens/bulk-revoke",
        bulk.bulk_revoke,
        "Revoke many tokens, each on its own; answers every id's outcome in the order sent",
        response=s.BulkOut,
        body=s.BulkRequest,
        errors=_BULK,
    ),
    Operation(
        "POST",
        f"{BASE}/tokens/bulk-delete",
        bulk.bulk_delete,
        "Delete many tokens, each on its own; answers every id's outcome in the order sent",
        response=s.BulkOut,
        body=s.BulkRequest,
        errors=_BULK,
    ),
    Operation(
        "GET", _TOKEN, tokens.get_token, "Get a token", response=s.TokenOut, errors=(401, 404)
    ),
    Operation(
        "PATCH",
        _TOKEN,
        tokens.patch_token,
        "Change a token",
        response=s.TokenOut,
        body=s.TokenPatch,
        errors=(400, *_CHANGE, 413, 415),
        if_match=True,
    ),
    Operation(
        "DELETE",
        _TOKEN,
        tokens.delete_token,
        "Delete a token",
        status=204,
        errors=(401, 403, 404, 412, 422),
        if_match=True,
    ),
    Operation(
        "POST",
        f"{_TOKEN}/revoke",
        tokens.revoke_token,
        "Revoke an active token: it ends now, for good",
        response=s.TokenOut,
        errors=_CHANGE,
        if_match=True,
    ),
    Operation(
        "POST",
        f"{_TOKEN}/regenerate",
        tokens.regenerate_token,
        "Give a token a new GUID; the old one stops working at once, or after a grace",
        response=s.TokenOut,
        body=s.RegenerateRequest,
        body_optional=True,
        errors=(400, *_CHANGE, 413, 415),
        if_match=True,
    ),
    Operation(
        "GET",
        f"{_TOKEN}/history",
        tokens.token_history,
        "The token's history, newest first: who changed what, from what to what",
        response=s.EventPageOut,
        query=s.HistoryQuery,
        errors=(401, 404, 422),
    ),
    Operation(
        "GET",
        f"{_TOKEN}/usage",
        usage.token_usage,
        "How often the token was verified valid, and refused why, per UTC hour or day",
        response=s.UsageSeriesOut,
        query=s.UsageQuery,
        errors=(401, 404, 422),
        tags=("usage",),
    ),
    Operation(
        "GET",
        f"{BASE}/usage",
        usage.usage_summary,
        "Uses and refusals over a window of every token you can see, unused ones too",
        response=s.UsageSummaryOut,
        query=s.UsageSummaryQuery,
        errors=(401, 422),
        tags=("usage",),
    ),
    Operation(
        "GET",
        f"{BASE}/events",
        events.list_events,
        "The events you may see, oldest first (also those of deleted tokens)",
        response=s.EventPageOut,
        query=s.EventsQuery,
        errors=(401, 422),
        tags=("events",),
    ),
    Operation(
        "GET",
        f"{BASE}/events/stream",
        stream.event_stream,
        "The events you may see as they happen (Server-Sent Events); resumes after Last-Event-ID",
        response=s.EventOut,
        query=s.StreamQuery,
        # 429: the caller holds as many streams as one user may (feed.EventFeed.subscribe).
        errors=(401, 422, 429),
        stream=True,
        tags=("events",),
    ),
    Operation(
        "GET",
        f"{BASE}/me",
        users.me,
        "Who you are",
        response=s.MeOut,
        errors=(401,),
        tags=("users",),
    ),
    Operation(
        "GET",
        f"{BASE}/scopes",
        scopes.list_scopes,
        "The scopes you hold (admins: all)",
        response=s.ScopeListOut,
        errors=(401,),
        tags=("scopes",),
    ),
    Operation(
        "POST",
        f"{BASE}/scopes",
        scopes.create_scope,
        "Create a scope (admin)",
        status=201,
        response=s.ScopeOut,
        body=s.ScopeCreate,
        errors=(400, 401, 403, 409, 413, 415, 422),
        tags=("scopes",),
    ),
    Operation(
        "DELETE",
        f"{BASE}/scopes/{{name}}",
        scopes.delete_scope,
        "Delete an unused scope (admin)",
        status=204,
        errors=(401, 403, 404, 409),
        tags=("scopes",),
    ),
    Operation(
        "GET",
        f"{BASE}/users",
        users.list_users,
        "List users (admin)",
        response=s.UserListOut,
        errors=(401, 403),
        tags=("users",),
    ),
    Operation(
        "POST",
        f"{BASE}/users",
        users.create_user,
        "Create a user (admin); its API key is shown this once",
        status=201,
        response=s.UserWithKeyOut,
        body=s.UserCreate,
        errors=(400, 401, 403, 409, 413, 415, 422),
        tags=("users",),
    ),
    Operation(
        "PATCH",
        f"{BASE}/users/{{name}}",
        users.patch_user,
        "Change a user's scopes or admin flag (admin)",
        response=s.UserOut,
        body=s.UserPatch,
        errors=(400, 401, 403, 404, 409, 413, 415, 422),
        tags=("users",),
    ),
    Operation(
        "DELETE",
        f"{BASE}/users/{{name}}",
        users.delete_user,
        "Delete a user (admin)",
        status=204,
        errors=(401, 403, 404, 409),
        tags=("users",),
    ),
    Operation(
        "POST",
        f"{BASE}/users/{{name}}/key",
        users.rotate_key,
        "Rotate a user's API key (admin, or the user itself); the old key stops working",
        response=s.UserWithKeyOut,
        errors=(401, 403, 404),
        tags=("users",),
    ),
    Operation(
        "GET",
        f"{BASE}/health",
        meta.health,
        "Whether the service and its database answer, and whether it is saturated",
        response=s.HealthOut,
        errors=(503,),
        public=True,
        tags=("service",),
    ),
    Operation(
        "GET", f"{BASE}/openapi.json", meta.openapi, "This document", public=True, tags=("service",)
    ),
)


def add_routes(app: web.Application) -> None:
    app[OPENAPI] = lambda: openapi_document(OPERATIONS)
    for op in OPERATIONS:
        app.router.add_route(op.method, op.path, endpoint(op), name=op.operation_id)
