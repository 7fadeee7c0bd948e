"""What a stored name or reason may hold: printable Unicode text, NFC-normalised.

Refused: C0 and C1 control characters (NUL breaks PostgreSQL text; BEL, ESC and the like
break terminals, logs and CSV exports), line and paragraph separators, bidirectional
overrides, embeddings, isolates and marks (they make a name display as another), lone
surrogates (not encodable as UTF-8), and text with nothing visible in it (blank, or only
zero-width and other invisible characters).

The rule is one regular expression, `TEXT_PATTERN`, published as the `pattern` of every
text field in the OpenAPI document; the checks below apply exactly that rule (as two
linear scans rather than the pattern's backtracking).
"""

from __future__ import annotations

import re
import unicodedata

from aggregates.errors import InvalidInput

MAX_NAME_LENGTH = 200
MAX_REASON_LENGTH = 1000

# (first, last) code points; inclusive.
_FORBIDDEN = (
    (0x00, 0x1F), (0x7F, 0x9F),          # C0, DEL, C1 controls
    (0x061C, 0x061C),                    # Arabic letter mark
    (0x200E, 0x200F),                    # left-to-right / right-to-left marks
    (0x2028, 0x2029),                    # line and paragraph separators
    (0x202A, 0x202E),                    # embeddings and overrides
    (0x2066, 0x2069),                    # isolates
)
# Characters that show nothing on their own: spaces, format characters (zero-width space
# and joiners, word joiner, BOM, soft hyphen...), fillers that render blank, variation
# selectors and tag characters.
_INVISIBLE = (
    (0x20, 0x20), (0xA0, 0xA0), (0xAD, 0xAD), (0x034F, 0x034F), (0x0600, 0x0605),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2),
    (0x115F, 0x1160), (0x1680, 0x1680), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x2000, 0x200D), (0x202F, 0x202F), (0x205F, 0x2064), (0x206A, 0x206F),
    (0x2800, 0x2800), (0x3000, 0x3000), (0x3164, 0x3164), (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD), (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A), (0xE0001, 0xE0001), (0xE0020, 0xE007F), (0xE0100, 0xE01EF),
)


def _char(code: int) -> str:
    # \u escapes of four hex digits read the same in Python and ECMA-262 patterns; astral
    # characters are written as themselves (Python reads them as one character).
    return f"\\u{code:04x}" if code <= 0xFFFF else chr(code)


def _class(ranges: tuple[tuple[int, int], ...]) -> str:
    return "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in ranges)


_F = _class(_FORBIDDEN)
_FI = _F + _class(_INVISIBLE)
TEXT_PATTERN = f"^[^{_F}]*[^{_FI}][^{_F}]*$"
_FORBIDDEN_CHAR = re.compile(f"[{_F}\\ud800-\\udfff]")
_VISIBLE_CHAR = re.compile(f"[^{_FI}]")


def text_problem(value: object) -> str | None:
    """Why `value` is not acceptable text (None when it is); length is the caller's."""
    if not isinstance(value, str):
        return "must be a string"
    bad = _FORBIDDEN_CHAR.search(value)
    if bad is not None:
        return (f"must not contain control, bidirectional-override or separator characters "
                f"(found U+{ord(bad.group()):04X})")
    if _VISIBLE_CHAR.search(value) is None:
        return "must contain a visible character (it is blank or only invisible characters)"
    return None


def clean_text(value: object, *, what: str, max_length: int = MAX_REASON_LENGTH,
               collapse: bool = False) -> str:
    """`value` NFC-normalised and stripped (with runs of whitespace made one space when
    `collapse`), or InvalidInput naming `what`."""
    problem = text_problem(value)
    if problem is not None:
        raise InvalidInput(f"{what} {problem}")
    assert isinstance(value, str)
    text = unicodedata.normalize("NFC", value)
    text = " ".join(text.split()) if collapse else text.strip()
    if len(text) > max_length:
        raise InvalidInput(f"{what} must be at most {max_length} characters")
    return text


def clean_name(value: object, *, what: str = "name") -> str:
    """A name: clean text with whitespace collapsed, at most MAX_NAME_LENGTH characters."""
    return clean_text(value, what=what, max_length=MAX_NAME_LENGTH, collapse=True)


def clean_optional_text(value: object, *, what: str) -> str | None:
    """An optional reason: None stays None, anything else is clean text."""
    return None if value is None else clean_text(value, what=what)
