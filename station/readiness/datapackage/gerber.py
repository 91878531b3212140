"""Gerber (RS-274X) and Excellon content: what a file's bytes are, and its X2 FileFunction.

Hand-written: the format signs and the X2 FileFunction attribute, looked for in a file's first
bytes, tell which files to give gerbonara (geometry.py) and which layer a file is (layers.py);
gerbonara has no such test short of parsing the whole file, and its layer guess misses the
Altium and Eagle names layers.py knows.
"""

from __future__ import annotations

import re

X2_FUNCTION = re.compile(
    rb"(?:%TF\.FileFunction,([^*%\r\n]*)\*%|#@!\s*TF\.FileFunction,([^*\r\n]*))"
)
_GERBER_SIGN = re.compile(rb"%FS[LTD]?[AI]?X\d\dY\d\d|%MO(?:MM|IN)\*%")
_EXCELLON_TOOL = re.compile(rb"^T\d+[^\r\n]*C\d*\.?\d+", re.M)


def is_gerber(head: bytes) -> bool:
    """Whether the bytes look like RS-274X Gerber."""
    return bool(_GERBER_SIGN.search(head[:16384]))


def is_excellon(data: bytes) -> bool:
    """Whether the bytes look like an Excellon drill file (M48 header, or tools and M30)."""
    head = data[:8192]
    for line in head.splitlines():
        s = line.strip()
        if not s or s.startswith(b";") or s == b"%":
            continue
        if s.upper().startswith(b"M48"):
            return True
        break
    return bool(_EXCELLON_TOOL.search(head)) and b"M30" in data[-4096:]
