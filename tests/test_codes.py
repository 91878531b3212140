"""What a scanner sends, made plain or refused: station.line.codes.normalise."""

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from station.line.codes import RAW_LIMIT, BadCode, normalise

ALLOWED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")


@pytest.mark.parametrize("raw", [
    "SN-0001\r", "SN-0001\n", "SN-0001\r\n", "SN-0001\t", "SN-0001",
    "  SN-0001  ", "\tSN-0001\r\n", " SN-0001\n\n",
])
def test_terminators_and_surrounding_whitespace_are_stripped(raw):
    assert normalise(raw) == "SN-0001"


@pytest.mark.parametrize("raw", ["]C0SN-0001", "]d2SN-0001", "]Q1SN-0001", "]A0SN-0001",
                                 "]C1SN-0001\r\n", " ]Q1SN-0001\t"])
def test_aim_symbology_prefix_is_stripped(raw):
    assert normalise(raw) == "SN-0001"


def test_only_one_aim_prefix_is_stripped_and_a_second_is_refused():
    with pytest.raises(BadCode, match="not allowed"):
        normalise("]C0]C0SN-0001")


def test_a_code_with_every_allowed_character_passes_unchanged():
    assert normalise("WO-1.P/0001_a") == "WO-1.P/0001_a"


@pytest.mark.parametrize("raw", ["", " ", "   ", "\r\n", "\t\t", "\r", "]C0", "]C0\r\n"])
def test_empty_and_whitespace_only_are_refused_as_empty(raw):
    with pytest.raises(BadCode, match="empty"):
        normalise(raw)


@pytest.mark.parametrize("ch", [
    "\x00",  # NUL
    "\x07",  # BEL
    "\x08",  # backspace
    "\x1b",  # ESC
    "\x1d",  # GS (GS1 separator)
    "\x7f",  # DEL
    "\x85",  # NEL (C1)
    "\x9b",  # CSI (C1)
    "\r",    # a terminator inside the code
    "\n",
    "\t",
])
def test_control_characters_inside_are_refused_and_named(ch):
    with pytest.raises(BadCode, match=rf"control character \(U\+{ord(ch):04X}\)"):
        normalise(f"SN{ch}0001")


@pytest.mark.parametrize("ch", ["\x00", "\x1b", "\x7f"])
def test_control_characters_at_the_ends_are_refused_too(ch):
    with pytest.raises(BadCode, match="control character"):
        normalise(f"{ch}SN-0001")
    with pytest.raises(BadCode, match="control character"):
        normalise(f"SN-0001{ch}")


@pytest.mark.parametrize("ch", ["\u202e", "\u202a", "\u2066", "\u2067", "\u2069", "\u200f",
                                "\u061c"])
def test_bidi_overrides_are_refused_as_direction_overrides(ch):
    with pytest.raises(BadCode, match=rf"text-direction override \(U\+{ord(ch):04X}\)"):
        normalise(f"SN-{ch}0001")


@pytest.mark.parametrize("ch", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"])
def test_zero_width_characters_are_refused(ch):
    with pytest.raises(BadCode, match=rf"U\+{ord(ch):04X}"):
        normalise(f"SN{ch}0001")


@pytest.mark.parametrize(("raw", "bad"), [
    ("<script>alert(1)</script>", "<"),
    ("' OR 1=1--", "'"),
    ("SN-1; DROP TABLE board", ";"),
    ("SN 0001", " "),
    ("SN-０００１", "０"),
    ("SN\u00a00001", "\u00a0"),
    ("../../etc/passwd", "."),
    ("-SN-0001", "-"),
])
def test_characters_outside_the_allowlist_are_refused_and_named(raw, bad):
    with pytest.raises(BadCode, match="not allowed") as err:
        normalise(raw)
    assert repr(bad) in str(err.value)


def test_a_10_kb_string_is_refused_by_its_length():
    raw = "A" * 10_240
    with pytest.raises(BadCode, match="10240 characters long"):
        normalise(raw)


def test_anything_over_the_raw_limit_is_refused_whatever_the_cap():
    with pytest.raises(BadCode, match="characters long"):
        normalise("A" * (RAW_LIMIT + 1), max_length=10_000)


def test_the_configured_max_length_is_the_cap():
    assert normalise("A" * 64) == "A" * 64
    with pytest.raises(BadCode, match="65 characters long; a label has at most 64"):
        normalise("A" * 65)
    assert normalise("A" * 12, max_length=12) == "A" * 12
    with pytest.raises(BadCode, match="at most 12"):
        normalise("A" * 13, max_length=12)


def test_terminators_do_not_count_towards_the_length():
    assert normalise("]C0" + "A" * 64 + "\r\n") == "A" * 64


def test_a_station_may_narrow_the_allowed_characters():
    digits = re.compile(r"^[0-9]+$")
    assert normalise("0042", allowed=digits) == "0042"
    with pytest.raises(BadCode, match="not allowed"):
        normalise("SN42", allowed=digits)


@pytest.mark.parametrize("raw", [None, 42, 4.2, b"SN-0001", ["SN-0001"], {"code": "SN"}])
def test_anything_but_text_is_refused(raw):
    with pytest.raises(BadCode, match="must be text"):
        normalise(raw)


@settings(max_examples=400, deadline=None)
@given(raw=st.text(), max_length=st.integers(min_value=1, max_value=80))
@example(raw="A\n", max_length=64)
@example(raw="]C0\u202eABC", max_length=64)
@example(raw="\u0660\u0661", max_length=64)
@example(raw="A" * 2000, max_length=64)
def test_any_text_gives_an_allowed_code_or_bad_code(raw, max_length):
    try:
        code = normalise(raw, max_length=max_length)
    except BadCode as err:
        assert str(err)
        return
    assert isinstance(code, str)
    assert ALLOWED.fullmatch(code)
    assert len(code) <= max_length
    assert code in raw


@settings(max_examples=200, deadline=None)
@given(code=st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._/-]{0,40}\Z"),
       prefix=st.sampled_from(["", "]C0", "]d2", "]Q1", " "]),
       suffix=st.sampled_from(["", "\r", "\n", "\r\n", "\t", "  "]))
def test_any_allowed_code_survives_its_wrapping(code, prefix, suffix):
    assert normalise(prefix + code + suffix) == code


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.integers(), st.floats(), st.binary(), st.lists(st.text())))
def test_any_non_text_is_bad_code(raw):
    with pytest.raises(BadCode):
        normalise(raw)
