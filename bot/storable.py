"""Text the databases can hold: PostgreSQL refuses a NUL in text, UTF-8 a lone surrogate (a JSON
`\\ud800` escape with no partner). Platform ids arrive with either now and then."""

from __future__ import annotations


def is_storable(text: str) -> bool:
    """Whether both databases can store and look up `text` as it is."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(text: str) -> str:
    """`text` with what the databases cannot hold written out as escapes (`\\x00`, `\\ud800`):
    an error message quoting a bad id must still be recordable, and readable."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
