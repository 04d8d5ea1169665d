"""The form's rules, which decide whether Save is enabled."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tokens_server.domain.guids import new_guid
from tokens_widget.form import Draft, check
from tokens_widget.models import Token

NOW = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
HELD = ["analytics", "ml"]
GUID = "3f2b8c1e-9a47-4c1d-8f0e-2b6a5d7c9e10"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def draft(**changes: object) -> Draft:
    base = Draft(name="Nightly ETL", scopes=("analytics",), guid=GUID)
    return replace(base, **changes)  # type: ignore[arg-type]


def token(**changes: object) -> Token:
    base = Token(
        id="t1",
        name="Nightly ETL",
        guid=GUID,
        guid_prefix=GUID[:8],
        description="",
        scopes=("analytics",),
        valid_from=NOW - timedelta(days=10),
        valid_to=NOW + timedelta(days=10),
        is_active=True,
        status="active",
        created_at=NOW,
        created_by="admin",
        updated_at=NOW,
        updated_by="admin",
        revoked_at=None,
        revoked_by=None,
        last_used_at=None,
        version=3,
        can_change=True,
    )
    return base.model_copy(update=changes)


def test_a_complete_new_token_is_valid_and_sends_only_what_was_given() -> None:
    verdict = check(draft(), HELD, now=NOW)
    assert verdict.valid
    assert verdict.values == {"name": "Nightly ETL", "scopes": ["analytics"], "guid": GUID}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "   "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"scopes": ()}, "scopes"),
        ({"scopes": ("finance",)}, "scopes"),
        ({"guid": ""}, "guid"),
        ({"guid": GUID.upper()}, "guid"),
        ({"guid": "3f2b8c1e-9a47-1c1d-8f0e-2b6a5d7c9e10"}, "guid"),  # version 1, not 4
        ({"description": "d" * 2001}, "description"),
        ({"valid_from": "2026-12-01T10:00"}, "valid_from"),  # no offset
        ({"valid_to": "soon"}, "valid_to"),
    ],
)
def test_invalid_fields_are_named_and_nothing_is_sent(
    changes: dict[str, object], field: str
) -> None:
    verdict = check(draft(**changes), HELD, now=NOW)
    assert not verdict.valid
    assert set(verdict.errors) == {field}
    assert verdict.values == {}


def test_past_dates_are_refused() -> None:
    verdict = check(
        draft(valid_from=iso(NOW - timedelta(days=1)), valid_to=iso(NOW - timedelta(hours=1))),
        HELD,
        now=NOW,
    )
    assert verdict.errors == {
        "valid_from": "Valid from cannot be in the past.",
        "valid_to": "Valid to cannot be in the past.",
    }


def test_valid_from_allows_the_servers_clock_skew() -> None:
    assert check(draft(valid_from=iso(NOW - timedelta(minutes=4))), HELD, now=NOW).valid
    assert not check(draft(valid_from=iso(NOW - timedelta(minutes=6))), HELD, now=NOW).valid


def test_valid_to_must_follow_valid_from() -> None:
    start = NOW + timedelta(days=2)
    verdict = check(
        draft(valid_from=iso(start), valid_to=iso(start - timedelta(hours=1))), HELD, now=NOW
    )
    assert verdict.errors == {"valid_to": "Valid to must be after Valid from."}
    ok = check(
        draft(valid_from=iso(start), valid_to=iso(start + timedelta(hours=1))), HELD, now=NOW
    )
    assert ok.values["valid_from"] == start
    assert ok.values["valid_to"] == start + timedelta(hours=1)


def test_an_edit_sends_only_changed_fields_and_keeps_untouched_past_dates() -> None:
    original = token()
    # The calendar shows minutes, so an untouched date comes back without its seconds.
    shown_from = original.valid_from.replace(second=0, microsecond=0)
    shown_to = original.valid_to.replace(second=0, microsecond=0) if original.valid_to else None
    edited = draft(
        name="Nightly ETL v2",
        valid_from=iso(shown_from),
        valid_to=iso(shown_to) if shown_to else "",
    )
    verdict = check(edited, HELD, original=original, now=NOW)
    assert verdict.valid, verdict.errors
    assert verdict.values == {"name": "Nightly ETL v2"}


def test_an_edit_can_clear_the_expiration() -> None:
    original = token()
    verdict = check(draft(valid_from=iso(original.valid_from)), HELD, original=original, now=NOW)
    assert verdict.values == {"valid_to": None}


def test_an_edit_moving_valid_from_into_the_past_is_refused() -> None:
    original = token(valid_from=NOW + timedelta(days=1), valid_to=None, status="scheduled")
    verdict = check(
        draft(valid_from=iso(NOW - timedelta(days=1))), HELD, original=original, now=NOW
    )
    assert "valid_from" in verdict.errors


def test_a_revoked_token_only_changes_name_and_description() -> None:
    original = token(status="revoked", is_active=False, valid_to=NOW - timedelta(hours=1))
    same = dict(valid_from=iso(original.valid_from), valid_to=iso(NOW - timedelta(hours=1)))
    assert check(
        draft(description="kept for audit", **same), HELD, original=original, now=NOW
    ).values == {"description": "kept for audit"}
    changed = check(draft(scopes=("ml",), **same), HELD, original=original, now=NOW)
    assert changed.errors == {"scopes": "A revoked token keeps its scopes, GUID and dates."}


def test_new_guids_are_canonical_and_distinct() -> None:
    guids = {new_guid() for _ in range(100)}
    assert len(guids) == 100
    assert all(check(draft(guid=g), HELD, now=NOW).valid for g in guids)


def test_a_new_guid_may_keep_the_old_one_working_for_a_while() -> None:
    original = token()
    dates = {"valid_from": iso(original.valid_from), "valid_to": iso(NOW + timedelta(days=10))}
    new = new_guid()
    verdict = check(draft(guid=new, grace=86400, **dates), HELD, original, NOW)
    assert verdict.values == {"guid": new, "grace": timedelta(days=1)}
    # No grace is the default, and a grace without a new GUID has nothing to apply to.
    assert check(draft(guid=new, **dates), HELD, original, NOW).values == {"guid": new}
    assert check(draft(grace=86400, **dates), HELD, original, NOW).values == {}
    # A new token replaces nothing.
    assert "grace" not in check(draft(guid=new, grace=3600), HELD, None, NOW).values


@pytest.mark.parametrize("grace", [5, -1, 10**9])
def test_only_the_offered_graces_are_taken(grace: int) -> None:
    verdict = check(draft(guid=new_guid(), grace=grace), HELD, token(), NOW)
    assert not verdict.valid and "grace" in verdict.errors


def test_a_grace_from_the_browser_is_a_number_or_nothing() -> None:
    assert Draft.from_message({"grace": 3600}).grace == 3600
    assert Draft.from_message({"grace": None}).grace == 0
    assert Draft.from_message({"grace": "3600"}).grace == -1
    assert Draft.from_message({"grace": True}).grace == -1
