"""Token names as people read them: one stored form per visible text, nothing hidden in it.

Names are shown in a grid and found by keywords, so two names that look alike must be stored
alike, and a name must not carry characters that are invisible or rearrange what is shown.
"""

from __future__ import annotations

import functools
import itertools
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
    runs = _category_runs(singled_out=_BLANK_GLYPHS)
    allowed = _char_class(runs, lambda c: _refused(c) is None)
    return f"^{allowed}*{_char_class(runs, _visible)}{allowed}*$"


def _category_runs(singled_out: frozenset[str]) -> list[tuple[int, int]]:
    """Every code point in runs of one category, as (first, last), and each character
    ``singled_out`` as a run of its own: a rule that decides by category but for those can be
    asked once a run (about 4,000 runs) rather than once a code point (1.1 million, which took
    a second of a server's start)."""
    categories = list(map(unicodedata.category, map(chr, range(sys.maxunicode + 1))))
    for char in singled_out:
        categories[ord(char)] = char
    runs = []
    first = 0
    for _, run in itertools.groupby(categories):
        after = first + len(list(run))
        runs.append((first, after - 1))
        first = after
    return runs


def _char_class(runs: list[tuple[int, int]], accepts: Callable[[str], bool]) -> str:
    taken: list[tuple[int, int]] = []
    for first, last in runs:
        if not accepts(chr(first)):
            continue
        if taken and taken[-1][1] == first - 1:  # adjoins the range before it
            taken[-1] = (taken[-1][0], last)
        else:
            taken.append((first, last))
    ranges = (_escape(a) + ("" if a == b else f"-{_escape(b)}") for a, b in taken)
    return f"[{''.join(ranges)}]"


def _escape(code: int) -> str:
    # \uXXXX reads the same in ECMA-262 and Python patterns; neither spells code points past
    # U+FFFF alike, so those stand as themselves (never a surrogate: those are refused).
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)
