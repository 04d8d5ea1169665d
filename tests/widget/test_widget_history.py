"""The widget's History action and its reload of one token, against the real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.widget.front_end import act
from tokens_widget import TokensClient, TokensWidget
from tokens_widget.history import HISTORY_PAGE_SIZE


async def test_history_entries_say_what_changed_newest_first(
    widget: TokensWidget, admin: TokensClient
) -> None:
    until = datetime.now(UTC) + timedelta(days=7)
    token = await admin.create_token("Nightly", ["analytics"])
    await admin.update_token(
        token.id, name="Nightly ETL", scopes=["analytics", "ml"], valid_to=until
    )
    await admin.regenerate_token(token.id)
    await admin.revoke_token(token.id)

    answer = await act(widget, "history", token_id=token.id)
    assert answer["ok"], answer
    entries = answer["result"]["items"]
    assert answer["result"]["next"] is None
    assert [e["summary"] for e in entries] == ["Revoked", "GUID regenerated", "Changed", "Created"]
    assert all(e["actor"] == "admin" for e in entries)
    revoked, regenerated, changed, created = entries
    changes = {c["field"]: c for c in changed["changes"]}
    assert [c["field"] for c in changed["changes"]] == ["name", "scopes", "valid_to"]
    assert (changes["name"]["from"], changes["name"]["to"]) == ("Nightly", "Nightly ETL")
    assert changes["scopes"]["to"] == ["analytics", "ml"] and changes["scopes"]["kind"] == "list"
    assert changes["valid_to"]["from"] is None and changes["valid_to"]["empty"] == "never"
    assert changes["valid_to"]["kind"] == "date" and changes["valid_to"]["show_from"]
    [prefix] = regenerated["changes"]
    assert prefix["label"] == "GUID" and prefix["kind"] == "prefix"
    assert prefix["from"] == token.guid_prefix and prefix["to"] != token.guid_prefix
    # A revocation is said by its summary; who and when are the entry's own.
    assert {c["field"] for c in revoked["changes"]} <= {"valid_to"}
    assert not any(c["show_from"] for c in created["changes"])
    assert {"name", "scopes"} <= {c["field"] for c in created["changes"]}
    # Never a GUID: only its first characters, as the server records them.
    assert token.guid is not None and token.guid not in str(answer)


async def test_history_pages_with_before(widget: TokensWidget, admin: TokensClient) -> None:
    token = await admin.create_token("T0", ["analytics"])
    for n in range(1, HISTORY_PAGE_SIZE + 3):
        await admin.update_token(token.id, name=f"T{n}")
    first = await act(widget, "history", token_id=token.id)
    assert len(first["result"]["items"]) == HISTORY_PAGE_SIZE
    older = await act(widget, "history", token_id=token.id, before=first["result"]["next"])
    ids = [e["id"] for e in first["result"]["items"] + older["result"]["items"]]
    assert len(ids) == HISTORY_PAGE_SIZE + 3 and ids == sorted(ids, reverse=True)
    assert older["result"]["next"] is None
    assert older["result"]["items"][-1]["summary"] == "Created"


async def test_history_of_a_token_gone_says_so(widget: TokensWidget, admin: TokensClient) -> None:
    answer = await act(widget, "history", token_id="0123456789abcdef01234567")
    assert not answer["ok"] and "no longer exists" in answer["error"]


async def test_token_reloads_one_tokens_values_for_the_next_save(
    widget: TokensWidget, admin: TokensClient
) -> None:
    token = await admin.create_token("Shared", ["analytics"])
    await act(widget, "refresh")
    await admin.update_token(token.id, name="Shared by bob", description="theirs")
    answer = await act(widget, "token", token_id=token.id)
    row = answer["result"]["row"]
    assert (row["name"], row["description"], row["version"]) == ("Shared by bob", "theirs", 2)
    assert widget.page_tokens[token.id].version == 2
    # A save from the dialog with the reloaded version goes through.
    draft = {**row, "name": "Mine after theirs"}
    saved = await act(widget, "save", token_id=token.id, version=2, draft=draft)
    assert saved["ok"], saved
    assert (await admin.get_token(token.id)).name == "Mine after theirs"


async def test_a_rotation_with_grace_says_until_when_the_old_guid_works(
    widget: TokensWidget, admin: TokensClient
) -> None:
    token = await admin.create_token("Deploy", ["analytics"])
    rotated = await admin.regenerate_token(token.id, grace=timedelta(days=1))

    answer = await act(widget, "history", token_id=token.id)
    latest = answer["result"]["items"][0]
    assert latest["summary"] == "GUID regenerated"
    guid, until = latest["changes"]
    assert guid["field"] == "guid_prefix"
    assert (until["label"], until["kind"], until["from"]) == ("Old GUID works until", "date", None)
    assert rotated.previous_guid_until is not None
    assert datetime.fromisoformat(until["to"]) == rotated.previous_guid_until
