"""The create/edit form's rules, checked in Python so the browser only renders the verdict.

They mirror the server's rules, so Save is enabled only for what the server will accept.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .limits import DESCRIPTION_MAX, GRACES, GUID_PATTERN, NAME_MAX, VALID_FROM_SKEW
from .models import Token

_GUID = re.compile(GUID_PATTERN)


@dataclass(frozen=True)
class Draft:
    """What the form holds. Dates are ISO 8601 strings with an offset, or empty for none."""

    name: str = ""
    scopes: tuple[str, ...] = ()
    guid: str = ""
    description: str = ""
    valid_from: str = ""
    valid_to: str = ""
    # Seconds the GUID a new one replaces keeps working (one of GRACES; editing only).
    grace: int = 0

    @classmethod
    def from_message(cls, data: Any) -> Draft:
        if not isinstance(data, Mapping):
            return cls()
        scopes = data.get("scopes") or []
        return cls(
            name=str(data.get("name") or ""),
            scopes=tuple(str(s) for s in scopes) if isinstance(scopes, list) else (),
            guid=str(data.get("guid") or ""),
            description=str(data.get("description") or ""),
            valid_from=str(data.get("valid_from") or ""),
            valid_to=str(data.get("valid_to") or ""),
            grace=_grace(data.get("grace")),
        )


def _grace(value: Any) -> int:
    # A number as the form sends it; anything else is not a choice the form offers (-1).
    if value is None or value == "":
        return 0
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


@dataclass
class Verdict:
    """The form's errors by field, and the values to send when there are none."""

    errors: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return not self.errors


def _parse(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _same_minute(a: datetime | None, b: datetime | None) -> bool:
    # The calendar input holds minutes, so an untouched date comes back without its seconds.
    if a is None or b is None:
        return a is b
    return a.astimezone(UTC).replace(second=0, microsecond=0) == b.astimezone(UTC).replace(
        second=0, microsecond=0
    )


def check(
    draft: Draft,
    allowed_scopes: Collection[str],
    original: Token | None = None,
    now: datetime | None = None,
) -> Verdict:
    """Check a draft for a new token (``original`` None) or a change to ``original``.

    For a change, ``values`` holds only the fields that differ, ready for a PATCH.
    """
    now = now or datetime.now(UTC)
    verdict = Verdict()
    errors, values = verdict.errors, verdict.values
    locked = original is not None and original.revoked

    name = draft.name.strip()
    if not name:
        errors["name"] = "Name is required."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Name must be at most {NAME_MAX} characters."
    elif original is None or name != original.name:
        values["name"] = name

    if len(draft.description) > DESCRIPTION_MAX:
        errors["description"] = f"Description must be at most {DESCRIPTION_MAX} characters."
    elif draft.description != (original.description if original else ""):
        values["description"] = draft.description

    scopes = list(dict.fromkeys(draft.scopes))
    unknown = [s for s in scopes if s not in allowed_scopes]
    if not scopes:
        errors["scopes"] = "Choose at least one scope."
    elif unknown:
        errors["scopes"] = f"You do not hold the scope {', '.join(unknown)}."
    elif original is None or set(scopes) != set(original.scopes):
        values["scopes"] = scopes

    if not _GUID.match(draft.guid):
        errors["guid"] = "The GUID must be a lowercase UUID version 4; regenerate it."
    elif original is None or draft.guid != original.guid:
        values["guid"] = draft.guid
    if draft.grace not in GRACES:
        errors["grace"] = "Choose how long the old GUID keeps working."
    elif draft.grace and original is not None and "guid" in values:
        values["grace"] = timedelta(seconds=draft.grace)

    valid_from = _parse(draft.valid_from) if draft.valid_from else None
    valid_to = _parse(draft.valid_to) if draft.valid_to else None
    if draft.valid_from and valid_from is None:
        errors["valid_from"] = "Enter a complete date and time."
    if draft.valid_to and valid_to is None:
        errors["valid_to"] = "Enter a complete date and time."

    from_changed = original is None or (
        valid_from is not None and not _same_minute(valid_from, original.valid_from)
    )
    if original is not None and not draft.valid_from:
        # Clearing "Valid from" on an existing token means "keep it as it is".
        from_changed = False
    to_changed = original is None or not _same_minute(valid_to, original.valid_to)

    if valid_from is not None and from_changed:
        if valid_from < now - VALID_FROM_SKEW:
            errors["valid_from"] = "Valid from cannot be in the past."
        else:
            values["valid_from"] = valid_from
    if "valid_to" not in errors and to_changed:
        if valid_to is not None and valid_to <= now:
            errors["valid_to"] = "Valid to cannot be in the past."
        elif valid_to is not None or original is not None:
            values["valid_to"] = valid_to

    start = valid_from if valid_from is not None else (original.valid_from if original else now)
    if valid_to is not None and "valid_to" not in errors and valid_to <= start:
        errors["valid_to"] = "Valid to must be after Valid from."

    if locked:
        for key in ("scopes", "guid", "valid_from", "valid_to"):
            if key in values or key in errors:
                values.pop(key, None)
                errors[key] = "A revoked token keeps its scopes, GUID and dates."
    if errors:
        values.clear()
    return verdict
