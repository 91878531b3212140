"""Reflow statistics, windows, PWI and verdict: hand-checkable curves and real recordings."""

import dataclasses
import json
import math
import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from station.devices.profiler import Recording, parse
from station.readiness import reflow
from station.readiness.reflow import STATS, Window, analyse, channel_stats, load_windows, pwi_of

REAL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "reflow"
FIRST = REAL / "pfrapp_2024-10-30_profile_controlled4_first_pcb.log"
SECOND = REAL / "pfrapp_2024-12-23_profile_controlled_second_pcb_cortex.log"
needs_first = pytest.mark.skipif(not FIRST.exists(), reason=f"real recording not present: {FIRST}"
                                 " (licensed data, kept out of the repo)")
needs_second = pytest.mark.skipif(not SECOND.exists(), reason=f"real recording not present: "
                                  f"{SECOND} (licensed data, kept out of the repo)")

# A trapezoid profile, straight lines between these points (time s, °C), sampled every 0.5 s.
# Every corner falls on a sample, so interpolated crossings are exact and the values below can
# be checked by hand:
#   ramp 20 -> 150 °C in 100 s (1.3 °C/s); soak 150 -> 200 °C in 100 s (0.5 °C/s)
#   ramp 200 -> 240 °C in 40 s (1.0 °C/s); 10 s at the 240 °C peak; cool at 2 °C/s to 160 °C,
#   then 1 °C/s to 50 °C.
TRAPEZOID = [(0, 20), (100, 150), (200, 200), (240, 240), (250, 240), (290, 160), (400, 50)]
HAND = {
    "peak_C": 240.0,
    "tal_s": 261.5 - 217.0,  # up at 200 + 17/1.0, down at 250 + 23/2
    "soak_s": 100.0,  # 150 °C at 100 s, 200 °C at 200 s
    "max_rise_Cps": 1.3,
    "max_fall_Cps": -2.0,
    "t_within5_s": 252.5 - 235.0,  # 235 °C at 235 s, again at 250 + 5/2
    "cool_rate_Cps": 2.0,  # (240 - 217) / (261.5 - 250), from the last sample at the peak
    "t25_to_peak_s": 240.0 - 5 / 1.3,  # 25 °C at 5/1.3 s, peak first reached at 240 s
}
WINDOW = Window(name="TEST", version=3, liquidus_C=217.0, soak_low_C=150.0, soak_high_C=200.0,
                cool_to_C=217.0, limits={"peak_C": (230.0, 250.0)})


def sample(points, dt=0.5, t_end=None):
    """Times and temperatures of a piecewise-linear curve sampled every dt seconds."""
    t_end = points[-1][0] if t_end is None else t_end
    times = [i * dt for i in range(round(t_end / dt) + 1)]
    temps = []
    for t in times:
        for (t0, a), (t1, b) in zip(points, points[1:], strict=False):
            if t <= t1:
                temps.append(a + (b - a) * (t - t0) / (t1 - t0))
                break
    return times, temps


def recording(channels: dict, times, flags=None) -> Recording:
    """A Recording of product channels sampled at `times`."""
    flags = flags or {}
    return Recording(format="csv", channels=list(channels),
                     roles={c: "product" for c in channels}, times=list(times),
                     temps={c: list(v) for c, v in channels.items()},
                     flags={c: flags.get(c, [None] * len(times)) for c in channels})


def numbers_in(obj):
    """Every number in a nested to_dict() result."""
    if isinstance(obj, dict):
        for v in obj.values():
            yield from numbers_in(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from numbers_in(v)
    elif isinstance(obj, int | float) and not isinstance(obj, bool):
        yield obj


# --- statistics on hand-checkable curves ----------------------------------------------------


@pytest.mark.parametrize("w", [1.0, 10.0, 20.0])
def test_trapezoid_statistics_match_the_hand_values(w):
    times, temps = sample(TRAPEZOID)
    res = channel_stats(times, temps, WINDOW, w, name="TC1")
    assert res.valid and res.reason is None
    for stat, value in HAND.items():
        assert res.stats[stat] == pytest.approx(value, abs=1e-9), stat
    assert res.evidence["peak_t"] == 240.0 and res.evidence["peak_last_t"] == 250.0
    assert res.evidence["n_tal_intervals"] == 1
    assert res.evidence["tal_intervals"][0] == pytest.approx((217.0, 261.5))
    assert res.evidence["soak_start_t"] == pytest.approx(100.0)
    assert res.evidence["soak_end_t"] == pytest.approx(200.0)
    assert res.notes == []


def test_slope_window_larger_than_a_segment_averages_over_it():
    times, temps = sample(TRAPEZOID)
    res = channel_stats(times, temps, WINDOW, 60.0)
    assert res.stats["max_rise_Cps"] == pytest.approx(1.3)  # 100 s ramp holds a 60 s window
    # the worst 60 s fall: 40 s at 2 °C/s then 20 s at 1 °C/s
    assert res.stats["max_fall_Cps"] == pytest.approx(-(40 * 2 + 20 * 1) / 60)
    # the best 120 s rise: the 100 s ramp at 1.3 °C/s then 20 s of soak at 0.5 °C/s
    res = channel_stats(times, temps, WINDOW, 120.0)
    assert res.stats["max_rise_Cps"] == pytest.approx((100 * 1.3 + 20 * 0.5) / 120)


def test_uneven_sampling_interpolates_the_slope_window():
    times, temps = sample(TRAPEZOID, dt=0.5)
    keep = [i for i in range(len(times)) if i % 3 != 1]  # steps of 0.5 and 1.0 s
    res = channel_stats([times[i] for i in keep], [temps[i] for i in keep], WINDOW, 10.0)
    assert res.valid
    assert res.stats["max_rise_Cps"] == pytest.approx(1.3)
    assert res.stats["max_fall_Cps"] == pytest.approx(-2.0)
    assert res.stats["tal_s"] == pytest.approx(HAND["tal_s"])


def test_several_liquidus_crossings_are_summed_and_flagged():
    points = [(0, 20), (100, 150), (200, 200), (220, 230), (230, 210), (240, 240), (250, 240),
              (290, 160), (400, 50)]
    times, temps = sample(points)
    res = channel_stats(times, temps, WINDOW, 10.0)
    # 217 °C: up at 200 + 17/1.5, down at 220 + 13/2, up at 230 + 7/3, down at 250 + 23/2
    expected = (226.5 - (200 + 17 / 1.5)) + (261.5 - (230 + 7 / 3))
    assert res.stats["tal_s"] == pytest.approx(expected)
    assert res.evidence["n_tal_intervals"] == 2
    assert any("crossed 2 times" in n for n in res.notes)


def test_isolated_garbled_samples_are_skipped():
    times, temps = sample(TRAPEZOID)
    holed = [None if i % 37 == 5 else x for i, x in enumerate(temps)]
    flags = ["garbled" if x is None else None for x in holed]
    res = channel_stats(times, holed, WINDOW, 10.0, flags=flags)
    assert res.valid
    for stat, value in HAND.items():
        assert res.stats[stat] == pytest.approx(value, abs=0.02), stat
    assert any("skipped" in n for n in res.notes)


def test_run_starting_above_25_has_no_25_to_peak():
    points = [(0, 30), (100, 150), (200, 200), (240, 240), (250, 240), (290, 160), (400, 50)]
    times, temps = sample(points)
    res = channel_stats(times, temps, WINDOW, 10.0)
    assert res.valid and res.stats["t25_to_peak_s"] is None
    assert res.evidence["missing"]["t25_to_peak_s"] == "the run starts at 30 °C, above 25 °C"
    assert all(res.stats[s] is not None for s in STATS if s != "t25_to_peak_s")
    # algorithm 1 made this INVALID; now the PWI comes from what was measured
    window = Window("W", 1, 217, 150, 200, 217, limits={"t25_to_peak_s": (0.0, 480.0),
                                                        "peak_C": (230.0, 250.0)})
    result = analyse(recording({"TC1": temps}, times), window)
    assert result.verdict == "PASS" and result.pwi == pytest.approx(0.0)
    assert result.channels[0].pwi == {"peak_C": pytest.approx(0.0)}
    (problem,) = result.problems
    assert problem == {"code": "stat_not_measured", "severity": "info", "channel": "TC1",
                       "stat": "t25_to_peak_s",
                       "message": "TC1: Time 25 °C to peak not measured: the run starts at "
                                  "30 °C, above 25 °C"}
    assert problem["message"].msgid == "{channel}: {stat} not measured: {why}"


def test_a_run_where_nothing_of_the_window_is_measured_is_invalid():
    points = [(0, 30), (100, 150), (200, 200), (240, 240), (250, 240), (290, 160), (400, 50)]
    times, temps = sample(points)
    window = Window("ONLY25", 1, 217, 150, 200, 217, limits={"t25_to_peak_s": (0.0, 480.0)})
    result = analyse(recording({"TC1": temps}, times), window)
    assert result.verdict == "INVALID" and result.pwi is None
    assert [p["code"] for p in result.problems] == ["stat_not_measured", "nothing_measured"]
    assert "ONLY25" in result.problems[1]["message"]


def test_liquidus_never_reached_is_invalid():
    points = [(0, 20), (100, 150), (200, 200), (240, 210), (250, 210), (400, 50)]
    times, temps = sample(points)
    result = analyse(recording({"TC1": temps}, times), WINDOW)
    ch = result.channels[0]
    assert ch.valid and ch.stats["tal_s"] == 0.0 and ch.stats["cool_rate_Cps"] is None
    assert result.verdict == "INVALID" and result.pwi is None
    assert [p["code"] for p in result.problems] == ["liquidus_not_reached"]


def test_short_run_has_no_slopes():
    times, temps = sample([(0, 20), (5, 30)])
    res = channel_stats(times, temps, WINDOW, 10.0)
    assert res.stats["max_rise_Cps"] is None and res.stats["max_fall_Cps"] is None
    assert res.evidence["missing"]["max_rise_Cps"] == \
        "the run is shorter than the 10 s slope window"


# --- statistics that cannot be measured, channels not on the board --------------------------


def conveyor(start=30.0, cool_s=76):
    """A conveyor-oven curve inside SAC305's window, logged from `start` °C, cooled cool_s s.

    80 s ramp to 150 °C, soak 150 -> 200 °C in 90 s, 200 -> 241 °C in 60 s (0.683 °C/s), 15 s at
    the peak, then 2.5 °C/s down. By hand: TAL 254.6 - (170 + 17 x 60/41) = 59.72 s; within 5 °C
    of peak 247 - (170 + 36 x 60/41) = 24.32 s (SAC305's worst: PWI 56.8 %, a PASS).
    """
    return [(0, start), (80, 150), (170, 200), (230, 241), (245, 241),
            (245 + cool_s, 241 - 2.5 * cool_s)]


SAC305 = load_windows()["SAC305"]
TAL_HAND, WITHIN5_HAND = 254.6 - (170 + 17 * 60 / 41), 247 - (170 + 36 * 60 / 41)


def two_tcs(points):
    """TC1 on the curve and TC2 2 °C cooler all along."""
    times, temps = sample(points)
    return recording({"TC1": temps, "TC2": [x - 2.0 for x in temps]}, times)


def not_measured(result):
    """(channel, stat, message) of every statistic not measured."""
    return [(p["channel"], p["stat"], p["message"]) for p in result.problems
            if p["code"] == "stat_not_measured"]


def test_conveyor_run_logged_from_30_C_is_judged_on_what_was_measured():
    late = analyse(two_tcs(conveyor(30.0)), SAC305)
    early = analyse(two_tcs(conveyor(20.0)), SAC305)  # the same oven, logger on at 20 °C
    for result in (late, early):
        tc1 = result.channels[0].stats
        assert tc1["peak_C"] == 241.0 and tc1["soak_s"] == pytest.approx(90.0)
        assert tc1["tal_s"] == pytest.approx(TAL_HAND)
        assert tc1["t_within5_s"] == pytest.approx(WITHIN5_HAND)
        assert tc1["cool_rate_Cps"] == pytest.approx(2.5) and tc1["max_fall_Cps"] == -2.5
        assert result.delta_t_peak_C == pytest.approx(2.0)
        assert result.verdict == "PASS"
        assert result.pwi == pytest.approx(abs(WITHIN5_HAND - 30) / 10 * 100)
        assert result.worst == ("TC2", "t_within5_s")  # TC2's curve is TC1's, 2 °C lower
    assert early.channels[0].stats["t25_to_peak_s"] == pytest.approx(230 - 5 / 1.625)
    assert early.problems == []
    assert late.channels[0].stats["t25_to_peak_s"] is None
    assert set(late.channels[0].pwi) == set(STATS) - {"t25_to_peak_s"}
    assert not_measured(late) == [
        (ch, "t25_to_peak_s", f"{ch}: Time 25 °C to peak not measured: the run starts at "
                              f"{start:g} °C, above 25 °C")
        for ch, start in (("TC1", 30), ("TC2", 28))]
    assert [p["severity"] for p in late.problems] == ["info", "info"]


def test_run_ending_before_it_cooled_to_the_cool_to_level_has_no_cooling_rate():
    window = dataclasses.replace(SAC305, cool_to_C=100.0)  # "down to 100 °C" (note §1 option)
    result = analyse(two_tcs(conveyor(20.0, cool_s=48)), window)  # ends at 121 °C
    tc1 = result.channels[0]
    assert tc1.stats["cool_rate_Cps"] is None and tc1.stats["max_fall_Cps"] == -2.5
    assert "cool_rate_Cps" not in tc1.pwi
    assert not_measured(result)[0] == (
        "TC1", "cool_rate_Cps",
        "TC1: Cooling rate not measured: the run ends at 121 °C, before cooling to 100 °C")
    assert result.verdict == "PASS" and result.pwi == pytest.approx(56.8, abs=0.1)
    full = analyse(two_tcs(conveyor(20.0, cool_s=76)), window)  # cooled to 51 °C
    assert full.channels[0].stats["cool_rate_Cps"] == pytest.approx(2.5)  # 141 °C in 56.4 s


def test_run_ending_above_the_liquidus_has_no_tal_nor_cooling_rate():
    times, temps = sample([(0, 20), (80, 150), (170, 200), (230, 241), (245, 241), (249, 231)])
    result = analyse(recording({"TC1": temps}, times), SAC305)
    missing = {stat: msg for _, stat, msg in not_measured(result)}
    assert set(missing) == {"tal_s", "cool_rate_Cps", "delta_t_peak_C"}
    assert missing["tal_s"].endswith("the run ends above the liquidus 217 °C")
    assert result.verdict in ("PASS", "WARN", "FAIL") and result.pwi is not None


def test_run_starting_above_the_liquidus_is_judged_on_peak_slopes_and_time_near_peak():
    times, temps = sample([(0, 225), (15, 241), (30, 241), (106, 51)])
    result = analyse(recording({"TC1": temps}, times), SAC305)
    ch = result.channels[0]
    assert ch.valid and ch.stats["peak_C"] == 241.0
    missing = {stat: msg for _, stat, msg in not_measured(result)}
    assert set(missing) == {"tal_s", "soak_s", "t25_to_peak_s", "delta_t_peak_C"}
    assert missing["tal_s"] == ("TC1: Time above liquidus not measured: the run starts above "
                                "the liquidus 217 °C")
    assert missing["soak_s"] == "TC1: Soak 150–200 °C not measured: the run starts above 200 °C"
    assert set(ch.pwi) == {"peak_C", "max_rise_Cps", "max_fall_Cps", "t_within5_s",
                           "cool_rate_Cps"}
    assert ch.stats["t_within5_s"] == pytest.approx(30 - 11 * 15 / 16 + 5 / 2.5)
    assert result.verdict != "INVALID" and result.pwi is not None


@pytest.mark.parametrize("fault", ["open", "spike", "gap"])
def test_bad_data_on_one_product_thermocouple_makes_the_run_invalid(fault):
    times, temps = sample(conveyor(20.0))
    bad, flags = list(temps), [None] * len(times)
    if fault == "open":
        bad[400:420] = [1023.75] * 20
    elif fault == "spike":
        bad[300] += 40.0
    else:
        bad[200:240] = [None] * 40
        flags[200:240] = ["missing"] * 40
    rec = recording({"TC1": temps, "TC2": bad}, times, {"TC2": flags})
    result = analyse(rec, SAC305)
    assert result.verdict == "INVALID" and result.pwi is None
    (problem,) = [p for p in result.problems if p["severity"] == "error"]
    assert problem["code"] == "channel_invalid" and problem["channel"] == "TC2"
    word = {"open": "thermocouple open", "spike": "spike at 150.0 s", "gap": "no good samples"}
    assert word[fault] in problem["message"]
    assert result.channels[0].valid and not result.channels[1].valid


def test_setpoint_average_and_cold_junction_are_not_judged_nor_in_delta_t():
    rec = two_tcs(conveyor(20.0))
    tc1 = rec.temps["TC1"]
    plain = analyse(rec, SAC305)
    rec.channels += ["Set", "Actual", "ColdJ", "Air"]
    rec.temps.update(Set=[min(260.0, 30.0 + t) for t in rec.times],  # a setpoint far hotter
                     Actual=[x - 1.0 for x in tc1], ColdJ=[31.0] * len(tc1),
                     Air=[x + 15.0 for x in tc1])
    rec.roles.update(Set="setpoint", Actual="average", ColdJ="cold_junction", Air="ambient")
    for ch in ("Set", "Actual", "ColdJ", "Air"):
        rec.flags[ch] = [None] * len(tc1)
    result = analyse(rec, SAC305)
    assert result.delta_t_peak_C == plain.delta_t_peak_C == pytest.approx(2.0)
    assert (result.pwi, result.worst, result.verdict) == (plain.pwi, plain.worst, "PASS")
    assert result.problems == plain.problems == []
    d = result.to_dict()
    assert [(c["name"], c["role"]) for c in d["channels"]] == [
        ("TC1", "product"), ("TC2", "product"), ("Set", "setpoint"), ("Actual", "average"),
        ("ColdJ", "cold_junction"), ("Air", "ambient")]
    assert all(c["pwi"] == {} for c in d["channels"][2:])
    assert d["channels"][2]["stats"]["peak_C"] == 260.0  # measured, shown, never judged


def test_statistics_are_named_as_profile_engineers_say_them():
    names = reflow.stat_names(100.0, 150.0)
    assert [names[s] for s in reflow.ALL_STATS] == [
        "Peak", "Time above liquidus", "Soak 100–150 °C", "Max rising slope",
        "Max falling slope", "Time within 5 °C of peak", "Cooling rate", "Time 25 °C to peak",
        "ΔT across the board"]
    assert names["soak_s"].msgid == "Soak {low:g}–{high:g} °C"  # translated with its band
    assert set(reflow.UNITS) == set(reflow.ALL_STATS)
    windows = load_windows()
    times, temps = sample([(0, 30), (100, 150), (200, 200), (240, 240), (250, 240), (290, 160),
                           (400, 50)])
    result = analyse(recording({"TC1": temps}, times), windows["Sn63Pb37"])
    assert any("Soak 100–150 °C" in p["message"] for p in result.problems)  # peak 240 > 235


# --- data quality ---------------------------------------------------------------------------


def test_open_thermocouple_is_invalid_with_its_span_and_no_false_peak():
    times, temps = sample(TRAPEZOID)
    flags = [None] * len(times)
    for i, t in enumerate(times):
        if 300.0 <= t <= 320.0:
            temps[i] = 1023.75
            flags[i] = "open" if i % 2 else None  # half carry the flag, all read full scale
    res = channel_stats(times, temps, WINDOW, 10.0, flags=flags)
    assert not res.valid
    assert res.reason.startswith("thermocouple open from 300.0 s to 320.0 s")
    assert all(v is None for v in res.stats.values())
    result = analyse(recording({"TC1": temps}, times, {"TC1": flags}), WINDOW)
    assert result.verdict == "INVALID" and result.pwi is None
    assert result.problems == [{"code": "channel_invalid", "severity": "error",
                                "channel": "TC1", "stat": None,
                                "message": "TC1: " + result.channels[0].reason}]
    assert all(x < 1000 for x in numbers_in(result.to_dict()))


def test_open_samples_already_removed_by_the_parser_still_count():
    times, temps = sample(TRAPEZOID)
    flags = ["open" if 100 <= t < 101 else None for t in times]
    temps = [None if f else x for x, f in zip(temps, flags, strict=True)]
    res = channel_stats(times, temps, WINDOW, flags=flags)
    assert not res.valid and res.reason.startswith("thermocouple open from 100.0 s to 100.5 s")


def test_spike_is_invalid_but_a_real_step_is_not():
    times, temps = sample(TRAPEZOID)
    spiked = list(temps)
    spiked[300] += 30.0  # t = 150 s
    res = channel_stats(times, spiked, WINDOW, 10.0)
    assert not res.valid and res.reason.startswith("spike at 150.0 s")
    stepped = [x - 22.0 if t >= 320 else x for t, x in zip(times, temps, strict=True)]
    res = channel_stats(times, stepped, WINDOW, 1.0)
    assert res.valid
    assert res.stats["max_fall_Cps"] == pytest.approx(-(22.0 + 1.0))  # the step plus 1 °C/s


def test_gap_in_time_is_invalid():
    times, temps = sample(TRAPEZOID)
    keep = [i for i, t in enumerate(times) if not 120 < t < 140]
    res = channel_stats([times[i] for i in keep], [temps[i] for i in keep], WINDOW, 10.0)
    assert not res.valid
    assert res.reason.startswith("no good samples from 120.0 s to 140.0 s (gap 20.0 s > 2.5 s)")


def test_run_of_missing_samples_is_a_gap():
    times, temps = sample(TRAPEZOID)
    holed = [None if 50 <= t <= 60 else x for t, x in zip(times, temps, strict=True)]
    res = channel_stats(times, holed, WINDOW, 10.0)
    assert not res.valid and "from 49.5 s to 60.5 s" in res.reason


def test_out_of_range_reading_is_invalid():
    times, temps = sample(TRAPEZOID)
    temps[100:106] = [925.5] * 6
    res = channel_stats(times, temps, WINDOW, 10.0)
    assert not res.valid and res.reason.startswith("reading 925.5 °C out of range")


# --- PWI and verdict ------------------------------------------------------------------------


def test_pwi_formula_on_hand_values():
    assert pwi_of(188.0, 180.0, 220.0) == pytest.approx(-60.0)  # Wikipedia's example
    assert pwi_of(200.0, 180.0, 220.0) == 0.0
    assert pwi_of(220.0, 180.0, 220.0) == 100.0
    assert pwi_of(180.0, 180.0, 220.0) == -100.0
    assert pwi_of(1.1, 0.0, 3.0) == pytest.approx(-100 * 0.4 / 1.5)
    assert pwi_of(-4.95, -6.0, 0.0) == pytest.approx(-65.0)
    with pytest.raises(ValueError):
        pwi_of(1.0, 2.0, 2.0)


@given(lo=st.floats(-1e4, 1e4, allow_nan=False), width=st.floats(1e-3, 1e4, allow_nan=False))
def test_pwi_is_zero_at_mid_and_100_at_either_bound(lo, width):
    hi = lo + width
    if not hi > lo:
        return
    assert pwi_of((lo + hi) / 2, lo, hi) == pytest.approx(0.0, abs=1e-6)
    assert pwi_of(hi, lo, hi) == pytest.approx(100.0, rel=1e-6)
    assert pwi_of(lo, lo, hi) == pytest.approx(-100.0, rel=1e-6)


@pytest.mark.parametrize("lo,hi,pwi,verdict", [
    (230.0, 250.0, 0.0, "PASS"),
    (223.1, 243.1, 69.0, "PASS"),
    (223.0, 243.0, 70.0, "WARN"),
    (220.1, 240.1, 99.0, "WARN"),
    (220.0, 240.0, 100.0, "FAIL"),
    (200.0, 230.0, 10 / 15 * 100 + 100, "FAIL"),
])
def test_verdict_thresholds(lo, hi, pwi, verdict):
    times, temps = sample(TRAPEZOID)  # peak 240 °C
    window = Window("W", 1, 217, 150, 200, 217, limits={"peak_C": (lo, hi)})
    result = analyse(recording({"TC1": temps}, times), window)
    assert result.pwi == pytest.approx(pwi)
    assert result.verdict == verdict
    assert result.worst == ("TC1", "peak_C")
    codes = [p["code"] for p in result.problems]
    assert codes == {"PASS": [], "WARN": ["pwi_warn"], "FAIL": ["out_of_window"]}[verdict]


def test_warn_threshold_and_slope_window_can_be_overridden():
    times, temps = sample(TRAPEZOID)
    window = Window("W", 1, 217, 150, 200, 217, limits={"peak_C": (224.0, 244.0)})  # PWI 60
    rec = recording({"TC1": temps}, times)
    assert analyse(rec, window).verdict == "PASS"
    result = analyse(rec, window, slope_window_s=1.0, warn_pct=50)
    assert result.verdict == "WARN" and result.warn_pct == 50 and result.slope_window_s == 1.0


def test_worst_of_several_channels_and_statistics_and_board_delta_t():
    times, a = sample(TRAPEZOID)
    b = [x + 4.0 for x in a]  # a hotter spot: 4 °C higher all along
    window = Window("W", 2, 217, 150, 200, 217, limits={
        "peak_C": (230.0, 250.0), "tal_s": (40.0, 80.0), "delta_t_peak_C": (-10.0, 10.0)})
    result = analyse(recording({"TC1": a, "TC2": b}, times), window)
    assert result.delta_t_peak_C == pytest.approx(4.0)
    assert result.delta_t_pwi == pytest.approx(40.0)
    pwi_tc1 = result.channels[0].pwi
    assert pwi_tc1["peak_C"] == pytest.approx(0.0)
    assert pwi_tc1["tal_s"] == pytest.approx((44.5 - 60) / 20 * 100)
    tal_b = result.channels[1].stats["tal_s"]  # TC2 crosses 217 °C 4 s earlier, 2 s later
    assert tal_b == pytest.approx(44.5 + 4 + 2)
    assert result.pwi == pytest.approx(abs(44.5 - 60) / 20 * 100)  # 77.5: TC1's TAL
    assert result.worst == ("TC1", "tal_s") and result.verdict == "WARN"


def test_to_dict_is_the_api_shape():
    times, temps = sample(TRAPEZOID)
    result = analyse(recording({"TC1": temps}, times), WINDOW)
    d = result.to_dict()
    json.dumps(d)
    # algorithm 2 adds algorithm_version and the window's levels (soak band named on screen)
    assert set(d) == {"verdict", "pwi", "slope_window_s", "window", "channels",
                      "delta_t_peak_C", "problems", "warn_pct", "algorithm_version"}
    assert d["verdict"] == "PASS" and d["pwi"] == 0.0 and d["slope_window_s"] == 10.0
    assert d["algorithm_version"] == reflow.ALGORITHM_VERSION == "2"
    assert d["window"] == {"name": "TEST", "version": 3, "limits": {"peak_C": [230.0, 250.0]},
                           "liquidus_C": 217.0, "soak_low_C": 150.0, "soak_high_C": 200.0,
                           "cool_to_C": 217.0}
    (ch,) = d["channels"]
    assert set(ch) == {"name", "role", "valid", "reason", "stats", "pwi", "notes"}
    assert list(ch["stats"]) == list(STATS) and len(STATS) == 8
    assert ch["stats"]["tal_s"] == 44.5 and ch["pwi"] == {"peak_C": 0.0}
    assert d["delta_t_peak_C"] is None  # one product thermocouple


def test_no_product_channel_is_invalid():
    times, temps = sample(TRAPEZOID)
    rec = recording({"Air": temps}, times)
    rec.roles["Air"] = "ambient"
    result = analyse(rec, WINDOW)
    assert result.verdict == "INVALID" and result.problems[0]["code"] == "no_product_channel"
    assert result.channels[0].role == "ambient"


def test_end_to_end_from_csv_text():
    times, temps = sample(TRAPEZOID)
    text = "Time (s),TC1,TC2\n" + "".join(
        f"{t:.1f},{x:.3f},{x + 1:.3f}\n" for t, x in zip(times, temps, strict=True))
    result = analyse(parse(text), load_windows()["SAC305"])
    assert [c.name for c in result.channels] == ["TC1", "TC2"]
    assert result.delta_t_peak_C == pytest.approx(1.0)
    assert result.verdict == "FAIL"  # TAL 44.5 s is below SAC305's 50-70 s
    assert result.channels[0].pwi["tal_s"] == pytest.approx(-155.0, abs=0.1)


def test_end_to_end_from_a_t962_serial_log():
    times, temps = sample(TRAPEZOID, dt=0.25)
    header = "# Time,  Temp0, Temp1, Temp2, Temp3,  Set,Actual, Heat, Fan,  ColdJ, Mode"
    rows = [f"{t:6.1f},  {x:5.1f}, {x + 1:5.1f}, {0:5.1f}, {0:5.1f},  {round(x):3d}, "
            f"{x + 0.5:5.1f},  {0:3d}, {0:3d},  {31.0:5.1f}, REFLOW"
            for t, x in zip(times, temps, strict=True)]
    text = "".join("\r\n" + ln for ln in ["Starting reflow with profile: T", header, *rows,
                                          "Reflow done"])
    rec = parse(text)
    assert rec.times == times  # the 0.25 s tick restored from "%6.1f"
    result = analyse(rec, WINDOW)
    names = [(c.name, c.role) for c in result.channels]
    assert names == [("TC0", "product"), ("TC1", "product"), ("Set", "setpoint"),
                     ("Actual", "average"), ("ColdJ", "cold_junction")]
    tc0 = result.channels[0].stats
    assert tc0["peak_C"] == 240.0
    assert tc0["tal_s"] == pytest.approx(HAND["tal_s"], abs=0.1)  # temperatures kept to 0.1 °C
    assert tc0["max_rise_Cps"] == pytest.approx(1.3, abs=0.02)
    assert result.delta_t_peak_C == pytest.approx(1.0)
    assert result.verdict == "PASS" and result.pwi == pytest.approx(10.0)  # TC1 peaks at 241


# --- process windows ------------------------------------------------------------------------


def test_every_window_in_pastes_toml_loads_with_ordered_limits():
    windows = load_windows()
    assert {"SAC305", "Sn63Pb37", "JSTD020-PbFree"} <= set(windows)
    raw = tomllib.loads(reflow.DEFAULT_WINDOWS
                        .read_text(encoding="utf-8"))
    assert set(raw["windows"]) == set(windows)
    for name, window in windows.items():
        assert window.name == name and isinstance(window.version, int)
        assert set(STATS) <= set(window.limits), name  # every per-channel statistic is judged
        assert set(window.limits) <= set(reflow.ALL_STATS)
        for stat, (lo, hi) in window.limits.items():
            assert lo < hi, (name, stat)
        assert window.soak_low_C < window.soak_high_C < window.liquidus_C
        assert window.slope_window_s == 10.0 and window.warn_pct == 70.0
    assert windows["SAC305"].liquidus_C == 217.0 and windows["Sn63Pb37"].liquidus_C == 183.0
    assert windows["JSTD020-PbFree"].limits["max_rise_Cps"] == (0.0, 3.0)
    assert windows["JSTD020-PbFree"].limits["max_fall_Cps"] == (-6.0, 0.0)


def test_a_bad_window_file_is_refused(tmp_path):
    bad = tmp_path / "pastes.toml"
    bad.write_text('[windows.X]\nversion = 1\nliquidus_C = 217\nsoak_low_C = 150\n'
                   'soak_high_C = 200\ncool_to_C = 217\n[windows.X.limits]\npeak_C = [245, 235]\n')
    with pytest.raises(ValueError, match="window 'X': peak_C: low limit 245 is not below"):
        load_windows(bad)
    bad.write_text('[windows.X]\nversion = 1\nliquidus_C = 217\nsoak_low_C = 150\n'
                   'soak_high_C = 200\ncool_to_C = 217\n[windows.X.limits]\npeak = [1, 2]\n')
    with pytest.raises(ValueError, match="unknown statistic 'peak'"):
        load_windows(bad)


# --- real recordings ------------------------------------------------------------------------


def raw_samples(path):
    """(time s, °C) of a pfrapp log read independently of the parser."""
    rows = [line.split(",") for line in path.read_text().splitlines()[3:]]
    return [int(r[1]) / 1000 for r in rows], [float(r[2]) for r in rows]


def brute_force(times, temps, level, h=0.01):
    """Seconds with T >= level by resampling the linear interpolation every h seconds."""
    total, j = 0.0, 0
    for k in range(int(times[-1] / h)):
        t = (k + 0.5) * h
        while times[j + 1] < t:
            j += 1
        f = (t - times[j]) / (times[j + 1] - times[j])
        if temps[j] + f * (temps[j + 1] - temps[j]) >= level:
            total += h
    return total


def brute_slopes(times, temps, w):
    """Max and min of (T(t + w) - T(t)) / w over every pair of samples exactly w apart."""
    at = {round(t * 1000): x for t, x in zip(times, temps, strict=True)}
    slopes = [(at[k + round(w * 1000)] - x) / w for k, x in at.items() if k + round(w * 1000) in at]
    return max(slopes), min(slopes)


@needs_first
def test_real_first_pcb_matches_the_readme_and_a_brute_force_check():
    rec = parse(FIRST.read_text())
    windows = load_windows()
    results = {w: analyse(rec, windows["SAC305"], slope_window_s=w) for w in (1, 10, 20)}
    ch = results[10].channels[0]
    assert ch.name == "Oven" and ch.valid, ch.reason  # the 22 °C step at 557.5 s is no spike
    s = ch.stats
    # README "My check"
    assert s["peak_C"] == 237.0 and ch.evidence["peak_t"] == 537.5
    assert s["tal_s"] == pytest.approx(53, abs=1)
    assert s["soak_s"] == pytest.approx(95, abs=1)
    assert s["t_within5_s"] == pytest.approx(26, abs=1)
    assert s["max_rise_Cps"] == pytest.approx(1.10, abs=0.05)
    assert s["max_fall_Cps"] == pytest.approx(-4.95, abs=0.05)
    one = results[1].channels[0].stats
    assert one["max_rise_Cps"] == pytest.approx(2.75, abs=0.05)
    # README rounds it to -25: the drop is 227.25 -> 202.00 °C over 557.0 -> 558.0 s
    assert one["max_fall_Cps"] == pytest.approx(-25.25, abs=0.05)
    assert results[20].channels[0].stats["max_fall_Cps"] == pytest.approx(-3.24, abs=0.05)
    tal183 = analyse(rec, windows["Sn63Pb37"]).channels[0].stats["tal_s"]
    assert tal183 == pytest.approx(99, abs=1)

    # independently, from the raw samples
    times, temps = raw_samples(FIRST)
    assert s["peak_C"] == max(temps) and times[temps.index(max(temps))] == 537.5
    assert s["tal_s"] == pytest.approx(brute_force(times, temps, 217.0), abs=0.03)
    assert tal183 == pytest.approx(brute_force(times, temps, 183.0), abs=0.03)
    assert s["t_within5_s"] == pytest.approx(brute_force(times, temps, 232.0), abs=0.03)
    for w, res in results.items():
        up, down = brute_slopes(times, temps, w)
        assert res.channels[0].stats["max_rise_Cps"] == pytest.approx(up, abs=1e-9)
        assert res.channels[0].stats["max_fall_Cps"] == pytest.approx(down, abs=1e-9)
    rising = next(i for i, x in enumerate(temps) if x >= 200.0)
    last_below = max(i for i in range(rising) if temps[i] < 150.0)
    assert times[last_below] <= ch.evidence["soak_start_t"] <= times[last_below + 1]
    assert times[rising - 1] <= ch.evidence["soak_end_t"] <= times[rising]
    assert results[10].slope_window_s == 10 and results[20].slope_window_s == 20
    # judged on its one oven probe; the logger's ambient and setpoint columns are not on the board
    judged = results[10]
    assert [(c.name, c.role) for c in judged.channels] == [
        ("Oven", "product"), ("Ambient", "ambient"), ("Reference", "setpoint")]
    assert judged.verdict != "INVALID" and judged.pwi is not None
    assert judged.worst[0] == "Oven" and all(not c.pwi for c in judged.channels[1:])


@needs_second
def test_real_second_pcb_is_invalid_because_the_thermocouple_opened():
    rec = parse(SECOND.read_text())
    result = analyse(rec, load_windows()["SAC305"])
    oven = result.channels[0]
    assert result.verdict == "INVALID" and result.pwi is None
    assert not oven.valid
    assert oven.reason.startswith("thermocouple open from 617.0 s to 678.5 s")
    assert result.problems[0]["code"] == "channel_invalid"
    assert "617.0 s to 678.5 s" in result.problems[0]["message"]
    d = result.to_dict()
    assert all(v is None for v in d["channels"][0]["stats"].values())
    assert not any(x >= 300 for x in numbers_in(d["channels"][0]["stats"]))
    assert not math.isnan(sum(numbers_in(d)))
