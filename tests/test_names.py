"""Token names: stored in NFC so look-alike twins are one name, found by either spelling; names in
any script pass, invisible and text-reordering characters do not (see test_bad_inputs)."""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.support import ADMIN
from tokens_server.domain import names
from tokens_server.domain.names import name_pattern, normalized_name, search_key

Client = TestClient[Any, Any]

CAFE_NFC = "Caf\u00e9 loader"
CAFE_NFD = "Cafe\u0301 loader"


@pytest.fixture
async def analytics(make_scope: Any) -> str:
    return str(await make_scope("analytics"))


async def _names_found(client: Client, keyword: str) -> list[str]:
    response = await client.get("/api/v1/tokens", params={"name": keyword}, headers=ADMIN)
    assert response.status == 200, await response.text()
    return sorted(item["name"] for item in (await response.json())["items"])


async def test_nfc_and_nfd_twins_are_stored_alike_and_found_by_either_spelling(
    client: Client, analytics: str, make_token: Any
) -> None:
    assert CAFE_NFC != CAFE_NFD and unicodedata.normalize("NFC", CAFE_NFD) == CAFE_NFC
    made = [await make_token(name=name, scopes=[analytics]) for name in (CAFE_NFC, CAFE_NFD)]
    assert [token["name"] for token in made] == [CAFE_NFC, CAFE_NFC]
    for keyword in ("\u00e9", "e\u0301", "CAF\u00c9", "CAFE\u0301"):
        assert await _names_found(client, keyword) == [CAFE_NFC, CAFE_NFC], ascii(keyword)


async def test_a_patched_name_is_stored_in_nfc(
    client: Client, analytics: str, make_token: Any
) -> None:
    token = await make_token(name="Plain", scopes=[analytics])
    url = f"/api/v1/tokens/{token['id']}"
    response = await client.patch(url, json={"name": CAFE_NFD}, headers=ADMIN)
    assert response.status == 200, await response.text()
    assert (await response.json())["name"] == CAFE_NFC
    assert await _names_found(client, "e\u0301") == [CAFE_NFC]


@pytest.mark.parametrize(
    "name",
    [
        "Nightly ETL",
        "Donn\u00e9es \u00e0 charger",
        "\u65e5\u672c\u8a9e\u306e\u30c8\u30fc\u30af\u30f3",
        "\u05e2\u05d1\u05e8\u05d9\u05ea ETL",  # right-to-left letters, without any override
        "\U0001f680 deploy",
        "ETL \u2014 warehouse (v2) #3",
        "a\u3164b",  # a blank-looking letter is fine beside visible ones
    ],
)
async def test_names_in_any_script_are_accepted_as_given(
    client: Client, analytics: str, make_token: Any, name: str
) -> None:
    token = await make_token(name=name, scopes=[analytics])
    assert token["name"] == name


def test_the_search_key_of_a_folded_name_is_nfc() -> None:
    # U+01F0 (j with caron) case-folds to "j" plus a combining caron: the key composes it again
    # where a composed form exists, so stored keys and keywords compare alike.
    assert search_key("\u01f0") == unicodedata.normalize("NFC", "\u01f0".casefold())
    assert search_key("CAFE\u0301") == search_key("caf\u00e9") == "caf\u00e9"


@pytest.mark.parametrize("name", ["\u200b", " \u3164 ", "\u0301", "a\u202eb", "a\u200db"])
def test_invisible_or_reordering_names_are_refused_with_the_character_named(name: str) -> None:
    with pytest.raises(ValueError, match=r"U\+|visible"):
        normalized_name(name)


def _class_code_point_by_code_point(accepts: Callable[[str], bool]) -> str:
    parts, start = [], None
    for code in range(sys.maxunicode + 2):
        inside = code <= sys.maxunicode and accepts(chr(code))
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            last = code - 1
            parts.append(
                names._escape(start) + ("" if last == start else f"-{names._escape(last)}")
            )
            start = None
    return f"[{''.join(parts)}]"


def test_the_documented_pattern_is_the_rule_asked_of_every_code_point() -> None:
    """The document's pattern asks the rule once per run of one category; asked of each of the
    1.1 million code points instead, the rule gives the same character classes."""
    allowed = _class_code_point_by_code_point(lambda c: names._refused(c) is None)
    visible = _class_code_point_by_code_point(names._visible)
    assert name_pattern() == f"^{allowed}*{visible}{allowed}*$"
