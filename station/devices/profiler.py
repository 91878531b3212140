"""Pure parsers of reflow-profiler recordings: T-962 serial log, pfrapp logger, generic CSV.

No I/O, no threads: text in, `Recording` out. A bad line or sample never stops the parse; it is
recorded in `Recording.bad_lines` and its values become None with a reason in `Recording.flags`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from itertools import repeat
from operator import lt

FORMATS = ("t962", "pfrapp", "csv")
ROLES = ("product", "ambient", "setpoint", "average", "cold_junction")
OPEN_C = 1000.0  # a reading at or above this is an open thermocouple (MAX6675 open reads 1023.75)
MIN_C = -100.0  # a reading below this cannot come from an oven: a garbled value
EXPECTED = (
    "expected a T-962 serial log ('# Time,  Temp0, ...' header or rows ending in a mode such as "
    "REFLOW), a pfrapp logger file ('Index,Time (ms),Oven temperature (C),...' header) or a CSV "
    "with a header row and a time column followed by thermocouple columns (',' ';' or tab)"
)

T962_MODES = ("STANDBY", "REFLOW", "BAKE", "BAKE-PREHEAT", "PREHEAT", "COOLING")
T962_FIELDS = ("Time", "TC0", "TC1", "TC2", "TC3", "Set", "Actual", "Heat", "Fan", "ColdJ", "Mode")
T962_ROLES = {"TC0": "product", "TC1": "product", "TC2": "product", "TC3": "product",
              "Set": "setpoint", "Actual": "average", "ColdJ": "cold_junction"}
PFRAPP_HEADER = ("Index,Time (ms),Oven temperature (C),Ambient temperature (C),"
                 "PWM controller (percent),Thermocouple open,Reference temperature (C)")
PFRAPP_CHANNELS = (("Oven", 2, "product"), ("Ambient", 3, "ambient"),
                   ("Reference", 6, "setpoint"))
_LOG_PREFIX = re.compile(r"^(?:INFO|WARN|ERROR|DEBUG|VERBOSE|FATAL):\s*")
_START_LINES = ("starting reflow with profile", "reflow started")
_END_LINES = ("reflow done", "reflow interrupted", "reflow/bake aborted", "stopping bake/reflow")
_MS_HEADER = re.compile(r"\bms\b|msec|millis", re.IGNORECASE)
_S_HEADER = re.compile(r"\(s\)|\[s\]|\bsec|\bs\b|seconds", re.IGNORECASE)
_NUMBER = re.compile(r"^\s*[-+]?(\d+([.,]\d*)?|[.,]\d+)([eE][-+]?\d+)?\s*$")
_FLOAT = re.compile(r"^\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*$")
_INDEX_NAMES = {"index", "idx", "#", "no", "no.", "n", "sample", "samples", "row"}
_ROLE_WORDS = (("cold_junction", ("coldj", "cold junction", "cold_junction", "cj")),
               ("setpoint", ("setpoint", "set point", "set", "target", "reference", "profile")),
               ("ambient", ("ambient", "amb", "air")),
               ("average", ("average", "avg", "mean", "actual")))


class UnknownFormat(ValueError):
    """The text is none of the known profiler formats."""


@dataclass
class Recording:
    """One profiler run: channels sampled at common times, bad samples as None with a reason."""

    format: str
    channels: list[str]
    roles: dict[str, str]
    times: list[float]
    temps: dict[str, list[float | None]]
    flags: dict[str, list[str | None]]
    bad_lines: list[tuple[int, str]] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def product_channels(self) -> list[str]:
        """The channels that are judged (role "product"), in order."""
        return [c for c in self.channels if self.roles.get(c) == "product"]


def serial_line_starts_run(line: str) -> bool:
    """True for a serial line that announces a run (T-962 "Starting reflow with profile: X")."""
    text = _LOG_PREFIX.sub("", line.strip()).lower()
    return text.startswith(_START_LINES)


def serial_line_ends_run(line: str) -> bool:
    """True for a serial line that ends a run (T-962 "Reflow done", an interrupt or an abort)."""
    text = _LOG_PREFIX.sub("", line.strip()).lower()
    return text.startswith(_END_LINES)


def _printable(line: str, limit: int = 80) -> str:
    """The line with control and non-ASCII characters escaped, cut to `limit` characters."""
    shown = line[:limit].encode("unicode_escape").decode("ascii")
    return shown + ("..." if len(line) > limit else "")


def _unknown(text: str, why: str = "") -> UnknownFormat:
    """An UnknownFormat naming the expected formats and showing the first line."""
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    lead = f"unknown profiler format{': ' + why if why else ''}; "
    return UnknownFormat(f"{lead}{EXPECTED}; first line was '{_printable(first)}'"
                         if first else f"{lead}{EXPECTED}; the text is empty")


def _as_text(text) -> str:
    """Accept str (or bytes, decoded as UTF-8 with replacement); drop a leading BOM."""
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("utf-8", errors="replace")
    if not isinstance(text, str):
        raise TypeError(f"profiler text must be str, not {type(text).__name__}")
    return text[1:] if text.startswith("\ufeff") else text


def _is_t962_row(line: str) -> bool:
    """True for a T-962 data row: 11 comma fields ending in a known mode."""
    parts = line.split(",")
    return len(parts) == 11 and parts[-1].strip() in T962_MODES and bool(_NUMBER.match(parts[0]))


def _split_fields(line: str) -> tuple[str, list[str]]:
    """The separator of a header line (tab, ';' or ',', whichever is most frequent) and fields."""
    sep = max(("\t", ";", ","), key=line.count)
    return sep, [f.strip().strip('"').strip() for f in line.split(sep)]


def _time_index(names: list[str]) -> int:
    """The time column of a CSV header: the first whose name contains "time", else the first."""
    return next((i for i, n in enumerate(names) if "time" in n.lower()), 0)


def _csv_header_at(lines: list[str], limit: int = 12) -> int | None:
    """Index of a header row (>= 2 fields, not all numbers) followed by rows of increasing time."""
    nonblank = [i for i, ln in enumerate(lines[: limit * 3]) if ln.strip()][:limit]
    for a in nonblank:
        sep, names = _split_fields(lines[a])
        if len(names) < 2 or all(_NUMBER.match(n) for n in names if n) or any(
                ord(c) < 32 and c != "\t" for c in lines[a]):
            continue
        tcol = _time_index(names)
        times = []
        for ln in lines[a + 1:a + 40]:
            values = ln.split(sep)
            if len(values) != len(names):
                continue
            t = _to_float(values[tcol], True)
            t = _hms_seconds(values[tcol]) if t is None else t
            if t is None or not any(_NUMBER.match(v) for k, v in enumerate(values) if k != tcol):
                continue
            times.append(t)
            if len(times) == 10:
                break
        rising = sum(map(lt, times, times[1:]))  # a bad row may break the order, most may not
        if len(times) >= 2 and times[-1] > times[0] and rising >= 0.7 * (len(times) - 1):
            return a
    return None


def detect_format(text: str) -> str:
    """Which format the text is: "t962", "pfrapp" or "csv"; UnknownFormat if none."""
    text = _as_text(text)
    lines = text.splitlines()
    head = [ln.strip() for ln in lines[:400] if ln.strip()][:60]
    if any(ln.startswith(PFRAPP_HEADER[:32]) for ln in head[:10]) or (
        head and head[0].startswith("Sample time (ms):")
        and any(ln.startswith("Index,Time (ms)") for ln in head[:10])
    ):
        return "pfrapp"
    if any((ln.startswith("# Time") and "ColdJ" in ln) or _is_t962_row(ln) for ln in head):
        return "t962"
    if _csv_header_at(lines) is not None:
        return "csv"
    raise _unknown(text)


def parse(text: str, fmt: str | None = None, columns: dict | None = None) -> Recording:
    """Parse a profiler recording; `fmt` skips detection, `columns` picks CSV columns by name."""
    text = _as_text(text)
    if fmt is None:
        fmt = "csv" if columns else detect_format(text)
    if fmt == "t962":
        return _parse_t962(text)
    if fmt == "pfrapp":
        return _parse_pfrapp(text)
    if fmt == "csv":
        return _parse_csv(text, columns)
    raise UnknownFormat(f"unknown format name '{_printable(str(fmt))}': use one of {FORMATS}")


# --- shared table reader -------------------------------------------------------------------


def _to_float(value: str, decimal_comma: bool) -> float | None:
    """A field as a finite float, or None."""
    value = value.strip()
    if decimal_comma:
        value = value.replace(",", ".")
    if not _FLOAT.match(value):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _hms_seconds(value: str) -> float | None:
    """'mm:ss(.f)' or 'hh:mm:ss(.f)' as seconds, else None."""
    parts = value.strip().split(":")
    if len(parts) not in (2, 3) or not all(_NUMBER.match(p) for p in parts):
        return None
    total = 0.0
    for p in parts:
        total = total * 60 + float(p.replace(",", "."))
    return total


def _bulk_table(lines, start, ncol, sep):
    """All data lines in one pass when every line is clean: (values row by row, line numbers)."""
    body = lines[start:]
    if not body:
        return [], range(start + 1, start + 1)
    if not body[-1]:
        body = body[:-1]
    if "" in body:
        return None
    if set(map(str.count, body, repeat(sep))) != {ncol - 1}:
        return None
    block = sep.join(body)
    if any(c in block for c in "nNiI_"):  # float() also takes 'nan', 'inf' and '1_0'
        return None
    try:
        values = list(map(float, block.split(sep)))
    except ValueError:
        return None
    return values, range(start + 1, start + 1 + len(body))


def _read_table(lines, start, ncol, sep, decimal_comma, time_col, keep_cols, bad):
    """Rows after `start` with `ncol` fields: (times, columns, bad fields, line numbers)."""
    if not decimal_comma:
        bulk = _bulk_table(lines, start, ncol, sep)
        if bulk is not None:
            values, numbers = bulk
            cols = {c: values[c::ncol] for c in range(ncol)}
            return cols.pop(time_col), cols, [], numbers
    times: list[float] = []
    rows: list[list[float | None]] = []
    marks: list[tuple[int, int, str]] = []  # (row, column, reason) of each bad field
    numbers: list[int] = []
    fast = not decimal_comma
    isfinite = math.isfinite
    for i in range(start, len(lines)):
        line = lines[i]
        parts = line.split(sep)
        if len(parts) != ncol:
            if line.strip():
                what = "cut short" if len(parts) < ncol else "too many fields"
                bad.append((i + 1, f"{what}: {len(parts)} of {ncol} fields"))
            continue
        row = None
        if fast:
            try:
                row = list(map(float, parts))
                if not isfinite(sum(row)) or "_" in line:  # float() takes 'nan', 'inf', '1_0'
                    row = None
            except ValueError:
                row = None
        if row is None:
            row = [_to_float(p, decimal_comma) for p in parts]
            t = row[time_col]
            if t is None:
                t = _hms_seconds(parts[time_col])
            if t is None:
                bad.append((i + 1, f"garbled time '{_printable(parts[time_col].strip(), 20)}'"))
                continue
            row[time_col] = t
            wrong = [(c, "missing" if not parts[c].strip() else "garbled")
                     for c in keep_cols if row[c] is None]
            if wrong:
                bad.append((i + 1, ", ".join(f"{why} value in column {c + 1}" for c, why in wrong)))
                marks.extend((len(rows), c, why) for c, why in wrong)
        times.append(row[time_col])
        rows.append(row)
        numbers.append(i + 1)
    columns = list(zip(*rows, strict=True)) if rows else [()] * ncol
    cols = {c: list(columns[c]) for c in range(ncol) if c != time_col}
    return times, cols, marks, numbers


def _finish(fmt, names_cols, roles, table, bad, meta, open_rows=None):
    """Columns, flags, increasing time and open readings into a Recording."""
    times, cols, marks, numbers = table
    if len(times) > 1 and not all(map(lt, times, times[1:])):
        keep, last = [], -math.inf
        for k, t in enumerate(times):
            if t > last:
                keep.append(k)
                last = t
            else:
                bad.append((numbers[k], f"time {t:g} s does not increase (previous {last:g} s)"))
        new_index = {k: j for j, k in enumerate(keep)}
        times = [times[k] for k in keep]
        cols = {c: [v[k] for k in keep] for c, v in cols.items()}
        marks = [(new_index[r], c, why) for r, c, why in marks if r in new_index]
        if open_rows is not None:
            open_rows = [open_rows[k] for k in keep]
    channels = [name for name, _ in names_cols]
    temps: dict[str, list[float | None]] = {}
    flags: dict[str, list[str | None]] = {}
    for name, col in names_cols:
        values = list(cols[col])
        flag: list[str | None] = [None] * len(values)
        for r, c, why in marks:
            if c == col:
                flag[r] = why
        has_none = bool(marks or open_rows) and None in values  # the bulk read has no None
        present = [v for v in values if v is not None] if has_none else values
        if present and (max(present) >= OPEN_C or min(present) < MIN_C):
            for k, v in enumerate(values):
                if v is not None and (v >= OPEN_C or v < MIN_C):
                    flag[k] = "open" if v >= OPEN_C else "garbled"
                    values[k] = None
        if open_rows is not None and roles.get(name) == "product":
            for k, is_open in enumerate(open_rows):
                if is_open:
                    flag[k] = "open"
                    values[k] = None
        temps[name] = values
        flags[name] = flag
    return Recording(format=fmt, channels=channels, roles=dict(roles), times=list(times),
                     temps=temps, flags=flags, bad_lines=sorted(bad), meta=meta)


# --- pfrapp ---------------------------------------------------------------------------------


def _parse_pfrapp(text: str) -> Recording:
    """pfrapp/reflow-oven host logger: preamble 'key: value' lines, header, 7 fields at 2 Hz."""
    lines = text.splitlines()
    head = next((i for i, ln in enumerate(lines[:50]) if ln.strip().startswith("Index,Time")),
                None)
    if head is None:
        raise _unknown(text, "no pfrapp header 'Index,Time (ms),...'")
    meta: dict = {"preamble": {}, "time_unit": "ms", "source_header": lines[head].strip(),
                  "notes": []}
    for ln in lines[:head]:
        key, sep, value = ln.partition(":")
        if sep:
            meta["preamble"][key.strip()] = value.strip()
    bad: list[tuple[int, str]] = []
    times, cols, marks, numbers = _read_table(lines, head + 1, 7, ",", False, 1,
                                              (2, 3, 4, 5, 6), bad)
    times = [t / 1000.0 for t in times]
    open_rows = [bool(v) for v in cols[5]]  # MAX6675 status bit (value 4) or 1: open
    meta["extra"] = {"PWM controller (percent)": cols[4]}
    meta["open_flagged_samples"] = sum(open_rows)
    names_cols = [(name, col) for name, col, _ in PFRAPP_CHANNELS]
    roles = {name: role for name, _, role in PFRAPP_CHANNELS}
    return _finish("pfrapp", names_cols, roles, (times, cols, marks, numbers), bad, meta,
                   open_rows)


# --- generic CSV ----------------------------------------------------------------------------


def _role_of(name: str) -> str:
    """A channel's role guessed from its header name; "product" unless a word says otherwise."""
    low = name.lower()
    words = set(re.split(r"[^a-z0-9]+", low))
    for role, keys in _ROLE_WORDS:
        if any((k in low) if " " in k else (k in words) for k in keys):
            return role
    return "product"


def _chosen_columns(names: list[str], columns: dict):
    """Time column, channel columns, time unit and roles from an on-screen column choice."""
    time_name = columns.get("time")
    wanted = list(columns.get("channels") or [])
    missing = [n for n in [time_name, *wanted] if n not in names]
    if time_name is None or not wanted or missing:
        raise ValueError(f"chosen columns not in the header {names}: "
                         f"{missing or 'need a time column and at least one channel'}")
    roles = {n: "product" for n in wanted}
    roles.update({k: v for k, v in (columns.get("roles") or {}).items() if k in roles})
    wrong = sorted({v for v in roles.values() if v not in ROLES})
    if wrong:
        raise ValueError(f"unknown roles {wrong}: use one of {ROLES}")
    unit = columns.get("time_unit")
    if unit not in (None, "s", "ms"):
        raise ValueError(f"time_unit must be 's' or 'ms', not {unit!r}")
    return names.index(time_name), [names.index(n) for n in wanted], unit, roles


def _parse_csv(text: str, columns: dict | None) -> Recording:
    """A CSV with a header row: time column plus one column per thermocouple."""
    lines = text.splitlines()
    head = _csv_header_at(lines)
    if head is None and columns:
        head = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if head is None:
        raise _unknown(text, "no header row followed by numbers")
    sep, names = _split_fields(lines[head])
    first = next((ln for ln in lines[head + 1:] if ln.strip()), "")
    decimal_comma = sep != "," and "," in first
    meta: dict = {"separator": sep, "decimal_comma": decimal_comma, "header_line": head + 1,
                  "notes": []}
    if head:
        meta["preamble"] = lines[:head]
    if columns:
        time_col, chan_cols, unit, roles = _chosen_columns(names, columns)
    else:
        time_col = _time_index(names)
        chan_cols = [i for i, n in enumerate(names)
                     if i != time_col and n.lower() not in _INDEX_NAMES]
        unit, roles = None, {}
    if unit is None:
        unit = "ms" if _MS_HEADER.search(names[time_col]) else (
            "s" if _S_HEADER.search(names[time_col]) else None)
    if not columns:  # drop text columns (no number in the first 20 rows), e.g. a mode column
        sample = [p for p in (ln.split(sep) for ln in lines[head + 1:head + 61])
                  if len(p) == len(names)][:20]
        numeric = [c for c in chan_cols
                   if any(_NUMBER.match(p[c].replace(",", ".")) for p in sample)]
        dropped = [names[c] for c in chan_cols if c not in numeric]
        if dropped:
            meta["notes"].append(f"dropped non-numeric columns: {', '.join(dropped)}")
            meta["dropped_channels"] = dropped
            chan_cols = numeric
        if not chan_cols:
            raise _unknown(text, "no numeric thermocouple column")
        roles = {names[c]: _role_of(names[c]) for c in chan_cols}
    bad: list[tuple[int, str]] = []
    times, cols, marks, numbers = _read_table(lines, head + 1, len(names), sep, decimal_comma,
                                              time_col, chan_cols, bad)
    if unit is None:
        # no unit in the header: a median step above 5 means ms (no profiler samples every >5 s)
        steps = sorted(b - a for a, b in zip(times[:200], times[1:201], strict=False))
        unit = "ms" if steps and steps[len(steps) // 2] > 5 else "s"
        meta["notes"].append(f"time unit '{unit}' guessed from the sample step")
    if unit == "ms":
        times = [t / 1000.0 for t in times]
    if times and times[0]:
        meta["time_offset_s"] = t0 = times[0]
        times = [t - t0 for t in times]
    meta["time_unit"] = unit
    names_cols = [(names[c], c) for c in chan_cols]
    return _finish("csv", names_cols, roles, (times, cols, marks, numbers), bad, meta)


# --- T-962 ----------------------------------------------------------------------------------


def _t962_segments(lines: list[str], bad: list, meta: dict) -> list[list[tuple[int, list]]]:
    """REFLOW runs of a T-962 log (with COOLING rows that continue them) as (line no, values)."""
    segments: list[list[tuple[int, list]]] = []
    current: list[tuple[int, list]] | None = None
    last_t, last_mode = -math.inf, None
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(",")
        if len(parts) != 11:
            if serial_line_starts_run(line):
                current = None
                body = _LOG_PREFIX.sub("", line)
                meta["profile"] = body.partition(":")[2].strip() or meta["profile"]
                meta["events"].append((i + 1, _printable(body)))
            elif serial_line_ends_run(line):
                meta["events"].append((i + 1, _printable(_LOG_PREFIX.sub("", line))))
            elif current is not None and _NUMBER.match(parts[0]):
                what = "cut short" if len(parts) < 11 else "too many fields"
                bad.append((i + 1, f"{what}: {len(parts)} of 11 fields"))
            continue
        mode = parts[-1].strip()
        try:
            values = list(map(float, parts[:-1]))
            if not math.isfinite(sum(values)):
                raise ValueError
        except ValueError:
            values = [_to_float(p, False) for p in parts[:-1]]
        t = values[0]
        if t is None:
            if current is not None:
                bad.append((i + 1, "garbled time"))
            continue
        if mode not in T962_MODES:
            if current is None or not last_t < t <= last_t + 2:
                continue
            bad.append((i + 1, f"garbled mode '{_printable(mode, 16)}'"))
            mode = last_mode
        if mode == "REFLOW":
            if current is None or t <= last_t or last_mode != "REFLOW":
                current = []
                segments.append(current)
        elif not (mode == "COOLING" and current is not None and t > last_t):
            current = None
            continue
        if None in values:
            cols = [T962_FIELDS[k] for k, v in enumerate(values) if v is None]
            bad.append((i + 1, f"garbled value in {', '.join(cols)}"))
        current.append((i + 1, values))
        last_t, last_mode = t, mode
    return segments


def _parse_t962(text: str) -> Recording:
    """T-962 improved firmware serial log: the REFLOW rows (and COOLING rows right after)."""
    bad: list[tuple[int, str]] = []
    meta: dict = {"notes": [], "profile": None, "events": []}
    segments = _t962_segments(text.splitlines(), bad, meta)
    meta["reflow_segments"] = len(segments)
    if len(segments) > 1:
        meta["notes"].append(f"{len(segments)} REFLOW runs in the log; the first is used")
    rows = [v for _, v in segments[0]] if segments else []
    numbers = [n for n, _ in segments[0]] if segments else []
    if not rows:
        meta["notes"].append("no REFLOW rows in the log")
    wanted = [("TC0", 1), ("TC1", 2), ("TC2", 3), ("TC3", 4), ("Set", 5), ("Actual", 6),
              ("ColdJ", 9)]
    dropped = []
    for name, col in wanted:
        present = [r[col] for r in rows if r[col] is not None]
        if name not in ("Set", "Actual") and present and not any(present):
            dropped.append(name)
    if dropped:
        meta["dropped_channels"] = dropped
        meta["notes"].append(f"dropped channels reading 0.0 for the whole run: "
                             f"{', '.join(dropped)}")
    names_cols = [(n, c) for n, c in wanted if n not in dropped]
    marks = [(k, c, "garbled") for k, r in enumerate(rows) if None in r
             for c in range(10) if r[c] is None]
    columns = list(zip(*rows, strict=True)) if rows else [()] * 10
    cols = {c: list(columns[c]) for c in range(1, 10)}
    meta["extra"] = {"Heat": cols[7], "Fan": cols[8]}
    roles = {n: T962_ROLES[n] for n, _ in names_cols}
    times = list(columns[0])
    # the firmware counts 0.25 s ticks and prints them as %6.1f (0.2, 0.5, 0.8, ...): restore them
    if times and all(abs(t * 4 - round(t * 4)) <= 0.21 for t in times):
        times = [round(t * 4) / 4 for t in times]
        meta["notes"].append("times restored to the firmware's 0.25 s tick")
    return _finish("t962", names_cols, roles, (times, cols, marks, numbers), bad, meta)
