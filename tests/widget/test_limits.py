"""The widget's limits and models agree with what a running server documents and enforces."""

from __future__ import annotations

from typing import Any

from tokens_widget import TokensClient, limits
from tokens_widget.models import BulkCounts, BulkItem, BulkResult, Token


def _constraint(schema: dict[str, Any], key: str) -> Any:
    """``key`` of a schema, looking through ``anyOf`` (an optional field is "X or null")."""
    if key in schema:
        return schema[key]
    found = [c[key] for c in schema.get("anyOf", ()) if key in c]
    assert len(found) == 1, (key, schema)
    return found[0]


async def test_limits_match_the_served_openapi_document(admin: TokensClient) -> None:
    document = await admin.openapi()
    listing = document["paths"]["/api/v1/tokens"]["get"]
    query = {p["name"]: p["schema"] for p in listing["parameters"]}
    assert tuple(query["sort"]["enum"]) == limits.SORT_KEYS
    assert tuple(_constraint(query["status"], "enum")) == limits.STATUS_FILTERS
    assert _constraint(query["guid"], "minLength") == limits.GUID_FILTER_MIN
    assert query["limit"]["default"] == limits.DEFAULT_PAGE_SIZE in limits.PAGE_SIZES
    assert query["limit"]["minimum"] <= min(limits.PAGE_SIZES)
    assert max(limits.PAGE_SIZES) <= query["limit"]["maximum"]

    create = document["components"]["schemas"]["TokenCreate"]["properties"]
    assert create["name"]["maxLength"] == limits.NAME_MAX
    assert create["description"]["maxLength"] == limits.DESCRIPTION_MAX
    assert _constraint(create["guid"], "pattern") == limits.GUID_PATTERN


async def test_the_token_model_has_the_served_fields(admin: TokensClient) -> None:
    document = await admin.openapi()
    served = document["components"]["schemas"]["TokenOut"]["properties"]
    assert set(Token.model_fields) == set(served)


async def test_the_bulk_limit_and_answer_match_the_served_document(admin: TokensClient) -> None:
    document = await admin.openapi()
    schemas = document["components"]["schemas"]
    assert schemas["BulkRequest"]["properties"]["ids"]["maxItems"] == limits.BULK_IDS_MAX
    assert limits.for_browser()["bulk_ids_max"] == limits.BULK_IDS_MAX
    assert set(BulkResult.model_fields) == set(schemas["BulkOut"]["properties"])
    assert set(BulkItem.model_fields) == set(schemas["BulkResultOut"]["properties"])
    assert set(BulkCounts.model_fields) == set(schemas["BulkCounts"]["properties"])
