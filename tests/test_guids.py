"""Client-chosen GUIDs: random version-4 UUIDs pass, hand-made regular ones are refused."""

from __future__ import annotations

import uuid

import pytest

from tokens_server.domain.guids import new_guid, random_looking


def test_random_uuid4s_pass() -> None:
    # The rule refuses a random draw with probability below 1.3e-11: none of these may fail.
    for _ in range(50_000):
        guid = str(uuid.uuid4())
        assert random_looking(guid) == guid


def test_guids_made_here_pass() -> None:
    for _ in range(1_000):
        random_looking(new_guid())


@pytest.mark.parametrize(
    "guid",
    [
        "00000000-0000-4000-8000-000000000000",
        "00000000-0000-4000-8000-000000000001",
        "ffffffff-ffff-4fff-bfff-ffffffffffff",
        "deadbeef-dead-4eef-8ead-beefdeadbeef",
        "abababab-abab-4bab-abab-abababababab",
        "01234567-89ab-4def-8123-456789abcdef",
        "12345678-1234-4234-8234-123456789012",
        "11111111-2222-4333-8444-555566667777",
    ],
)
def test_regular_guids_are_refused(guid: str) -> None:
    with pytest.raises(ValueError, match="too regular"):
        random_looking(guid)
