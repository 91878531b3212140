"""Problems of the data-package report, and the helpers that word their messages.

Every defect becomes a problem ``{"code", "message", "severity", ...}``: the checker never raises.
"""

from __future__ import annotations

import re

MAX_LISTED = 20  # designators named in one message


def problem(code: str, severity: str, message: str, **extra) -> dict:
    """One problem of the report."""
    return {"code": code, "message": message, "severity": severity, **extra}


def natural_key(text: str) -> list:
    """Sort key that puts R2 before R10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def in_order(names) -> list[str]:
    """Names in natural order, without duplicates."""
    return sorted(set(names), key=natural_key)


def size_text(n: int) -> str:
    """A byte count for a message: '5 MB', '40 kB', '900 bytes'."""
    if n >= 1048576:
        return f"{n / 1048576:.0f} MB"
    return f"{n / 1024:.0f} kB" if n >= 1024 else f"{n} bytes"


def listed(names: list[str]) -> str:
    """A short, readable list of designators or file names for a message."""
    names = list(names)
    shown = ", ".join(names[:MAX_LISTED])
    more = len(names) - MAX_LISTED
    return f"{shown} and {more} more" if more > 0 else shown


class Unreadable(Exception):
    """A BOM or centroid file that cannot be read as a table: carries the problem code."""

    def __init__(self, code: str, message: str):
        """Keep the problem code and the message (which follows the file's name)."""
        super().__init__(message)
        self.code = code
        self.message = message
