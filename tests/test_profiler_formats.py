"""Profiler recording parsers: T-962 serial log, pfrapp logger, generic CSV, detection, bad data."""

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.devices import profiler
from station.devices.profiler import UnknownFormat, detect_format, parse
from station.readiness import reflow

REAL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "reflow"
FIRST = REAL / "pfrapp_2024-10-30_profile_controlled4_first_pcb.log"
SECOND = REAL / "pfrapp_2024-12-23_profile_controlled_second_pcb_cortex.log"
STATS_CSV = REAL / "production_profile_stats_318_boards.csv"
needs_real = pytest.mark.skipif(
    not FIRST.exists() or not SECOND.exists(),
    reason=f"real profiler recordings not present at {REAL} (licensed data, kept out of the repo)")

T962_HEADER = "# Time,  Temp0, Temp1, Temp2, Temp3,  Set,Actual, Heat, Fan,  ColdJ, Mode"


def t962_row(t, tc0, tc1, tc2=0.0, tc3=0.0, mode="REFLOW", setp=150, cj=28.5):
    """One T-962 row exactly as the firmware's printf formats it."""
    actual = (tc0 + tc1) / 2
    return (f"{t:6.1f},  {tc0:5.1f}, {tc1:5.1f}, {tc2:5.1f}, {tc3:5.1f},  {setp:3d}, "
            f"{actual:5.1f},  {120:3d}, {30:3d},  {cj:5.1f}, {mode}")


def t962_log(n=40, extra_lines=None):
    """A T-962 capture: STANDBY rows, start line, REFLOW rows at 4 Hz, done, STANDBY again."""
    lines = [T962_HEADER]
    lines += [t962_row(0.0, 30.0, 31.0, mode="STANDBY", setp=50) for _ in range(3)]
    lines += ["Starting reflow with profile: NC-31 low-temp lead-free", T962_HEADER]
    for i in range(n):
        t = i * 0.25
        lines.append(t962_row(float(f"{t:.1f}"), 40.0 + 2 * t, 41.0 + 2 * t))
    lines += extra_lines or []
    lines += ["Reflow done", T962_HEADER]
    lines += [t962_row(i * 0.25, 60.0, 61.0, mode="STANDBY", setp=50) for i in range(3)]
    # the firmware sends every newline as CRLF *before* the line
    return "".join("\r\n" + line for line in lines)


PFRAPP = (
    "Sample time (ms): 500\n"
    "Maximum runtime (s): 720\n"
    "Index,Time (ms),Oven temperature (C),Ambient temperature (C),PWM controller (percent),"
    "Thermocouple open,Reference temperature (C)\n"
    "00000,000000000,022.75,20.02,100.00,0,050.00\n"
    "00001,000000500,023.00,20.02,082.26,0,050.00\n"
    "00002,000001000,1023.75,20.01,000.00,4,050.00\n"
    "00003,000001500,1023.75,20.01,000.00,0,050.00\n"
    "00004,000002000,024.25,20.00,000.00,4,050.00\n"
    "00005,000002500,024.50,20.00,050.00,0,050.00\n"
)


# --- detection ------------------------------------------------------------------------------


def test_detects_every_format():
    assert detect_format(t962_log()) == "t962"
    assert detect_format(PFRAPP) == "pfrapp"
    assert detect_format("Time (s),TC1,TC2\n0.0,25.0,25.5\n0.5,25.5,26.0\n") == "csv"
    assert detect_format("time;TC1\n0;25,0\n1;25,5\n") == "csv"
    assert detect_format("Time\tTC1\n0\t25\n1\t26\n") == "csv"


@pytest.mark.parametrize("text", ["hello world\x00\x07\xff garbage", "just one line",
                                  "1,2,3\n4,5,6\n", "name,value\nabc,def\n"])
def test_unknown_data_names_the_expected_formats_and_the_first_line(text):
    with pytest.raises(UnknownFormat) as info:
        parse(text)
    message = str(info.value)
    assert "T-962" in message and "pfrapp" in message and "CSV" in message
    first = text.splitlines()[0]
    assert first[:5] in message
    assert "\x00" not in message and "\x07" not in message  # made printable
    assert isinstance(info.value, ValueError)


def test_unknown_format_on_empty_text_and_unknown_format_name():
    with pytest.raises(UnknownFormat, match="empty"):
        parse("")
    with pytest.raises(UnknownFormat, match="use one of"):
        parse("Time,TC1\n0,1\n1,2\n", fmt="kic")


def test_garbage_first_line_is_escaped_in_the_message():
    with pytest.raises(UnknownFormat) as info:
        detect_format("\x1b[2J\x00bad\n")
    assert "\\x1b[2J\\x00bad" in str(info.value)


# --- T-962 ----------------------------------------------------------------------------------


def test_t962_keeps_the_reflow_rows_and_drops_absent_thermocouples():
    rec = parse(t962_log(n=40))
    assert rec.format == "t962"
    assert rec.channels == ["TC0", "TC1", "Set", "Actual", "ColdJ"]
    assert rec.roles == {"TC0": "product", "TC1": "product", "Set": "setpoint",
                         "Actual": "average", "ColdJ": "cold_junction"}
    assert rec.product_channels() == ["TC0", "TC1"]
    assert rec.meta["dropped_channels"] == ["TC2", "TC3"]
    assert any("TC2, TC3" in note for note in rec.meta["notes"])
    assert rec.meta["profile"] == "NC-31 low-temp lead-free"
    assert len(rec.times) == 40  # no STANDBY row before or after
    # printed %6.1f times (0.2, 0.5, 0.8) are restored to the firmware's 0.25 s tick
    assert rec.times[:5] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert rec.temps["TC0"][4] == pytest.approx(42.0)
    assert rec.temps["Set"][0] == 150.0
    assert rec.bad_lines == []
    assert rec.meta["extra"]["Heat"][0] == 120


def test_t962_cut_line_and_garbage_byte_are_marked_bad_and_the_run_goes_on():
    text = t962_log(n=8)
    lines = text.split("\r\n")
    idx = lines.index(t962_row(1.0, 42.0, 43.0))
    lines[idx] = lines[idx][:20]  # cut in half
    idx2 = lines.index(t962_row(1.5, 43.0, 44.0))
    lines[idx2] = lines[idx2].replace(" 43.0,", " 4\x8f3.0,", 1)  # garbage byte in TC0
    rec = parse("\r\n".join(lines))
    assert [n for n, _ in rec.bad_lines] == [idx + 1, idx2 + 1]
    assert "cut short" in rec.bad_lines[0][1]
    assert "TC0" in rec.bad_lines[1][1]
    assert len(rec.times) == 7  # the cut line is no sample; the garbled one is
    k = rec.times.index(1.5)
    assert rec.temps["TC0"][k] is None and rec.flags["TC0"][k] == "garbled"
    assert rec.temps["TC1"][k] == 44.0 and rec.flags["TC1"][k] is None
    assert rec.times[-1] == 1.75  # rows after the bad ones are kept


def test_t962_cooling_rows_continue_the_run_and_a_second_run_is_noted():
    lines = [T962_HEADER] + [t962_row(i * 0.25, 200.0 - i, 201.0 - i) for i in range(4)]
    lines += [t962_row(1.0 + i * 0.25, 196.0 - i, 197.0 - i, mode="COOLING") for i in range(4)]
    lines += ["Starting reflow with profile: again", T962_HEADER]
    lines += [t962_row(i * 0.25, 50.0, 51.0) for i in range(3)]
    rec = parse("\n".join(lines))
    assert len(rec.times) == 8 and rec.times[-1] == 1.75
    assert rec.meta["reflow_segments"] == 2
    assert any("first is used" in n for n in rec.meta["notes"])


def test_t962_absent_channel_is_kept_when_it_reads_something():
    rows = [t962_row(i * 0.25, 40.0, 41.0, tc2=39.0 + i) for i in range(5)]
    rec = parse("\n".join([T962_HEADER, *rows]))
    assert "TC2" in rec.channels and "TC3" not in rec.channels


def test_serial_run_start_and_end_lines():
    assert profiler.serial_line_starts_run("Starting reflow with profile: Lead-free\r\n")
    assert profiler.serial_line_starts_run("INFO: Starting reflow with profile: X")
    assert profiler.serial_line_ends_run("\r\nReflow done")
    assert profiler.serial_line_ends_run("INFO: Reflow done")
    assert profiler.serial_line_ends_run("Reflow interrupted by keypress")
    assert not profiler.serial_line_ends_run(t962_row(1.0, 40.0, 41.0))
    assert not profiler.serial_line_starts_run(T962_HEADER)
    assert not profiler.serial_line_starts_run("")


# --- pfrapp ---------------------------------------------------------------------------------


def test_pfrapp_open_flag_or_full_scale_reading_is_open():
    rec = parse(PFRAPP)
    assert rec.format == "pfrapp"
    assert rec.channels == ["Oven", "Ambient", "Reference"]
    assert rec.product_channels() == ["Oven"]
    assert rec.roles["Ambient"] == "ambient" and rec.roles["Reference"] == "setpoint"
    assert rec.times == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert rec.temps["Oven"] == [22.75, 23.0, None, None, None, 24.5]
    assert rec.flags["Oven"] == [None, None, "open", "open", "open", None]
    # row 3 reads 1023.75 with flag 0; row 4 reads 24.25 with flag 4: both open
    assert rec.temps["Ambient"][2:5] == [20.01, 20.01, 20.0]
    assert rec.meta["preamble"] == {"Sample time (ms)": "500", "Maximum runtime (s)": "720"}
    assert rec.meta["open_flagged_samples"] == 2


def test_pfrapp_missing_column_and_cut_line():
    lines = PFRAPP.splitlines()
    lines[4] = "00001,000000500,,20.02,082.26,0,050.00"  # oven value missing
    lines[6] = "00003,0000015"  # cut in half
    rec = parse("\n".join(lines))
    assert rec.temps["Oven"][1] is None and rec.flags["Oven"][1] == "missing"
    assert len(rec.times) == 5
    assert dict(rec.bad_lines)[5].startswith("missing value in column 3")
    assert dict(rec.bad_lines)[7].startswith("cut short")


# --- generic CSV ----------------------------------------------------------------------------


def csv_rows(sep=",", n=5, step=0.5, ms=False, decimal=".", header="Time (s)"):
    """A small CSV export: time then three thermocouples."""
    out = [sep.join([header, "TC1", "TC2", "TC3"])]
    for i in range(n):
        t = i * step * (1000 if ms else 1)
        vals = [f"{t:g}", f"{25 + i:.2f}", f"{26 + i:.2f}", f"{27 + i:.2f}"]
        out.append(sep.join(v.replace(".", decimal) for v in vals))
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("sep,decimal", [(",", "."), (";", "."), (";", ","), ("\t", "."),
                                         ("\t", ",")])
def test_csv_separators_and_decimal_comma(sep, decimal):
    rec = parse(csv_rows(sep=sep, decimal=decimal))
    assert rec.format == "csv"
    assert rec.channels == ["TC1", "TC2", "TC3"]
    assert rec.times == [0.0, 0.5, 1.0, 1.5, 2.0]
    assert rec.temps["TC3"] == [27.0, 28.0, 29.0, 30.0, 31.0]
    assert set(rec.roles.values()) == {"product"}


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_csv_line_endings(ending):
    rec = parse(csv_rows().replace("\n", ending))
    assert rec.times == [0.0, 0.5, 1.0, 1.5, 2.0] and rec.bad_lines == []


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r"])
def test_t962_and_pfrapp_line_endings(ending):
    t962 = parse(t962_log(n=8).replace("\r\n", ending))
    assert len(t962.times) == 8 and t962.bad_lines == []
    pf = parse(PFRAPP.replace("\n", ending))
    assert len(pf.times) == 6 and pf.bad_lines == []


def test_csv_milliseconds_from_the_header_and_by_the_step():
    rec = parse(csv_rows(header="Time (ms)", ms=True))
    assert rec.times == [0.0, 0.5, 1.0, 1.5, 2.0] and rec.meta["time_unit"] == "ms"
    rec = parse(csv_rows(header="timestamp", ms=True, step=0.1))  # step 100: milliseconds
    assert rec.times[:3] == [0.0, 0.1, 0.2] and rec.meta["time_unit"] == "ms"
    rec = parse(csv_rows(header="timestamp", step=1.0))  # step 1: seconds
    assert rec.times[-1] == 4.0 and rec.meta["time_unit"] == "s"
    rec = parse(csv_rows(header="Time [s]", step=2.0))
    assert rec.times[-1] == 8.0 and rec.meta["time_unit"] == "s"


@pytest.mark.parametrize("name,role", [
    ("Set", "setpoint"), ("Set point", "setpoint"), ("Target", "setpoint"),
    ("Reference (C)", "setpoint"), ("ColdJ", "cold_junction"), ("Cold junction", "cold_junction"),
    ("CJ", "cold_junction"), ("Actual", "average"), ("Avg", "average"), ("Average TC", "average"),
    ("Ambient", "ambient"), ("Air temp", "ambient"),
    ("TC1", "product"), ("Board top", "product"), ("U3 BGA", "product"), ("QFN centre", "product"),
])
def test_csv_column_roles_keep_the_oven_s_own_columns_off_the_board(name, role):
    text = f"Time (s),TC0,{name}\n0,25.0,30\n1,26.0,31\n2,27.5,32\n"
    rec = parse(text)
    assert rec.roles == {"TC0": "product", name: role}
    assert rec.product_channels() == ["TC0"] + ([name] if role == "product" else [])


def test_csv_time_column_found_by_name_index_and_text_columns_dropped():
    text = ("Index,Board TC,Time,Setpoint,Mode\n"
            "0,25.0,0.0,50,heat\n1,26.0,0.5,50,heat\n2,27.5,1.0,60,heat\n")
    rec = parse(text)
    assert rec.channels == ["Board TC", "Setpoint"]
    assert rec.roles == {"Board TC": "product", "Setpoint": "setpoint"}
    assert rec.times == [0.0, 0.5, 1.0]
    assert rec.meta["dropped_channels"] == ["Mode"]


def test_csv_clock_times_and_offset_start():
    text = "time,TC1\n00:01:00,25\n00:01:01,26\n00:01:02,27\n"
    rec = parse(text)
    assert rec.times == [0.0, 1.0, 2.0] and rec.meta["time_offset_s"] == 60.0


def test_csv_bad_lines_marked_and_parsing_goes_on():
    lines = csv_rows(n=6).splitlines()
    lines[2] = "0.5,26.00,,28.00"  # TC2 missing
    lines[3] = "1.0,27.00,2\x007.00,29.00"  # garbage byte in TC2
    lines[4] = "1.5,28.0"  # cut in half
    lines[5] = "0.8,29.00,30.00,31.00"  # time goes backwards
    rec = parse("\n".join(lines) + "\n")
    assert rec.times == [0.0, 0.5, 1.0, 2.5]
    assert rec.temps["TC2"] == [26.0, None, None, 31.0]
    assert rec.flags["TC2"] == [None, "missing", "garbled", None]
    assert rec.temps["TC1"] == [25.0, 26.0, 27.0, 30.0]
    reasons = dict(rec.bad_lines)
    assert set(reasons) == {3, 4, 5, 6}
    assert "missing" in reasons[3] and "garbled" in reasons[4]
    assert "cut short" in reasons[5] and "does not increase" in reasons[6]


def test_csv_open_and_nonfinite_readings():
    text = "Time,TC1,TC2\n0,25,26\n1,1023.75,27\n2,nan,28\n3,inf,29\n4,30,31\n"
    rec = parse(text)
    assert rec.temps["TC1"] == [25.0, None, None, None, 30.0]
    assert rec.flags["TC1"] == [None, "open", "garbled", "garbled", None]
    assert rec.temps["TC2"] == [26.0, 27.0, 28.0, 29.0, 31.0]


def test_chosen_columns():
    text = "A,t_ms,B,C,D\n9,0,25,1,30\n9,500,26,1,31\n9,1000,27,1,32\n"
    rec = parse(text, columns={"time": "t_ms", "channels": ["B", "D"], "time_unit": "ms"})
    assert rec.channels == ["B", "D"]
    assert rec.roles == {"B": "product", "D": "product"}
    assert rec.times == [0.0, 0.5, 1.0]
    assert rec.temps["D"] == [30.0, 31.0, 32.0]
    rec = parse(text, columns={"time": "t_ms", "channels": ["B", "C"], "time_unit": "s",
                               "roles": {"C": "ambient"}})
    assert rec.times == [0.0, 500.0, 1000.0] and rec.roles["C"] == "ambient"
    with pytest.raises(ValueError, match="not in the header"):
        parse(text, columns={"time": "t_ms", "channels": ["E"]})
    with pytest.raises(ValueError, match="time_unit"):
        parse(text, columns={"time": "t_ms", "channels": ["B"], "time_unit": "min"})


def test_bytes_and_bom_accepted():
    rec = parse(("\ufeff" + csv_rows()).encode("utf-8"))
    assert rec.channels == ["TC1", "TC2", "TC3"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=st.sampled_from(["t962", "pfrapp", "csv"]), data=st.data())
def test_damaged_text_never_breaks_parse_or_analyse(base, data):
    text = {"t962": t962_log(n=30), "pfrapp": PFRAPP, "csv": csv_rows(sep=";", n=20)}[base]
    chars = list(text)
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(chars) - 1))
        action = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        char = data.draw(st.sampled_from(list("0123456789.,;\t\r\n -:e\x00\xffREFLOW")))
        if action == "replace":
            chars[i] = char
        elif action == "delete":
            del chars[i:i + data.draw(st.integers(1, 30))]
        else:
            chars.insert(i, char)
    try:
        rec = parse("".join(chars))
    except ValueError:  # UnknownFormat is a ValueError
        return
    assert all(len(rec.temps[c]) == len(rec.times) == len(rec.flags[c]) for c in rec.channels)
    result = reflow.analyse(rec, reflow.load_windows()["SAC305"])
    assert result.verdict in reflow.VERDICTS
    result.to_dict()


# --- real recordings ------------------------------------------------------------------------


@needs_real
@pytest.mark.parametrize("path", [FIRST, SECOND], ids=["first_pcb", "second_pcb"])
def test_real_pfrapp_files(path):
    text = path.read_text()
    assert detect_format(text) == "pfrapp"
    rec = parse(text)
    assert len(rec.times) == 1441
    assert rec.product_channels() == ["Oven"]
    assert rec.times[-1] == 720.0
    assert rec.bad_lines == []


@needs_real
def test_real_second_file_open_by_flag_and_by_value():
    rec = parse(SECOND.read_text())
    flags = rec.flags["Oven"]
    assert rec.meta["open_flagged_samples"] == 111
    assert flags.count("open") == 119  # 111 flagged + 8 reading 1023.75 with flag 0
    assert rec.times[flags.index("open")] == 617.0
    assert max(v for v in rec.temps["Oven"] if v is not None) < 1000


@pytest.mark.skipif(not STATS_CSV.exists(), reason=f"real statistics table not present at {REAL}")
def test_real_statistics_table_is_not_a_recording():
    with pytest.raises(UnknownFormat):
        detect_format(STATS_CSV.read_text())
