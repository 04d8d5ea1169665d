"""Tokens needs a replica set or a sharded cluster: a change and its history event commit in one
transaction, and the live feed reads a change stream. A standalone server has neither."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient


class NotAReplicaSet(Exception):
    """The MongoDB given by URI is a standalone server."""


async def require_replica_set(client: AsyncMongoClient[Any]) -> None:
    hello = await client.admin.command("hello")
    if "setName" in hello or hello.get("msg") == "isdbgrid":
        return
    raise NotAReplicaSet(
        "the MongoDB at TOKENS_MONGO_URI is a standalone server, but Tokens needs a replica set "
        "(for transactions and change streams); run it as a one-node replica set: start mongod "
        "with --replSet rs0, run rs.initiate() once in mongosh, and add ?replicaSet=rs0 to the URI"
    )


async def commits_reach_the_journal(client: AsyncMongoClient[Any]) -> bool:
    """Whether a committed transaction is journaled before it is acknowledged, as MongoDB does
    for a journaled write concern. SecantusDB (it names itself in ``buildInfo``) acknowledges
    ``commitTransaction`` before its journal holds it, whatever the write concern says."""
    build = await client.admin.command("buildInfo")
    return "secantusVersion" not in build
