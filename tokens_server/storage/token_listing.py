"""How a token list is asked of MongoDB: one aggregation of an indexed match, literal keyword
checks, and a facet with the total and the page. Every condition sits inside its field, never
in a top-level ``$or``: MongoDB-compatible planners that are simpler than MongoDB's scan the
collection then.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from tokens_server.domain.guids import GUID_LENGTH
from tokens_server.domain.models import TokenQuery, TokenSort
from tokens_server.secrets.crypto import PREFIX_LENGTH
from tokens_server.storage.token_documents import TokenDocuments

Document = dict[str, Any]

# One ordering for each sort a list may ask for (TokenSort); name and _id break ties. A date's
# descending sort is the exact reverse of its ascending one, ties too: MongoDB reads one index
# (token_upkeep.create_indexes) forwards or backwards, never with mixed directions.
# valid_to sorts by ends_at, where "never" is the latest date (token_documents.NEVER); never used
# (null last_used_at) comes first ascending, as null sorts before every date.
SORTS: dict[TokenSort, Document] = {
    "name": {"name_key": 1, "name": 1, "_id": 1},
    "-name": {"name_key": -1, "name": 1, "_id": 1},
    "is_active": {"is_active": 1, "name_key": 1, "name": 1, "_id": 1},
    "-is_active": {"is_active": -1, "name_key": 1, "name": 1, "_id": 1},
    "valid_from": {"valid_from": 1, "name_key": 1, "name": 1, "_id": 1},
    "-valid_from": {"valid_from": -1, "name_key": -1, "name": -1, "_id": -1},
    "valid_to": {"ends_at": 1, "name_key": 1, "name": 1, "_id": 1},
    "-valid_to": {"ends_at": -1, "name_key": -1, "name": -1, "_id": -1},
    "last_used_at": {"last_used_at": 1, "name_key": 1, "name": 1, "_id": 1},
    "-last_used_at": {"last_used_at": -1, "name_key": -1, "name": -1, "_id": -1},
    "created_at": {"created_at": 1, "name_key": 1, "name": 1, "_id": 1},
    "-created_at": {"created_at": -1, "name_key": -1, "name": -1, "_id": -1},
}


def is_active(now: datetime) -> Document:
    return {
        "$and": [
            {"$lte": ["$valid_from", now]},
            {"$or": [{"$eq": ["$valid_to", None]}, {"$gt": ["$valid_to", now]}]},
        ]
    }


def checks_guid_after_match(query: TokenQuery) -> bool:
    """A GUID filter longer than the stored prefix but not whole: the match narrows by the
    prefix, and the rest is checked on the decrypted GUIDs."""
    guid = query.guid_prefix
    return guid is not None and PREFIX_LENGTH < len(guid) < GUID_LENGTH


def filtering(query: TokenQuery, now: datetime, docs: TokenDocuments) -> list[Document]:
    """The stages that select the tokens: an index-friendly match, then expression checks."""
    match: Document = {}
    if query.scopes is not None:
        match["scopes"] = {"$in": list(query.scopes)}
    guid = query.guid_prefix
    if guid is not None:
        if len(guid) == GUID_LENGTH:  # found by its keyed hash
            match["guid_hash"] = docs.lookup(guid)
        elif len(guid) >= PREFIX_LENGTH:
            match["guid_prefix"] = guid[:PREFIX_LENGTH]
        else:  # a range, not a pattern: GUID characters all sort below "~"
            match["guid_prefix"] = {"$gte": guid, "$lt": guid + "~"}
    if query.status == "active":
        match["valid_from"] = {"$lte": now}
        match["valid_to"] = {"$not": {"$lte": now}}
    if query.expires_within is not None:
        # Active and ending within the window: a token that never expires has no valid_to and
        # does not match, and a revoked one ended already.
        match["valid_from"] = {"$lte": now}
        match["valid_to"] = {"$gt": now, "$lte": now + timedelta(days=query.expires_within)}
    if query.unused_for is not None:
        # Never used (no last_used_at) or last used at or before the cutoff.
        match["last_used_at"] = {"$not": {"$gt": now - timedelta(days=query.unused_for)}}
    if query.refused_within is not None:
        match["last_refused_at"] = {"$gt": now - timedelta(days=query.refused_within)}
    checks: list[Document] = [
        # $literal: a keyword is text, even when it starts with "$".
        {"$gte": [{"$indexOfCP": ["$name_key", {"$literal": word}]}, 0]}
        for word in query.keywords
    ]
    if query.status == "inactive":
        checks.append({"$not": [is_active(now)]})
    stages: list[Document] = [{"$match": match}]
    if checks:
        stages.append({"$match": {"$expr": {"$and": checks}}})
    return stages


def ordering(query: TokenQuery, now: datetime) -> list[Document]:
    stages: list[Document] = [{"$sort": SORTS[query.sort]}]
    if "is_active" in query.sort:
        stages.insert(0, {"$addFields": {"is_active": is_active(now)}})
    return stages


def paged(query: TokenQuery, now: datetime, stages: list[Document]) -> list[Document]:
    """``stages``, sorted, then one facet: the total they match and the page asked for. The
    sort comes before the facet: stages inside a facet never use an index."""
    page = [{"$skip": query.offset}, {"$limit": query.limit}]
    return [*stages, *ordering(query, now), {"$facet": {"total": [{"$count": "n"}], "items": page}}]
