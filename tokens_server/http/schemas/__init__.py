"""Request and response shapes. Every model the API speaks, one module
per resource, read by the routes and the document; their field types live in field_types.py.

Requests are parsed strictly: unknown fields, wrong types and timestamps without an offset are
refused with the field named. The same models describe the API in the OpenAPI document, so the
document cannot drift from what is served.
"""

from __future__ import annotations

from tokens_server.http.schemas.accounts import (
    MeOut,
    ScopeCreate,
    ScopeListOut,
    ScopeOut,
    UserCreate,
    UserListOut,
    UserOut,
    UserPatch,
    UserWithKeyOut,
)
from tokens_server.http.schemas.base import (
    FieldErrorOut,
    HealthOut,
    Out,
    ProblemOut,
    Strict,
    dump,
    dump_json,
)
from tokens_server.http.schemas.bulk import BulkCounts, BulkOut, BulkRequest, BulkResultOut
from tokens_server.http.schemas.events import (
    EventOut,
    EventPageOut,
    EventsQuery,
    FieldChange,
    HistoryQuery,
    StreamQuery,
)
from tokens_server.http.schemas.tokens import (
    RegenerateRequest,
    TokenCreate,
    TokenListQuery,
    TokenOut,
    TokenPageOut,
    TokenPatch,
    VerifiedToken,
    VerifyOut,
    VerifyRequest,
)
from tokens_server.http.schemas.usage import (
    CountsOut,
    DayOut,
    RefusalsOut,
    TokenUsageOut,
    UsageBucketOut,
    UsageQuery,
    UsageSeriesOut,
    UsageSummaryOut,
    UsageSummaryQuery,
)

__all__ = [
    "BulkCounts",
    "BulkOut",
    "BulkRequest",
    "BulkResultOut",
    "CountsOut",
    "DayOut",
    "EventOut",
    "EventPageOut",
    "EventsQuery",
    "FieldChange",
    "FieldErrorOut",
    "HealthOut",
    "HistoryQuery",
    "MeOut",
    "Out",
    "ProblemOut",
    "RefusalsOut",
    "RegenerateRequest",
    "ScopeCreate",
    "ScopeListOut",
    "ScopeOut",
    "StreamQuery",
    "Strict",
    "TokenCreate",
    "TokenListQuery",
    "TokenOut",
    "TokenPageOut",
    "TokenPatch",
    "TokenUsageOut",
    "UsageBucketOut",
    "UsageQuery",
    "UsageSeriesOut",
    "UsageSummaryOut",
    "UsageSummaryQuery",
    "UserCreate",
    "UserListOut",
    "UserOut",
    "UserPatch",
    "UserWithKeyOut",
    "VerifiedToken",
    "VerifyOut",
    "VerifyRequest",
    "dump",
    "dump_json",
]
