"""How many tokens each user holds, kept on the user's document so the limit costs one write.

Counting a user's tokens at every create would be exact but costs what it counts: 83 ms for
1,000 tokens on the embedded database. Instead a create takes a slot with one conditional
increment, ``token_slots < limit``, on the user's document, and a token made that way records
whose slot it holds (``quota_of``); deleting it gives the slot back.

Concurrent creates by one user stay exact: the increment is atomic on one document, so at most
``limit`` slots are ever handed out, however many requests race. A slot is taken in the create's
transaction and given back in the delete's, so the count moves with the tokens: both or neither.
"""

from __future__ import annotations

from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from tokens_server.domain.errors import TokenLimitReached
from tokens_server.storage.failures import store, untranslated
from tokens_server.storage.transactions import Session

Document = dict[str, object]

HOLDER = "quota_of"


@store
class TokenQuota:
    def __init__(self, users: AsyncCollection[Document], tokens: AsyncCollection[Document]) -> None:
        self._users = users
        self._tokens = tokens

    # Which tokens hold a user's slots (made with the tokens' other indexes).
    index = IndexModel(HOLDER, sparse=True)

    @untranslated
    async def take(self, user: str, limit: int, session: Session) -> None:
        """Take one of ``user``'s ``limit`` slots, in the create's transaction; TokenLimitReached
        when none is left."""
        if await self._take(user, limit, session):
            return
        # The first create since this version, or since the user was made anew.
        await self._start_count(user, session)
        if not await self._take(user, limit, session):
            raise TokenLimitReached(
                f"you hold {limit} tokens, the most a user may; "
                "delete some you no longer need first"
            )

    async def _take(self, user: str, limit: int, session: Session) -> bool:
        taken = await self._users.update_one(
            {"name": user, "token_slots": {"$lt": limit}},
            {"$inc": {"token_slots": 1}},
            session=session,
        )
        return taken.modified_count == 1

    async def _start_count(self, user: str, session: Session) -> None:
        """Give a user without a count one, from the tokens holding its slots: a user deleted
        and made again under the same name finds its old tokens. Nothing takes a slot before
        the count exists, so the count cannot miss a create under way."""
        counted = {"name": user, "token_slots": {"$exists": False}}
        if await self._users.find_one(counted, session=session) is None:
            return
        held = await self._tokens.count_documents({HOLDER: user}, session=session)
        await self._users.update_one(counted, {"$set": {"token_slots": held}}, session=session)

    @untranslated
    async def give_back(self, user: str, session: Session, slots: int = 1) -> None:
        """Give back ``slots`` of ``user``'s slots, in the deletes' transaction; never below 0."""
        given = await self._users.update_one(
            {"name": user, "token_slots": {"$gte": slots}},
            {"$inc": {"token_slots": -slots}},
            session=session,
        )
        if given.matched_count == 0:  # fewer counted than given back: a count made anew
            await self._users.update_one(
                {"name": user, "token_slots": {"$gt": 0}},
                {"$set": {"token_slots": 0}},
                session=session,
            )
