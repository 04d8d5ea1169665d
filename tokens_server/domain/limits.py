"""The limits a request is held to, each stated once. The request models (and through them the
OpenAPI document, as maxLength, maxItems, minimum and maximum) and the rules read them here; a
client can read them back from the served document."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from tokens_server.domain.guids import GUID_LENGTH

TOKEN_NAME_MAX: Final = 200
DESCRIPTION_MAX: Final = 2000
# Scopes named in one request: on a token, a user, a verification or a list filter.
SCOPES_MAX: Final = 100
# The longest text a verification takes as its GUID (a longer one is refused, not looked up).
VERIFY_GUID_MAX: Final = 100
# A token list filters by the first characters of a GUID, at least this many of them.
GUID_FILTER_MIN: Final = 4
GUID_FILTER_MAX: Final = GUID_LENGTH
# Token ids one bulk revoke or delete takes: each is its own change with its own event (they
# share group commits), so the request's time grows with it, and a page of a few hundred rows
# is what a person selects at once.
BULK_IDS_MAX: Final = 500
PAGE_SIZE_DEFAULT: Final = 50
PAGE_SIZE_MAX: Final = 200
OFFSET_MAX: Final = 1_000_000_000
# The longest look-ahead (expires_within) or look-back (unused_for) a token list takes, in days.
LIST_DAYS_MAX: Final = 3650
# How long a replaced GUID may keep working beside its successor (a rotation's overlap), in s.
GRACE_MAX_S: Final = 30 * 24 * 3600
# An event stream sends at least a comment this often, so a reader that hears nothing for
# longer knows its connection is gone.
HEARTBEAT_S: Final = 15
# An event stream filters each event as its reader is at most this long ago (the key may have
# been rotated or the scopes reduced since), and asks again at each heartbeat.
CALLER_MAX_AGE_S: Final = 1.0
# A write to an event stream that the reader does not take within this ends the stream: a
# reader that stopped reading must not keep its slot.
WRITE_TIMEOUT_S: Final = 10
# Event ids stay within the integers every JSON reader holds exactly.
EVENT_ID_MAX: Final = 2**53 - 1
# How far in the past a new valid_from may lie: the caller's clock may run behind the server's.
CLOCK_SKEW: Final = timedelta(minutes=5)
# A usage series or summary covers at most this many days, and a series at most this many
# buckets (83 days by the hour); counts are kept as long as ``TOKENS_USAGE_RETENTION_DAYS``.
USAGE_WINDOW_MAX_DAYS: Final = 400
USAGE_BUCKETS_MAX: Final = 2000
# The window a usage request covers when it names no start: the widget's sparkline.
USAGE_DEFAULT_DAYS: Final = 14
