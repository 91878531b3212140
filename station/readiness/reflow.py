"""Reflow profile statistics, process windows, PWI (KIC) and the verdict. Pure: no Flask, no DB.

Definitions follow the research note (shared/notes/reflow.md §1, §3). Crossing times of a level
are linearly interpolated between the two samples around it; "above" means T >= level.
- peak_C: the highest good sample (first time reached = peak time).
- tal_s: every interval with T >= liquidus, summed (a note when more than one); unknown when
  the run starts or ends above it; 0 when the liquidus is never reached (then INVALID).
- soak_s: from the last up-crossing of soak_low_C to the first up-crossing of soak_high_C, both
  before the peak.
- max_rise_Cps / max_fall_Cps: max / min over samples i of (T(t_i + w) - T_i) / w, T(t_i + w)
  interpolated (= the sample w later when the step divides w); w = slope_window_s, stored.
- t_within5_s: time with T >= peak - 5 °C (the actual peak, as J-STD-020 rev C).
- cool_rate_Cps: (peak - cool_to_C) / time from the last sample at the peak down to cool_to_C.
- t25_to_peak_s: from the last up-crossing of 25 °C before the peak; unknown if the run starts
  above 25 °C.
- delta_t_peak_C: max - min of the valid product thermocouples' peaks (needs two or more).
Data quality first: open thermocouple (flag or >= 1000 °C), readings out of -50..500 °C, lone
spikes and time gaps make a channel invalid, with the reason; its statistics are then None.

The verdict is INVALID only for bad data: a product thermocouple invalid, one that never reached
the liquidus, no product thermocouple, or not one statistic of the window measured. A statistic
that cannot be measured (a logger switched on at 30 °C has no 25 °C to peak) is None with an
"info" problem naming it and why; the PWI and the verdict come from the statistics measured.
Channels that are not on the board (setpoint, average, cold junction, ambient) are computed but
never judged nor part of ΔT. Every text is a `Text`, said in the reader's language at the edge.
Algorithm 2 (algorithm 1 made any unmeasured statistic INVALID).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from operator import sub
from pathlib import Path

from station.errors import N_, Text
from station.paths import ROOT

ALGORITHM_VERSION = "2"
STATS = ("peak_C", "tal_s", "soak_s", "max_rise_Cps", "max_fall_Cps", "t_within5_s",
         "cool_rate_Cps", "t25_to_peak_s")
BOARD_STATS = ("delta_t_peak_C",)
ALL_STATS = STATS + BOARD_STATS
VERDICTS = ("PASS", "WARN", "FAIL", "INVALID")
DEFAULT_WINDOWS = ROOT / "config" / "pastes.toml"

OPEN_C = 1000.0  # a reading at or above this is an open thermocouple (MAX6675 reads 1023.75)
MAX_PLAUSIBLE_C = 500.0  # no reflow oven reaches this: a reading above is a sensor fault
MIN_PLAUSIBLE_C = -50.0  # nor this cold
OPEN_MERGE_S = 5.0  # open readings closer than this form one fault; samples between are unreliable
# A spike is one sample more than SPIKE_C away from both neighbours, on the same side, while the
# neighbours agree within SPIKE_C; a step (file 1's 22 °C drop) moves and stays, so is no spike.
SPIKE_C = 10.0
# A gap is a hole between good samples longer than max(GAP_MIN_S, GAP_STEPS x median step).
GAP_MIN_S = 2.0
GAP_STEPS = 5.0
MIN_SAMPLES = 3
TEMP_25_C = 25.0
WITHIN_C = 5.0

# Names as profile engineers say them (KIC, J-STD-020), and units; soak names its own band.
STAT_NAMES = {
    "peak_C": N_("Peak"),
    "tal_s": N_("Time above liquidus"),
    "soak_s": N_("Soak {low:g}–{high:g} °C"),
    "max_rise_Cps": N_("Max rising slope"),
    "max_fall_Cps": N_("Max falling slope"),
    "t_within5_s": N_("Time within {within:g} °C of peak"),
    "cool_rate_Cps": N_("Cooling rate"),
    "t25_to_peak_s": N_("Time {start:g} °C to peak"),
    "delta_t_peak_C": N_("ΔT across the board"),
}
UNITS = {"peak_C": "°C", "tal_s": "s", "soak_s": "s", "max_rise_Cps": "°C/s",
         "max_fall_Cps": "°C/s", "t_within5_s": "s", "cool_rate_Cps": "°C/s",
         "t25_to_peak_s": "s", "delta_t_peak_C": "°C"}
ROLE_NAMES = {"product": N_("on the board"), "setpoint": N_("setpoint"),
              "average": N_("average"), "cold_junction": N_("cold junction"),
              "ambient": N_("ambient")}
BOARD = N_("board")  # the channel named in board-level problems (ΔT)
INVALID_CODES = ("no_product_channel", "channel_invalid", "liquidus_not_reached",
                 "nothing_measured", "no_limits")


def stat_name(stat: str, soak_low_C: float = 150.0, soak_high_C: float = 200.0) -> Text:
    """A statistic's name as engineers say it, the soak with its window's own band."""
    return Text(STAT_NAMES[stat], low=soak_low_C, high=soak_high_C, within=WITHIN_C,
                start=TEMP_25_C)


def stat_names(soak_low_C: float = 150.0, soak_high_C: float = 200.0) -> dict[str, Text]:
    """Every statistic's name, for a window's soak band."""
    return {stat: stat_name(stat, soak_low_C, soak_high_C) for stat in ALL_STATS}


def _joined(texts: list, msgid: str = N_("{first}; {rest}")):
    """Several texts as one: 'a; b; c' (the separator translatable)."""
    out = texts[0]
    for text in texts[1:]:
        out = Text(msgid, first=out, rest=text)
    return out


# --- process windows ------------------------------------------------------------------------


@dataclass
class Window:
    """A versioned process window: thresholds of the definitions and limits per statistic."""

    name: str
    version: int
    liquidus_C: float
    soak_low_C: float
    soak_high_C: float
    cool_to_C: float
    slope_window_s: float = 10.0
    warn_pct: float = 70.0
    limits: dict[str, tuple[float, float]] = field(default_factory=dict)
    source: str = ""


def load_windows(path: str | Path | None = None) -> dict[str, Window]:
    """Read the process windows of a pastes.toml (default config/pastes.toml), checked."""
    path = Path(path or DEFAULT_WINDOWS)
    with path.open("rb") as f:
        data = tomllib.load(f)
    windows: dict[str, Window] = {}
    for name, spec in (data.get("windows") or {}).items():
        try:
            limits = {}
            for stat, pair in (spec.get("limits") or {}).items():
                if stat not in ALL_STATS:
                    raise ValueError(f"unknown statistic '{stat}' (known: {', '.join(ALL_STATS)})")
                lo, hi = (float(x) for x in pair)
                if not lo < hi:
                    raise ValueError(f"{stat}: low limit {lo:g} is not below high limit {hi:g}")
                limits[stat] = (lo, hi)
            if not limits:
                raise ValueError("no limits")
            window = Window(
                name=name, version=int(spec["version"]), liquidus_C=float(spec["liquidus_C"]),
                soak_low_C=float(spec["soak_low_C"]), soak_high_C=float(spec["soak_high_C"]),
                cool_to_C=float(spec["cool_to_C"]),
                slope_window_s=float(spec.get("slope_window_s", 10.0)),
                warn_pct=float(spec.get("warn_pct", 70.0)), limits=limits,
                source=str(spec.get("source", "")))
        except (KeyError, TypeError, ValueError) as exc:
            detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
            raise ValueError(f"{path.name}: window '{name}': {detail}") from exc
        if not window.soak_low_C < window.soak_high_C:
            raise ValueError(f"{path.name}: window '{name}': soak_low_C must be below soak_high_C")
        if window.slope_window_s <= 0 or not 0 < window.warn_pct < 100:
            raise ValueError(f"{path.name}: window '{name}': slope_window_s must be > 0 and "
                             "warn_pct between 0 and 100")
        windows[name] = window
    return windows


def pwi_of(value: float, lo: float, hi: float) -> float:
    """Signed process window index in %: 0 at the window's centre, +-100 at its limits (KIC)."""
    if not hi > lo:
        raise ValueError(f"the high limit {hi:g} must be above the low limit {lo:g}")
    return 100.0 * (value - (hi + lo) / 2.0) / ((hi - lo) / 2.0)


# --- results --------------------------------------------------------------------------------


@dataclass
class ChannelResult:
    """Statistics of one thermocouple, or why it is invalid; notes remark on how it was read."""

    name: str
    valid: bool
    reason: str | None
    stats: dict[str, float | None]
    notes: list[Text] = field(default_factory=list)
    evidence: dict = field(default_factory=dict)
    role: str = "product"
    pwi: dict[str, float] = field(default_factory=dict)


@dataclass
class Analysis:
    """A recording judged against a window: per-channel results, PWI, worst and verdict."""

    channels: list[ChannelResult]
    delta_t_peak_C: float | None
    pwi: float | None
    worst: tuple[str, str] | None
    verdict: str
    problems: list[dict]
    slope_window_s: float
    window_name: str
    window_version: int
    limits: dict[str, tuple[float, float]]
    warn_pct: float
    delta_t_pwi: float | None = None
    algorithm_version: str = ALGORITHM_VERSION
    levels: dict = field(default_factory=dict)  # the window's liquidus, soak band and cool-to

    def to_dict(self) -> dict:
        """The API shape: verdict, PWI, window and limits, channels with stats and signed PWI."""
        return {
            "verdict": self.verdict,
            "pwi": _round(self.pwi, 2),
            "slope_window_s": self.slope_window_s,
            "warn_pct": self.warn_pct,
            "algorithm_version": self.algorithm_version,
            "window": {"name": self.window_name, "version": self.window_version,
                       "limits": {k: [lo, hi] for k, (lo, hi) in self.limits.items()},
                       **self.levels},
            "channels": [
                {"name": c.name, "role": c.role, "valid": c.valid, "reason": c.reason,
                 "stats": {k: _round(c.stats.get(k), 3) for k in STATS},
                 "pwi": {k: _round(v, 2) for k, v in c.pwi.items()},
                 "notes": list(c.notes)}
                for c in self.channels],
            "delta_t_peak_C": _round(self.delta_t_peak_C, 3),
            "problems": [dict(p) for p in self.problems],
        }


def _round(value: float | None, digits: int) -> float | None:
    """Round for the API, keeping None."""
    return None if value is None else round(value, digits)


# --- time axis ------------------------------------------------------------------------------


class _Axis:
    """Facts about one time axis, computed once and shared by every channel sampled on it."""

    def __init__(self, t: list[float]):
        """Steps, uniformity and median step of the axis."""
        self.t = t
        self.n = n = len(t)
        steps = list(map(sub, t[1:], t)) if n > 1 else []
        self.steps = steps
        if steps:
            lo, hi = min(steps), max(steps)
            self.uniform = hi - lo <= 1e-6 * hi
            self.median_step = hi if self.uniform else sorted(steps)[len(steps) // 2]
            self.max_step = hi
        else:
            self.uniform, self.median_step, self.max_step = False, 0.0, 0.0
        self._lookups: dict[float, tuple[list[int], list[float]]] = {}

    def gap_limit(self) -> float:
        """The longest hole between samples that is not a gap."""
        return max(GAP_MIN_S, GAP_STEPS * self.median_step)

    def gaps(self) -> list[tuple[float, float]]:
        """Holes between consecutive samples longer than the gap limit."""
        limit = self.gap_limit()
        if self.max_step <= limit:
            return []
        t = self.t
        return [(t[i], t[i + 1]) for i, d in enumerate(self.steps) if d > limit]

    def lookup(self, w: float) -> tuple[list[int], list[float]]:
        """Per sample i with t[i] + w in the run: j, f with t[i] + w = t[j] + f (t[j+1] - t[j])."""
        if w in self._lookups:
            return self._lookups[w]
        t, n = self.t, self.n
        js: list[int] = []
        fs: list[float] = []
        j = 0
        last = t[-1]
        for ti in t:
            target = ti + w
            if target > last:
                break
            while j < n - 2 and t[j + 1] <= target:
                j += 1
            f = (target - t[j]) / (t[j + 1] - t[j])
            js.append(j)
            fs.append(f)
        self._lookups[w] = (js, fs)
        return js, fs


# --- level crossings ------------------------------------------------------------------------

BLOCK = 64  # samples per block of the min/max summary that narrows the search for crossings


class _Curve:
    """A channel's good samples with the min and max of each block, to find crossings quickly."""

    def __init__(self, t: list[float], T: list[float]):
        """Summarise T block by block."""
        self.t, self.T = t, T
        # block b holds samples b*BLOCK .. b*BLOCK + BLOCK (one shared with the next block), so
        # every pair (i, i + 1) lies in exactly one block: the block i // BLOCK
        blocks = [T[s:s + BLOCK + 1] for s in range(0, max(len(T) - 1, 1), BLOCK)]
        self.mins = list(map(min, blocks))
        self.maxs = list(map(max, blocks))
        self.max = max(self.maxs)
        self.min = min(self.mins)

    def peak(self) -> tuple[float, int, int]:
        """Peak temperature, first and last index where it is reached."""
        T, tp = self.T, self.max
        first = T.index(tp, self.maxs.index(tp) * BLOCK)
        b = len(self.maxs) - 1 - self.maxs[::-1].index(tp)
        seg = T[b * BLOCK:b * BLOCK + BLOCK + 1]
        return tp, first, b * BLOCK + len(seg) - 1 - seg[::-1].index(tp)

    def crossings(self, level: float, lo: int = 0, hi: int | None = None):
        """Up and down crossings of level in samples lo..hi-1 as (i, time), and the end states."""
        t, T = self.t, self.T
        hi = len(T) if hi is None else min(hi, len(T))
        level = float(level)
        above = level.__le__  # T >= level
        ups: list[tuple[int, float]] = []
        downs: list[tuple[int, float]] = []
        mins, maxs = self.mins, self.maxs
        for blk in range(lo // BLOCK, min(max(hi - 2, lo) // BLOCK, len(mins) - 1) + 1):
            if not mins[blk] < level <= maxs[blk]:
                continue
            a, e = max(blk * BLOCK, lo), min(blk * BLOCK + BLOCK + 1, hi)
            bits = bytes(map(above, T[a:e]))
            for pattern, out in ((b"\x00\x01", ups), (b"\x01\x00", downs)):
                pos = bits.find(pattern)
                while pos >= 0:
                    i = a + pos
                    out.append((i, t[i] + (level - T[i]) * (t[i + 1] - t[i]) / (T[i + 1] - T[i])))
                    pos = bits.find(pattern, pos + 1)
        return ups, downs, T[lo] >= level, T[hi - 1] >= level

    def intervals(self, level: float):
        """Intervals with T >= level (interpolated ends), and whether the run starts/ends above."""
        t = self.t
        ups, downs, first, last = self.crossings(level)
        starts = ([t[0]] if first else []) + [x for _, x in ups]
        ends = [x for _, x in downs] + ([t[-1]] if last else [])
        return list(zip(starts, ends, strict=True)), first, last


# --- data quality ---------------------------------------------------------------------------


def _bursts(times, idx: list[int]) -> list[tuple[int, int]]:
    """Open samples grouped into faults: (first index, last index), merged when close in time."""
    out: list[list[int]] = []
    for i in idx:
        if out and times[i] - times[out[-1][1]] <= OPEN_MERGE_S:
            out[-1][1] = i
        else:
            out.append([i, i])
    return [(a, b) for a, b in out]


def _span(a: float, b: float) -> Text:
    """'from a s to b s' or 'at a s'."""
    return Text(N_("at {a:.1f} s"), a=a) if a == b else \
        Text(N_("from {a:.1f} s to {b:.1f} s"), a=a, b=b)


def _clean(times, temps, flags, notes: list[Text]):
    """Good samples as a _Curve (None if too few) and the problems that make a channel invalid."""
    problems: list[Text] = []
    n = len(times)
    if len(temps) != n:
        raise ValueError(f"{len(temps)} temperatures for {n} times")
    open_idx: list[int] = []
    if flags is not None and any(flags):
        open_idx = [i for i, f in enumerate(flags) if f == "open"]
        skipped = sum(1 for f in flags if f and f != "open")
        if skipped:
            kinds = ", ".join(sorted(set(filter(None, flags)) - {"open"}))
            notes.append(Text(N_("{n} bad samples skipped ({kinds})"), n=skipped, kinds=kinds))
    has_none = None in temps
    curve = None
    if not has_none and not open_idx and n >= MIN_SAMPLES:
        curve = _Curve(times, temps)  # the common case: every sample good, no copy
        if curve.max >= OPEN_C:
            curve = None
            open_idx = [i for i, x in enumerate(temps) if x >= OPEN_C]
    else:
        present = [x for x in temps if x is not None] if has_none else temps
        if present and max(present) >= OPEN_C:
            open_idx = sorted(set(open_idx) | {i for i, x in enumerate(temps)
                                               if x is not None and x >= OPEN_C})
    bursts = _bursts(times, open_idx)
    spans = [(times[a], times[b]) for a, b in bursts]
    if bursts:
        where = _joined([_span(a, b) for a, b in spans], N_("{first}, {rest}"))
        problems.append(
            Text(N_("thermocouple open {where} ({n} samples)"), where=where, n=len(open_idx))
            if len(bursts) == 1 else
            Text(N_("thermocouple open {times} times: {where} ({n} samples)"), times=len(bursts),
                 where=where, n=len(open_idx)))
    if curve is None:
        drop = {i for a, b in bursts for i in range(a, b + 1)}
        keep = [i for i, x in enumerate(temps) if x is not None and i not in drop]
        if has_none and not (flags and any(flags)):
            notes.append(Text(N_("{n} missing samples skipped"), n=n - len(keep) - len(drop)))
        if len(keep) < MIN_SAMPLES:
            problems.append(Text(N_("only {n} good samples"), n=len(keep)))
            return None, problems, spans
        curve = _Curve([times[i] for i in keep], [temps[i] for i in keep])
    t, T = curve.t, curve.T
    if curve.max > MAX_PLAUSIBLE_C or curve.min < MIN_PLAUSIBLE_C:
        bad = [i for i, x in enumerate(T) if x > MAX_PLAUSIBLE_C or x < MIN_PLAUSIBLE_C]
        problems.append(Text(N_("reading {value:g} °C out of range {where} ({n} samples)"),
                             value=T[bad[0]], where=_span(t[bad[0]], t[bad[-1]]), n=len(bad)))
    spikes = _spikes(T)
    if spikes:
        k = spikes[0]
        facts = {"t": t[k], "value": T[k], "before": T[k - 1], "after": T[k + 1]}
        problems.append(
            Text(N_("spike at {t:.1f} s: {value:g} °C between {before:g} and {after:g} °C"),
                 **facts) if len(spikes) == 1 else
            Text(N_("{n} spikes, first at {t:.1f} s: {value:g} °C between {before:g} and "
                    "{after:g} °C"), n=len(spikes), **facts))
    return curve, problems, spans


def _spikes(T) -> list[int]:
    """Indices of lone samples jumping more than SPIKE_C from both neighbours and coming back."""
    d = list(map(sub, T[1:], T))  # d[i] = T[i+1] - T[i]
    if not d or (max(d) <= SPIKE_C and min(d) >= -SPIKE_C):
        return []
    out = []
    for i in [i for i, x in enumerate(d) if x > SPIKE_C or x < -SPIKE_C]:
        k = i + 1  # candidate spike sample: T[k] - T[k-1] = d[i], T[k+1] - T[k] = d[k]
        if k < len(d) and d[i] * d[k] < 0 and abs(d[k]) > SPIKE_C \
                and abs(T[k + 1] - T[k - 1]) <= SPIKE_C:
            out.append(k)
    return out


# --- statistics -----------------------------------------------------------------------------


def _slopes(axis: _Axis, T, w: float):
    """Max rising and falling slope over w: (rise, t_rise, fall, t_fall), None if too short."""
    # The slope at sample i is (T(t_i + w) - T_i) / w, T(t_i + w) linearly interpolated: with a
    # sample step that divides w it is exactly the slope to the sample w later.
    t = axis.t
    if len(t) < 2 or t[-1] - t[0] < w:
        return None
    k = w / axis.median_step if axis.median_step else 0
    if axis.uniform and abs(k - round(k)) < 1e-6 and round(k) >= 1:
        k = round(k)
        d = list(map(sub, T[k:], T))  # T[i+k] - T[i], one C-level pass
        up, down = max(d), min(d)
        iu, id_ = d.index(up), d.index(down)
        return (up / (t[iu + k] - t[iu]), t[iu], down / (t[id_ + k] - t[id_]), t[id_])
    js, fs = axis.lookup(w)
    ahead = [T[j] + f * (T[j + 1] - T[j]) for j, f in zip(js, fs, strict=True)]
    d = list(map(sub, ahead, T))
    up, down = max(d), min(d)
    iu, id_ = d.index(up), d.index(down)
    return up / w, t[iu], down / w, t[id_]


def _compute(axis: _Axis, curve: _Curve, window: Window, w: float, notes: list[Text]):
    """The eight statistics of a good channel, and their evidence (why any is not measured)."""
    t, T = curve.t, curve.T
    tl = window.liquidus_C
    stats: dict[str, float | None] = dict.fromkeys(STATS)
    ev: dict = {"n_samples": len(T), "sample_step_s": axis.median_step, "missing": {}}

    def missing(why: Text, *names: str) -> None:
        """Record why statistics could not be measured (analyse makes them problems)."""
        for stat in names:
            ev["missing"][stat] = why

    def starts_or_ends(starts: bool, start_msg: str, end_msg: str, **params) -> Text:
        """One of two reasons, whichever end of the run it is."""
        return Text(start_msg if starts else end_msg, **params)

    tp, ip, ip_last = curve.peak()
    stats["peak_C"] = tp
    ev.update(peak_t=t[ip], peak_last_t=t[ip_last], liquidus_reached=tp >= tl)

    # time above liquidus: every interval with T >= TL, summed
    if tp < tl:
        stats["tal_s"] = 0.0
        ev["n_tal_intervals"] = 0
        notes.append(Text(N_("liquidus {tl:g} °C never reached (peak {tp:g} °C)"), tl=tl, tp=tp))
    else:
        iv, first, last = curve.intervals(tl)
        ev.update(tal_intervals=iv, n_tal_intervals=len(iv))
        if first or last:
            missing(starts_or_ends(first, N_("the run starts above the liquidus {tl:g} °C"),
                                   N_("the run ends above the liquidus {tl:g} °C"), tl=tl),
                    "tal_s")
        else:
            stats["tal_s"] = sum(b - a for a, b in iv)
            if len(iv) > 1:
                notes.append(Text(N_("liquidus {tl:g} °C crossed {n} times: the {n} intervals "
                                     "above it are summed"), tl=tl, n=len(iv)))

    # time within 5 °C of the actual peak
    iv5, first5, last5 = curve.intervals(tp - WITHIN_C)
    ev.update(within5_intervals=iv5)
    if first5 or last5:
        missing(starts_or_ends(first5, N_("the run starts within {within:g} °C of the peak"),
                               N_("the run ends within {within:g} °C of the peak"),
                               within=WITHIN_C), "t_within5_s")
    else:
        stats["t_within5_s"] = sum(b - a for a, b in iv5)
        if len(iv5) > 1:
            notes.append(Text(N_("{n} separate intervals within {within:g} °C of peak, summed"),
                              n=len(iv5), within=WITHIN_C))

    # soak: rising side, last up-crossing of soak_low before the first up-crossing of soak_high
    lo_c, hi_c = window.soak_low_C, window.soak_high_C
    if tp < hi_c:
        missing(Text(N_("the peak {tp:g} °C is below the soak end {hi:g} °C"), tp=tp, hi=hi_c),
                "soak_s")
    else:
        ups, _, first, _ = curve.crossings(hi_c, 0, ip + 1)
        if first or not ups:
            missing(Text(N_("the run starts above {level:g} °C"), level=hi_c), "soak_s")
        else:
            i_hi, t_hi = ups[0]
            ups_lo, _, _, _ = curve.crossings(lo_c, 0, i_hi + 2)
            if ups_lo:
                t_lo = ups_lo[-1][1]
                stats["soak_s"] = t_hi - t_lo
                ev.update(soak_start_t=t_lo, soak_end_t=t_hi)
            else:
                missing(Text(N_("the run starts above {level:g} °C"), level=lo_c), "soak_s")

    # 25 °C to peak: from the last up-crossing of 25 °C before the peak
    if T[0] > TEMP_25_C:
        missing(Text(N_("the run starts at {start:g} °C, above {level:g} °C"), start=T[0],
                     level=TEMP_25_C), "t25_to_peak_s")
    else:
        ups25, _, first25, _ = curve.crossings(TEMP_25_C, 0, ip + 1)
        if ups25 or first25:
            t25 = ups25[-1][1] if ups25 else t[0]
            stats["t25_to_peak_s"] = t[ip] - t25
            ev["t25_t"] = t25
        else:
            missing(Text(N_("the peak {tp:g} °C is below {level:g} °C"), tp=tp,
                         level=TEMP_25_C), "t25_to_peak_s")

    # cooling: average rate from the last sample at the peak down to cool_to_C
    cool = window.cool_to_C
    if tp <= cool:
        missing(Text(N_("the peak {tp:g} °C is not above {cool:g} °C"), tp=tp, cool=cool),
                "cool_rate_Cps")
    else:
        _, downs, _, _ = curve.crossings(cool, ip_last)
        if downs:
            t_end = downs[0][1]
            stats["cool_rate_Cps"] = (tp - cool) / (t_end - t[ip_last])
            ev["cool_end_t"] = t_end
        else:
            missing(Text(N_("the run ends at {end:g} °C, before cooling to {cool:g} °C"),
                         end=T[-1], cool=cool), "cool_rate_Cps")

    slopes = _slopes(axis, T, w)
    if slopes is None:
        missing(Text(N_("the run is shorter than the {w:g} s slope window"), w=w),
                "max_rise_Cps", "max_fall_Cps")
    else:
        stats["max_rise_Cps"], ev["max_rise_at_t"], stats["max_fall_Cps"], ev["max_fall_at_t"] = \
            slopes
    return stats, ev


def _channel(axis_for, times, temps, window, w, flags, name, role) -> ChannelResult:
    """Quality checks, then the statistics of one channel (axis_for shares time axes)."""
    notes: list[Text] = []
    curve, problems, open_spans = _clean(times, temps, flags, notes)
    evidence: dict = {"open_spans": open_spans} if open_spans else {}
    if curve is not None:
        axis = axis_for(curve.t)
        gaps = [g for g in axis.gaps()
                if not any(g[0] <= a and b <= g[1] for a, b in open_spans)]
        if gaps:
            a, b = gaps[0]
            facts = {"where": _span(a, b), "gap": b - a, "limit": axis.gap_limit()}
            problems.append(
                Text(N_("no good samples {where} (gap {gap:.1f} s > {limit:g} s)"), **facts)
                if len(gaps) == 1 else
                Text(N_("no good samples {where} (gap {gap:.1f} s > {limit:g} s), {n} gaps"),
                     n=len(gaps), **facts))
    if problems:
        return ChannelResult(name=name, valid=False, reason=_joined(problems),
                             stats=dict.fromkeys(STATS), notes=notes + problems,
                             evidence=evidence, role=role)
    stats, ev = _compute(axis, curve, window, w, notes)
    evidence.update(ev)
    return ChannelResult(name=name, valid=True, reason=None, stats=stats, notes=notes,
                         evidence=evidence, role=role)


def channel_stats(times, temps, window: Window, slope_window_s: float | None = None, *,
                  flags=None, name: str = "", role: str = "product") -> ChannelResult:
    """Statistics of one thermocouple's samples (None = bad sample) against a window's levels."""
    w = float(window.slope_window_s if slope_window_s is None else slope_window_s)
    if w <= 0:
        raise ValueError("slope_window_s must be positive")
    return _channel(_Axis, list(times), list(temps), window, w, flags, name, role)


# --- the whole recording --------------------------------------------------------------------


def _problem(code: str, severity: str, message: Text, channel=None, stat=None) -> dict:
    """A problem of the analysis: what, how bad, the words, and which channel and statistic."""
    return {"code": code, "severity": severity, "message": message, "channel": channel,
            "stat": stat}


def _quality(product: list[ChannelResult], window: Window, name) -> list[dict]:
    """The problems of bad data (INVALID) and of statistics not measured (info), and the PWIs."""
    per_channel = [s for s in window.limits if s in STATS]
    problems: list[dict] = []
    if not product:
        problems.append(_problem("no_product_channel", "error",
                                 Text(N_("no product thermocouple in the recording"))))
    for r in product:
        if not r.valid:
            problems.append(_problem("channel_invalid", "error",
                                     Text(N_("{channel}: {reason}"), channel=r.name,
                                          reason=r.reason), r.name))
            continue
        if not r.evidence.get("liquidus_reached"):
            problems.append(_problem(
                "liquidus_not_reached", "error",
                Text(N_("{channel}: peak {peak:g} °C never reached the liquidus {tl:g} °C"),
                     channel=r.name, peak=r.stats["peak_C"], tl=window.liquidus_C), r.name))
        for stat in per_channel:
            value = r.stats.get(stat)
            if value is None:
                why = r.evidence.get("missing", {}).get(stat) or Text(N_("no reason known"))
                problems.append(_problem(
                    "stat_not_measured", "info",
                    Text(N_("{channel}: {stat} not measured: {why}"), channel=r.name,
                         stat=name(stat), why=why), r.name, stat))
            else:
                r.pwi[stat] = pwi_of(value, *window.limits[stat])
    return problems


def analyse(recording, window: Window, slope_window_s: float | None = None,
            warn_pct: float | None = None) -> Analysis:
    """Judge a Recording against a Window: statistics per channel, PWI, worst and verdict."""
    w = float(window.slope_window_s if slope_window_s is None else slope_window_s)
    warn = float(window.warn_pct if warn_pct is None else warn_pct)
    if w <= 0:
        raise ValueError("slope_window_s must be positive")
    shared = _Axis(recording.times)

    def axis_for(t):
        """The shared axis when the channel kept every sample, else its own."""
        return shared if t is recording.times else _Axis(t)

    def name(stat: str) -> Text:
        """The statistic's name with this window's soak band."""
        return stat_name(stat, window.soak_low_C, window.soak_high_C)

    results = [_channel(axis_for, recording.times, recording.temps[ch], window, w,
                        recording.flags.get(ch), ch, recording.roles.get(ch, "product"))
               for ch in recording.channels]
    product = [r for r in results if r.role == "product"]
    problems = _quality(product, window, name)
    peaks = [r.stats["peak_C"] for r in product if r.valid]
    delta = max(peaks) - min(peaks) if len(peaks) >= 2 else None
    delta_pwi = None
    if "delta_t_peak_C" in window.limits and product:
        if delta is not None:
            delta_pwi = pwi_of(delta, *window.limits["delta_t_peak_C"])
        elif len(product) == 1:
            problems.append(_problem(
                "stat_not_measured", "info",
                Text(N_("{stat} not measured: one product thermocouple only"),
                     stat=name("delta_t_peak_C")), "board", "delta_t_peak_C"))
    pwi, worst, verdict = None, None, "INVALID"
    if not any(p["code"] in INVALID_CODES for p in problems):
        cands = [(abs(p), r.name, s) for r in product for s, p in r.pwi.items()]
        if delta_pwi is not None:
            cands.append((abs(delta_pwi), "board", "delta_t_peak_C"))
        if not window.limits:
            problems.append(_problem("no_limits", "error", Text(
                N_("window {window} judges no statistic"), window=window.name)))
        elif not cands:
            problems.append(_problem("nothing_measured", "error", Text(
                N_("not one statistic of window {window} could be measured"),
                window=window.name)))
        else:
            pwi, ch, stat = max(cands)
            worst = (ch, stat)
            verdict = "PASS" if pwi < warn else "WARN" if pwi < 100 else "FAIL"
            problems += _judged(cands, product, delta, window, warn, name)
    levels = {"liquidus_C": window.liquidus_C, "soak_low_C": window.soak_low_C,
              "soak_high_C": window.soak_high_C, "cool_to_C": window.cool_to_C}
    return Analysis(channels=results, delta_t_peak_C=delta, pwi=pwi, worst=worst,
                    verdict=verdict, problems=problems, slope_window_s=w,
                    window_name=window.name, window_version=window.version,
                    limits=dict(window.limits), warn_pct=warn, delta_t_pwi=delta_pwi,
                    levels=levels)


def _judged(cands, product, delta, window: Window, warn: float, name) -> list[dict]:
    """The problems of the statistics measured: outside the window, or near its edge (WARN)."""
    out = []
    ranked = sorted(cands, reverse=True)
    for p, ch, stat in ranked:
        if p < 100:
            break
        value = delta if stat == "delta_t_peak_C" else \
            next(r for r in product if r.name == ch).stats[stat]
        lo, hi = window.limits[stat]
        out.append(_problem("out_of_window", "error", Text(
            N_("{channel}: {stat} {value:.2f} {unit} outside {lo:g}..{hi:g} (PWI {pwi:.0f} %)"),
            channel=Text(BOARD) if ch == "board" else ch, stat=name(stat), value=value,
            unit=UNITS[stat], lo=lo, hi=hi, pwi=p), ch, stat))
    p, ch, stat = ranked[0]
    if warn <= p < 100:
        out.append(_problem("pwi_warn", "warning", Text(
            N_("{channel}: {stat} at PWI {pwi:.0f} % (a warning from {warn:g} %)"),
            channel=Text(BOARD) if ch == "board" else ch, stat=name(stat), pwi=p, warn=warn),
            ch, stat))
    return out
