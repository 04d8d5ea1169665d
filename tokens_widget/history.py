"""A token's events as the History dialog shows them: what happened, by whom, when, and each
field's old and new value, in words; the browser only formats the dates in the viewer's zone."""

from __future__ import annotations

from typing import Any, Final

from .models import Event

#: Events per request of the History dialog; more load as the person scrolls.
HISTORY_PAGE_SIZE: Final = 25

_SUMMARY: Final = {
    "token.created": "Created",
    "token.updated": "Changed",
    "token.regenerated": "GUID regenerated",
    "token.revoked": "Revoked",
    "token.deleted": "Deleted",
}
# The recorded fields in the order the dialog lists them, with their labels and kinds.
_FIELDS: Final = {
    "name": ("Name", "text"),
    "description": ("Description", "text"),
    "scopes": ("Scopes", "list"),
    "guid_prefix": ("GUID", "prefix"),
    "previous_guid_until": ("Old GUID works until", "date"),
    "valid_from": ("Valid from", "date"),
    "valid_to": ("Valid to", "date"),
    "revoked_at": ("Revoked at", "date"),
    "revoked_by": ("Revoked by", "text"),
}
# What an empty value means for a field; "none" for the rest.
_EMPTY: Final = {
    "valid_to": "never",
    "description": "empty",
    "previous_guid_until": "not after the change",
}
# Said by the summary and the entry's own who and when already.
_REDUNDANT: Final = {"token.revoked": {"revoked_at", "revoked_by"}}


def _change(field: str, old: Any, new: Any, initial: bool) -> dict[str, Any]:
    label, kind = _FIELDS.get(field, (field.replace("_", " ").capitalize(), "text"))
    return {
        "field": field,
        "label": label,
        "kind": kind,
        "empty": _EMPTY.get(field, "none"),
        "from": old,
        "to": new,
        # A creation sets values; there was nothing before to show.
        "show_from": not initial,
    }


def summary(event: Event) -> str:
    """What happened, in a few words: the History dialog's line and the notice of an open
    dialog whose token someone changed."""
    if event.action == "token.updated" and "guid_prefix" in event.changes:
        return "Changed, GUID replaced"
    return _SUMMARY.get(event.action, event.action)


def history_entry(event: Event) -> dict[str, Any]:
    """One entry of the History dialog, as JSON."""
    initial = event.action == "token.created"
    skipped = _REDUNDANT.get(event.action, set())
    order = list(_FIELDS)
    fields = sorted(
        (f for f in event.changes if f not in skipped),
        key=lambda f: order.index(f) if f in order else len(order),
    )
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "summary": summary(event),
        "changes": [
            _change(f, event.changes[f].from_, event.changes[f].to, initial) for f in fields
        ],
    }
