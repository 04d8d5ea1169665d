"""Token names as people read them: one stored form per visible text, nothing hidden in it.

Names are shown in a grid and found by keywords, so two names that look alike must be stored
alike, and a name must not carry characters that are invisible or rearrange what is shown.
"""

from __future__ import annotations

import functools
import sys
import unicodedata
from collections.abc import Callable

# Control (Cc), format (Cf: zero-width spaces and joiners, bidi overrides like U+202E),
# surrogate (Cs), private-use (Co) and unassigned (Cn) characters, and the line and paragraph
# separators (Zl, Zp): each is invisible, renders differently per font or moves the text
# around it, so two names that look the same could differ, or one could read backwards.
_REFUSED = {
    "Cc": "control",
    "Cf": "invisible format",
    "Cs": "surrogate",
    "Co": "private-use",
    "Cn": "unassigned",
    "Zl": "line separator",
    "Zp": "paragraph separator",
}
# Letters that render as blank space (Hangul fillers, the braille blank): allowed inside a name,
# but a name made only of them (and spaces) shows nothing.
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def normalized_name(text: str) -> str:
    """The stored form of a name: NFC, so that precomposed and decomposed twins (``é`` as one
    code point or as ``e`` plus a combining accent) are one name. Raises ValueError, in words
    a client can act on, when the name has a refused character or nothing visible."""
    text = unicodedata.normalize("NFC", text)
    for char in text:
        kind = _refused(char)
        if kind is not None:
            raise ValueError(f"must not contain U+{ord(char):04X} (a {kind} character)")
    if not any(_visible(char) for char in text):
        raise ValueError("must contain at least one visible character")
    return text


def _refused(char: str) -> str | None:
    return _REFUSED.get(unicodedata.category(char))


def _visible(char: str) -> bool:
    # Letters, numbers, punctuation and symbols show a glyph; marks and spaces alone do not.
    return unicodedata.category(char)[0] in "LNPS" and char not in _BLANK_GLYPHS


def search_key(text: str) -> str:
    """What names are sorted and searched by: case-folded, in NFC on both sides of the folding
    (folding can decompose, e.g. U+01F0 becomes ``j`` plus a combining caron)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).casefold())


@functools.cache
def name_pattern() -> str:
    """The same rule as a regular expression, for the API document: no refused character and
    one visible one. Built from the rule itself, so the two cannot drift apart; it lists about
    1,500 ranges of code points, hence built only when the document is."""
    allowed = _char_class(lambda c: _refused(c) is None)
    return f"^{allowed}*{_char_class(_visible)}{allowed}*$"


def _char_class(accepts: Callable[[str], bool]) -> str:
    parts: list[str] = []
    start = None
    for code in range(sys.maxunicode + 2):
        inside = code <= sys.maxunicode and accepts(chr(code))
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            last = code - 1
            parts.append(_escape(start) + ("" if last == start else f"-{_escape(last)}"))
            start = None
    return f"[{''.join(parts)}]"


def _escape(code: int) -> str:
    # \uXXXX reads the same in ECMA-262 and Python patterns; neither spells code points past
    # U+FFFF alike, so those stand as themselves (never a surrogate: those are refused).
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)
