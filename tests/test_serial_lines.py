"""The line splitter, and the port reader over a pseudo-terminal that is unplugged and replugged."""

import threading

import pytest
from serial_pty import FakeDevice, wait_for

from station.devices.serial_lines import LineSplitter, Overlong, PortReader


@pytest.mark.parametrize("data", [b"A\rB\r", b"A\nB\n", b"A\r\nB\r\n", b"A\r\n\r\nB\n"])
def test_splits_on_any_terminator(data):
    assert LineSplitter().feed(data) == ["A", "B"]


def test_crlf_split_across_reads_is_one_terminator():
    s = LineSplitter()
    assert s.feed(b"ABC\r") == ["ABC"]
    assert s.feed(b"\nDEF\r\n") == ["DEF"]


def test_line_split_over_reads_and_two_in_one_read():
    s = LineSplitter()
    assert s.feed(b"WO-1-") == []
    assert s.feed(b"00001\rWO-1-00002\rWO-") == ["WO-1-00001", "WO-1-00002"]
    assert s.feed(b"1-00003\r") == ["WO-1-00003"]


def test_tab_splits_only_when_asked():
    assert LineSplitter(tab=True).feed(b"A\tB\r") == ["A", "B"]
    assert LineSplitter().feed(b"A\tB\r") == ["A\tB"]


def test_overlong_line_is_dropped_whole_and_reported():
    s = LineSplitter(max_length=8)
    assert s.feed(b"X" * 10_000 + b"\rOK\r") == [Overlong(10_000), "OK"]


def test_invalid_utf8_is_replaced_not_raised():
    (line,) = LineSplitter().feed(b"AB\xff\xfeC\r")
    assert line.startswith("AB") and "\ufffd" in line and line.endswith("C")


def test_reset_forgets_a_partial_line():
    s = LineSplitter()
    s.feed(b"HALF")
    s.reset()
    assert s.feed(b"WHOLE\r") == ["WHOLE"]


@pytest.fixture
def device(tmp_path):
    dev = FakeDevice(tmp_path, "scanner")
    yield dev
    dev.close()


def start_reader(url, **kwargs):
    lines, states = [], []
    lock = threading.Lock()

    def on_line(line):
        with lock:
            lines.append(line)

    reader = PortReader(str(url), on_line, lambda state, detail: states.append(state),
                        backoff=(0.05, 0.2), **kwargs)
    reader.start()
    return reader, lines, states


def test_reader_delivers_lines_from_a_pty(device):
    reader, lines, states = start_reader(device.path)
    try:
        assert wait_for(lambda: reader.state == "connected")
        device.write(b"WO-1-00001\rWO-1-00002\r\n", chunk=3)
        assert wait_for(lambda: lines == ["WO-1-00001", "WO-1-00002"])
    finally:
        reader.stop()
    assert not reader.is_alive()


def test_unplug_mid_line_reports_disconnected_and_replug_resumes_without_phantom(device):
    reader, lines, states = start_reader(device.path)
    try:
        assert wait_for(lambda: reader.state == "connected")
        device.write(b"FIRST\rHALF-A-LA")
        assert wait_for(lambda: lines == ["FIRST"])
        device.unplug()
        assert wait_for(lambda: reader.state == "disconnected")
        device.plug()
        assert wait_for(lambda: reader.state == "connected", timeout=5)
        device.write(b"BEL\rSECOND\r")
        assert wait_for(lambda: "SECOND" in lines)
        # The half line from before the unplug never joins what came after it.
        assert lines == ["FIRST", "BEL", "SECOND"]
        assert states[:3] == ["connected", "disconnected", "connected"]
    finally:
        reader.stop()


def test_missing_port_retries_until_it_appears(tmp_path):
    path = tmp_path / "later"
    reader, lines, states = start_reader(path)
    try:
        assert wait_for(lambda: reader.state == "disconnected")
        dev = FakeDevice(tmp_path, "later")
        try:
            assert wait_for(lambda: reader.state == "connected", timeout=5)
            dev.write(b"HELLO\r")
            assert wait_for(lambda: lines == ["HELLO"])
        finally:
            dev.close()
    finally:
        reader.stop()


def test_port_is_opened_exclusively(device):
    import serial

    reader, _lines, _states = start_reader(device.path)
    try:
        assert wait_for(lambda: reader.state == "connected")
        with pytest.raises(serial.SerialException, match="exclusively lock"):
            serial.serial_for_url(str(device.path), exclusive=True)
    finally:
        reader.stop()


def test_a_failing_handler_does_not_stop_the_reader(device):
    seen = []

    def on_line(line):
        if line == "BOOM":
            raise RuntimeError("handler bug")
        seen.append(line)

    reader = PortReader(str(device.path), on_line, lambda *_: None, backoff=(0.05, 0.2))
    reader.start()
    try:
        assert wait_for(lambda: reader.state == "connected")
        device.write(b"BOOM\rAFTER\r")
        assert wait_for(lambda: seen == ["AFTER"])
    finally:
        reader.stop()


def test_a_late_last_line_is_flushed_after_a_quiet_spell(device):
    # The T-962 sends "\r\nReflow done": the line's terminator only comes with the next line.
    reader, lines, _states = start_reader(device.path, flush_after=0.3)
    try:
        assert wait_for(lambda: reader.state == "connected")
        device.write(b"\r\nrow 1\r\nReflow done")
        assert wait_for(lambda: lines == ["row 1", "Reflow done"])
    finally:
        reader.stop()


def test_without_flush_a_partial_line_is_never_a_line(device):
    reader, lines, _states = start_reader(device.path)
    try:
        assert wait_for(lambda: reader.state == "connected")
        device.write(b"WHOLE\rPARTIAL")
        assert wait_for(lambda: lines == ["WHOLE"])
        assert not wait_for(lambda: len(lines) > 1, timeout=0.5)
    finally:
        reader.stop()
