"""Bench: parse + analyse a 12-thermocouple, 10-minute, 10 Hz reflow recording (72,000 samples).

Target: analysing it takes under 50 ms. Prints the median of several runs next to a floor measured
in the same run (one plain Python pass summing every sample) and the ratio to it. Then streams a
T-962 log through a pseudo-terminal at 115200 baud into the profiler's reader and counts the
lines that arrive, against a bare os.read loop on the same bytes (Linux: it needs a pty).
Run: .venv/bin/python bench/profile_analysis.py
"""

import math
import os
import random
import statistics
import sys
import threading
import time
import tty
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from station.devices import profiler  # noqa: E402
from station.devices.profiler_reader import ProfilerCapture  # noqa: E402
from station.devices.serial_lines import PortReader  # noqa: E402
from station.readiness import reflow  # noqa: E402

CHANNELS = 12
RATE_HZ = 10
DURATION_S = 600
RUNS = 15
TARGET_MS = 50.0
# Oven setpoint (time s, °C): preheat, soak, reflow spike, cooling; straight lines in between.
SETPOINT = [(0, 25), (80, 150), (170, 185), (225, 245), (258, 245), (295, 100), (600, 40)]


def setpoint(t: float) -> float:
    """The oven air temperature the boards see at time t."""
    for (t0, a), (t1, b) in zip(SETPOINT, SETPOINT[1:], strict=False):
        if t <= t1:
            return a + (b - a) * (t - t0) / (t1 - t0)
    return SETPOINT[-1][1]


def curves(seed: int = 7) -> tuple[list[float], list[list[float]]]:
    """Times and 12 board thermocouple curves: first-order lags with slight offsets and noise."""
    rng = random.Random(seed)
    dt = 1.0 / RATE_HZ
    n = DURATION_S * RATE_HZ
    times = [round(i * dt, 1) for i in range(n)]
    air = [setpoint(t) for t in times]
    out = []
    for k in range(CHANNELS):
        tau = 10.0 + 0.6 * k  # heavier parts lag more
        gain = 1.0 - 0.0015 * k  # and peak a little lower
        alpha = 1.0 - math.exp(-dt / tau)
        temp, col = 22.0 + 0.1 * k, []
        for a in air:
            temp += alpha * (25.0 + gain * (a - 25.0) - temp)
            col.append(round((temp + rng.gauss(0.0, 0.08)) * 4) / 4)  # MAX-style 0.25 °C steps
        out.append(col)
    return times, out


def csv_text(times, cols) -> str:
    """The recording as a CSV export: time in seconds, one column per thermocouple."""
    head = "Time (s)," + ",".join(f"TC{k + 1}" for k in range(len(cols)))
    rows = [f"{t:.1f}," + ",".join(f"{c[i]:.2f}" for c in cols) for i, t in enumerate(times)]
    return "\n".join([head, *rows]) + "\n"


def t962_text(times, cols) -> str:
    """The first four curves as a T-962 serial log at 4 Hz (REFLOW rows, lines start with CRLF)."""
    out = ["Starting reflow with profile: BENCH",
           "# Time,  Temp0, Temp1, Temp2, Temp3,  Set,Actual, Heat, Fan,  ColdJ, Mode"]
    for j in range(int((len(times) - 1) / RATE_HZ * 4)):
        t = j * 0.25
        x = t * RATE_HZ
        i = int(x)
        tc = [c[i] + (x - i) * (c[i + 1] - c[i]) for c in cols[:4]]
        out.append(f"{t:6.1f},  {tc[0]:5.1f}, {tc[1]:5.1f}, {tc[2]:5.1f}, {tc[3]:5.1f},  "
                   f"{round(setpoint(t)):3d}, {sum(tc) / 4:5.1f},  {0:3d}, {0:3d},  {30.0:5.1f}, "
                   "REFLOW")
    out.append("Reflow done")
    return "".join("\r\n" + line for line in out)


def timed(fn, runs: int = RUNS) -> tuple[float, float]:
    """Median and best wall time of fn() in milliseconds."""
    laps = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        laps.append((time.perf_counter() - start) * 1000.0)
    return statistics.median(laps), min(laps)


def floor_pass(rec) -> float:
    """One plain Python pass summing every sample: the floor of any pure Python analysis."""
    total = 0.0
    for ch in rec.channels:
        for x in rec.temps[ch]:
            total += x
    return total


def main() -> None:
    """Generate, time and print."""
    window = reflow.load_windows()["SAC305"]
    times, cols = curves()
    text = csv_text(times, cols)
    rec = profiler.parse(text)
    samples = sum(len(v) for v in rec.temps.values())
    assert len(rec.channels) == CHANNELS and samples == CHANNELS * DURATION_S * RATE_HZ
    t962 = t962_text(times, cols)
    t962_rec = profiler.parse(t962)

    floor = timed(lambda: floor_pass(rec))
    rows = [
        ("parse CSV", timed(lambda: profiler.parse(text))),
        ("analyse", timed(lambda: reflow.analyse(rec, window))),
        ("parse + analyse", timed(lambda: reflow.analyse(profiler.parse(text), window))),
    ]
    t962_parse = timed(lambda: profiler.parse(t962))
    t962_analyse = timed(lambda: reflow.analyse(t962_rec, window))
    result = reflow.analyse(rec, window)

    print(f"reflow profile bench: {CHANNELS} TCs x {DURATION_S} s x {RATE_HZ} Hz = {samples} "
          f"samples, CSV {len(text) / 1e6:.2f} MB, {RUNS} runs, Python {sys.version.split()[0]}")
    print(f"  {'':44s} {'median':>9s} {'best':>9s}  median/floor")
    print(f"  {'floor: one Python pass summing all samples':44s} {floor[0]:6.2f} ms "
          f"{floor[1]:6.2f} ms")
    for name, (med, best) in rows:
        print(f"  {name:44s} {med:6.2f} ms {best:6.2f} ms  {med / floor[0]:6.1f}x")
    analyse_ms = rows[1][1][0]
    print(f"  target: analyse < {TARGET_MS:g} ms: {'met' if analyse_ms < TARGET_MS else 'MISSED'}"
          f" (parse + analyse {'also' if rows[2][1][0] < TARGET_MS else 'not'} under it)")
    print(f"  T-962 log, 4 TCs at 4 Hz ({len(t962_rec.times)} rows): parse {t962_parse[0]:.2f} ms,"
          f" analyse {t962_analyse[0]:.2f} ms (medians)")
    print(f"  result: {result.verdict}, PWI {result.pwi:.0f} % (worst {result.worst}), "
          f"delta T {result.delta_t_peak_C:.2f} °C")

    stream(t962)


BAUD = 115200
BYTES_PER_S = BAUD / 10  # 8N1: ten bits a byte


def paced_write(fd: int, data: bytes) -> float:
    """Write `data` at the link's byte rate in 10 ms slices; return the seconds it took."""
    start, sent, chunk = time.perf_counter(), 0, int(BYTES_PER_S / 100)
    while sent < len(data):
        os.write(fd, data[sent:sent + chunk])
        sent += chunk
        ahead = start + sent / BYTES_PER_S - time.perf_counter()
        if ahead > 0:
            time.sleep(ahead)
    return time.perf_counter() - start


def stream(text: str) -> None:
    """Stream a T-962 log at 115200 baud through a pty into the reader; count what arrives."""
    data = text.encode()
    sent_lines = sum(1 for line in text.replace("\r\n", "\n").split("\n") if line.strip())

    # Floor: a bare loop reading the pty and counting line ends.
    master, slave = os.openpty()
    tty.setraw(slave)
    got = bytearray()

    def drain():
        while got.count(b"Reflow done") == 0:
            got.extend(os.read(slave, 4096))

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    floor_s = paced_write(master, data)
    reader.join(5)
    floor_lines = sum(1 for line in got.replace(b"\r\n", b"\n").split(b"\n") if line.strip())
    os.close(master)
    os.close(slave)

    # The station: PortReader + ProfilerCapture, ending the run on "Reflow done".
    master, slave = os.openpty()
    tty.setraw(slave)
    runs: list[str] = []
    capture = ProfilerCapture(runs.append, quiet_s=30)
    port = PortReader(os.ttyname(slave), capture.line, lambda *_: None, baudrate=BAUD,
                      on_idle=capture.idle, flush_after=1.0, name="bench")
    port.start()
    while port.state != "connected":
        time.sleep(0.01)
    station_s = paced_write(master, data)
    end = time.monotonic() + 5
    while not runs and time.monotonic() < end:
        time.sleep(0.01)
    port.stop()
    os.close(master)
    os.close(slave)
    station_lines = sum(1 for line in runs[0].split("\n") if line.strip()) if runs else 0
    print(f"  stream {len(data) / 1e3:.0f} kB at {BAUD} baud: sent {sent_lines} lines; "
          f"bare read loop got {floor_lines} in {floor_s:.1f} s; station reader got "
          f"{station_lines} in {station_s:.1f} s ({station_lines / max(floor_lines, 1):.3f}x), "
          f"lost {sent_lines - station_lines}")
    run = profiler.parse(runs[0]) if runs else None
    if run is not None:
        print(f"  the streamed run parses to {len(run.times)} rows, {len(run.channels)} TCs")


if __name__ == "__main__":
    main()
