"""How a setting's text is read and its value checked (``settings.OPTIONS`` names which for
each): each raises ValueError with a message that follows the variable's name."""

from __future__ import annotations

MIN_SECRET_KEY_LENGTH = 16
# A person chooses TOKENS_ADMIN_KEY; server-made keys carry 256 random bits (43 characters).
# 32 characters keep a chosen key out of reach of guessing even at the throttle's limit.
ADMIN_KEY_MIN_LENGTH = 32
# A file that holds a URI is read whole; anything longer is not one.
_URI_FILE_MAX_BYTES = 64 * 1024


def port(text: str) -> int:
    """A port number, 0 for any free one."""
    number = whole(text, "a port number")
    if not 0 <= number <= 65535:
        raise ValueError(f"must be between 0 and 65535, not {number}")
    return number


def positive(text: str) -> int:
    number = whole(text, "a whole number")
    at_least_one(number)
    return number


def count(text: str) -> int:
    number = whole(text, "a whole number")
    at_least_zero(number)
    return number


def uri_in_file(text: str) -> str:
    """The URI held by the file named ``text`` (surrounding whitespace dropped)."""
    try:
        with open(text, "rb") as file:
            held = file.read(_URI_FILE_MAX_BYTES + 1)
    except OSError as error:
        raise ValueError(f"cannot be read: {error.strerror or error}") from None
    if len(held) > _URI_FILE_MAX_BYTES:
        raise ValueError(f"names a file longer than {_URI_FILE_MAX_BYTES} bytes, not a URI")
    uri = held.decode("utf-8", errors="replace").strip()
    if not uri:
        raise ValueError("names an empty file")
    return uri


def whole(text: str, kind: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"must be {kind}, not {text!r}") from None


def at_least_zero(number: int) -> None:
    if number < 0:
        raise ValueError(f"must be at least 0, not {number}")


def at_least_one(number: int) -> None:
    if number < 1:
        raise ValueError(f"must be at least 1, not {number}")


def valid_port(number: int) -> None:
    port(str(number))


def valid_admin_key(key: str) -> None:
    """The key travels in an HTTP header: visible ASCII only, so it arrives as configured."""
    if len(key) < ADMIN_KEY_MIN_LENGTH:
        raise ValueError(f"must be at least {ADMIN_KEY_MIN_LENGTH} characters")
    if not all("!" <= c <= "~" for c in key):
        raise ValueError("may hold only visible ASCII characters (no spaces)")


def valid_secret_key(key: str) -> None:
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise ValueError(f"must be at least {MIN_SECRET_KEY_LENGTH} characters")
