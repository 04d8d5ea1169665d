"""Rules stated once: the places that must agree with a declaration are checked against it."""

from __future__ import annotations

import uuid
from typing import get_args

from tokens_server.domain.guids import is_guid, new_guid
from tokens_server.domain.limits import GUID_FILTER_MIN, PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX
from tokens_server.domain.models import TokenSort
from tokens_server.http.openapi import openapi_document
from tokens_server.http.routes import OPERATIONS
from tokens_server.storage.token_listing import SORTS


def test_every_sort_a_list_may_ask_for_has_an_ordering() -> None:
    assert set(SORTS) == set(get_args(TokenSort))


def test_is_guid_takes_a_canonical_v4_uuid_in_any_case_and_nothing_else() -> None:
    guid = new_guid()
    assert is_guid(guid) and is_guid(guid.upper())
    assert not is_guid(guid.replace("-", ""))
    assert not is_guid("{" + guid + "}")
    assert not is_guid(guid + "\n")
    assert not is_guid(str(uuid.uuid1()))


def test_the_document_shows_the_list_limits() -> None:
    list_tokens = openapi_document(OPERATIONS)["paths"]["/api/v1/tokens"]["get"]
    schemas = {p["name"]: p["schema"] for p in list_tokens["parameters"]}
    assert schemas["limit"]["maximum"] == PAGE_SIZE_MAX
    assert schemas["limit"]["default"] == PAGE_SIZE_DEFAULT
    guid = schemas["guid"]["anyOf"][0]
    assert guid["minLength"] == GUID_FILTER_MIN
