"""Tokens about to expire: their words in the grid, the count the header shows, and the filter
it applies, against the real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import traitlets

from tokens_widget import TokensClient, TokensWidget
from tokens_widget.rows import expiry_note


async def test_the_count_and_the_filter_of_tokens_about_to_expire(
    widget: TokensWidget, admin: TokensClient
) -> None:
    now = datetime.now(UTC)
    await admin.create_token("Soon", ["analytics"], valid_to=now + timedelta(days=2))
    await admin.create_token("Later", ["analytics"], valid_to=now + timedelta(days=30))
    await admin.create_token("Never", ["analytics"])
    widget.refresh()
    await widget.settled()
    assert widget.expiring == 1
    notes = {row["name"]: row["expiry_note"] for row in widget._rows}
    assert notes == {"Later": "", "Never": "", "Soon": "Expires in 2 days"}

    widget.expiring_only = True
    await widget.settled()
    assert [row["name"] for row in widget._rows] == ["Soon"] and widget.total == 1
    widget.expiry_warning_days = 60
    await widget.settled()
    assert [row["name"] for row in widget._rows] == ["Later", "Soon"] and widget.expiring == 2
    assert {row["name"]: row["expiry_note"] for row in widget._rows}["Later"] == (
        "Expires in 30 days"
    )
    with pytest.raises(traitlets.TraitError):
        widget.expiry_warning_days = 0


@pytest.mark.parametrize(
    ("left", "words"),
    [
        (timedelta(minutes=20), "Expires within the hour"),
        (timedelta(minutes=80), "Expires in 1 hour"),
        (timedelta(hours=5, minutes=10), "Expires in 5 hours"),
        (timedelta(days=1), "Expires in 1 day"),
        (timedelta(days=2, seconds=-3), "Expires in 2 days"),
        (timedelta(days=7), "Expires in 7 days"),
        (timedelta(days=7, hours=1), ""),
    ],
)
async def test_expiry_words(admin: TokensClient, left: timedelta, words: str) -> None:
    now = datetime.now(UTC)
    token = await admin.create_token("T", ["analytics"], valid_to=now + left)
    assert expiry_note(token, now, 7) == words
    revoked = await admin.revoke_token(token.id)
    assert expiry_note(revoked, now, 7) == ""
