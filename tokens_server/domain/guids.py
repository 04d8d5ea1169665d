"""GUIDs: made here from a CSPRNG, or chosen by a client and held to what a random one looks like.

A GUID is a bearer credential, so a guessable one is a weak credential. No string can prove it
was drawn at random; what can be done is to refuse the GUIDs that a random draw essentially never
yields and that people do type: one digit repeated (all zeros), a few digits in turns
(``deadbeef…``, ``abab…``), counting (``01234567-89ab…``, ``12345678-1234…``).

The rule, on the 30 hex digits a version-4 UUID draws at random (all but the version digit and
the variant digit): they must use at least 6 different digits, and so must their 29 differences
from one digit to the next (mod 16). For random digits each count falls short only when the
draw happens to use 5 or fewer values: 3.0e-12 for the 30 digits, 9.7e-12 for the differences
(differences of independent uniform digits are themselves independent and uniform). So a truly
random v4 UUID is refused with a probability below 1.3e-11, about once in 78 billion.
"""

from __future__ import annotations

import itertools
import re
import uuid

# A canonical version-4 UUID in lowercase: what the server makes and what a client may choose.
GUID_LENGTH = 36  # the canonical text form, hyphens included
GUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
_GUID = re.compile(GUID_PATTERN)
MIN_DISTINCT = 6
_VERSION_DIGIT, _VARIANT_DIGIT = 12, 16


def new_guid() -> str:
    return str(uuid.uuid4())  # uuid4 draws from os.urandom, a CSPRNG


def is_guid(text: str) -> bool:
    """Whether ``text`` is a GUID in any letter case: only then can a stored token hold it."""
    return _GUID.fullmatch(text.lower()) is not None


def random_looking(guid: str) -> str:
    """Answer ``guid`` (a canonical v4 UUID) unless its random digits are too regular."""
    digits = [int(c, 16) for c in guid.replace("-", "")]
    drawn = [d for i, d in enumerate(digits) if i not in (_VERSION_DIGIT, _VARIANT_DIGIT)]
    steps = [(b - a) % 16 for a, b in itertools.pairwise(drawn)]
    if len(set(drawn)) < MIN_DISTINCT or len(set(steps)) < MIN_DISTINCT:
        raise ValueError(
            "must be a randomly drawn UUID v4; this one is too regular to be random "
            "(leave guid out and the server makes one)"
        )
    return guid
