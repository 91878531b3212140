"""Problems of the data-package report, and the helpers that word their messages.

Every defect becomes a problem ``{"code", "message", "severity", ...}``: the checker never raises.
"""

from __future__ import annotations

import re

from station.errors import N_, Text, say

MAX_LISTED = 20  # designators named in one message


def problem(code: str, severity: str, message: str, **extra) -> dict:
    """One problem of the report; a Text message also keeps its id and parameters (`text`)."""
    found = {"code": code, "message": message, "severity": severity, **extra}
    if isinstance(message, Text):
        found["text"] = stored_text(message)
    return found


def stored_text(text: Text) -> dict:
    """A Text as JSON: its id and parameters, a Text among them (or in a list) kept the same way."""
    return {"id": text.msgid, "params": {k: _stored_param(v) for k, v in text.params.items()}}


def _stored_param(value):
    """A parameter as JSON: a Text (or a list holding Texts) as stored_text keeps it."""
    if isinstance(value, Text):
        return stored_text(value)
    if isinstance(value, list | tuple) and any(isinstance(v, Text) for v in value):
        return [_stored_param(v) for v in value]
    return say(value)


def from_stored(text: dict) -> Text:
    """A Text again from its stored id and parameters (stored_text's JSON, or an older one)."""
    return Text(text["id"], **{k: _from_stored_param(v)
                               for k, v in (text.get("params") or {}).items()})


def _from_stored_param(value):
    """A stored parameter again; words are message ids too (a panel problem's edge, "top edge")."""
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return from_stored(value)
    if isinstance(value, list):
        return [_from_stored_param(v) for v in value]
    return Text(value) if isinstance(value, str) else value  # numbers stay numbers


def said(p: dict):
    """A stored problem's sentence: a Text when it kept its id and parameters, else as stored."""
    text = p.get("text")
    if isinstance(text, dict) and isinstance(text.get("id"), str):
        return from_stored(text)
    return p.get("message", "")


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
    return f"{n / 1024:.0f} kB" if n >= 1024 else Text(N_("{count} bytes"), count=n)


def listed(names: list[str]) -> str:
    """A short, readable list of designators, file names or Texts for a message."""
    names = list(names)
    shown = names[:MAX_LISTED]
    if any(isinstance(n, Text) for n in shown):
        # Translators: joins the items of a list inside a sentence.
        shown = joined(shown, N_("{items}, {next}"))
    else:
        shown = ", ".join(shown)
    more = len(names) - MAX_LISTED
    return Text(N_("{names} and {more} more"), names=shown, more=more) if more > 0 else shown


# Translators: joins the clauses of a list inside a sentence ("only in the BOM: R9; only in ...").
CLAUSES = N_("{items}; {next}")


def joined(items: list, joiner: str = CLAUSES) -> Text | str:
    """Items (Texts or words) in one Text, each joined to the ones before by `joiner`."""
    if not items:
        return ""
    text = items[0]
    for item in items[1:]:
        text = Text(joiner, items=text, next=item)
    return text


class Unreadable(Exception):
    """A BOM or centroid file that cannot be read as a table: carries the problem code."""

    def __init__(self, code: str, msgid: str, **params):
        """Keep the problem code and the sentence; the reader fills in {file}."""
        super().__init__(msgid)
        self.code, self.msgid, self.params = code, msgid, params

    def text(self, file) -> Text:
        """The sentence about `file` (a Text naming the upload)."""
        return Text(self.msgid, file=file, **self.params)
