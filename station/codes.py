"""What a scanner sent, made plain: terminators and AIM prefixes off, then an allowlist."""

import re
import unicodedata

AIM_PREFIX = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
RAW_LIMIT = 1024  # anything longer is not a label, whatever the configured cap
BIDI = {"\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)),
        *map(chr, range(0x2066, 0x206A))}
DEFAULT_ALLOWED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


class BadCode(ValueError):
    """The raw text is not an acceptable code; the message says why."""


def normalise(raw, max_length: int = 64, allowed: re.Pattern = DEFAULT_ALLOWED) -> str:
    """The code inside a raw scan, or BadCode naming what is wrong with it."""
    if not isinstance(raw, str):
        raise BadCode("the code must be text")
    if len(raw) > RAW_LIMIT:
        raise BadCode(f"it is {len(raw)} characters long; a label has at most {max_length}")
    code = raw.strip(" \t\r\n")
    code = AIM_PREFIX.sub("", code, count=1)
    if not code:
        raise BadCode("it is empty")
    for pos, ch in enumerate(code, 1):
        if ch in BIDI:
            raise BadCode(f"it holds a text-direction override (U+{ord(ch):04X}) at {pos}")
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise BadCode(f"it holds a control character (U+{ord(ch):04X}) at {pos}")
    if len(code) > max_length:
        raise BadCode(f"it is {len(code)} characters long; a label has at most {max_length}")
    if not allowed.match(code):
        bad = next((c for c in code if not re.match(r"[A-Za-z0-9._/-]", c)), code[:1])
        raise BadCode(f"the character {bad!r} is not allowed in a label")
    return code
