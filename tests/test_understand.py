"""What a scan says, read by station.line.codes.understand: pure, no app, no port."""

import re
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.config import load_settings, parse
from station.line.codes import (
    CAPS_HINT,
    DASH_HINT,
    RAW_LIMIT,
    YZ_HINT,
    Label,
    LabelRules,
    hints,
    normalise,
    repairs,
    understand,
)

GS, RS, EOT = "\x1d", "\x1e", "\x04"
TODAY = date(2026, 6, 1)
RULES = LabelRules(today=TODAY)
GTIN = "07032069804988"  # a GTIN-13 with its right check digit, as 14 digits
BAD_GTIN = "07032069804987"
ECIA = (f"[)>{RS}06{GS}PCUST-PN-7{GS}1PSUP-PN-9{GS}Q500{GS}1TLOT-2026-1102{GS}9D2519"
        f"{GS}4LCN{RS}{EOT}")


def read(raw, rules=RULES):
    return understand(raw, rules)


# --- plain codes and their kinds ------------------------------------------------------------


@pytest.mark.parametrize(("code", "kind"), [
    ("WO-1-00001", "board"), ("W12-00003", "board"), ("CTRL-100.B-00020", "board"),
    ("WO-1001-P0001", "panel"), ("WO-1", "order"), ("WO-1001", "order"), ("10001", "badge"),
    ("100001", "badge"), ("ST-CTRL-100-B-2", "stencil"), ("PB-PCB-A-WO-1", "profile_board"),
    ("LOT-2026-1102", "pcb_lot"), ("NOSUCH-0001", None), ("SN12345", None),
])
def test_plain_codes_get_their_kind_by_pattern(code, kind):
    scan = read(code)
    assert scan.ok and scan.kind == kind and scan.code == code and scan.format == "plain"


def test_the_shipped_config_reads_like_the_defaults():
    rules = LabelRules.from_settings(load_settings().scanning)
    for code in ("WO-1-00001", "WO-1001-P0001", "WO-1", "10001", "ST-X", "PB-X", "LOT-X"):
        assert understand(code, rules).kind == understand(code).kind, code
    assert [lb.kind for lb in rules.labels] == ["board", "pcb_lot", "pcb_lot"]
    assert rules.gs == ("{GS}",) and rules.rs == ("{RS}",) and rules.eot == ("{EOT}",)


def test_kinds_come_from_the_configuration_in_order():
    rules = LabelRules.from_settings(
        parse({"scanning": {"kinds": {"badge": r"B\d+", "board": r"[A-Z]\d+"}}}).scanning)
    assert understand("B7", rules).kind == "badge"
    assert understand("C7", rules).kind == "board"
    assert understand("WO-1", rules).kind is None


@pytest.mark.parametrize("terminated", ["WO-1-00001\r", "WO-1-00001\n", "WO-1-00001\r\n",
                                        "WO-1-00001\t", "  WO-1-00001  "])
def test_terminators_and_surrounding_spaces_are_not_part_of_the_code(terminated):
    assert read(terminated).code == "WO-1-00001"


@pytest.mark.parametrize("raw", ["", " ", "\r\n", "\t \t"])
def test_empty_and_whitespace_only_are_errors(raw):
    scan = read(raw)
    assert not scan.ok and scan.errors == ("it is empty",) and scan.code is None


@pytest.mark.parametrize(("raw", "why"), [
    ("WO\x00-1", "control character (U+0000)"),
    ("\x07WO-1", "control character (U+0007)"),
    ("WO-1\x7f", "control character (U+007F)"),
    ("SN-\u202e0001", "text-direction override"),
    ("<script>", "'<' is not allowed"),
])
def test_control_characters_and_strangers_are_errors(raw, why):
    scan = read(raw)
    assert not scan.ok and why in scan.reason()


def test_invalid_utf8_is_refused_with_the_baud_rate_hint():
    raw = b"WO-1-\xff\xfe0001".decode("utf-8", errors="replace")  # as the serial splitter gives
    scan = read(raw)
    assert not scan.ok and "baud rate" in scan.reason()


def test_a_scan_over_the_raw_limit_is_refused_by_its_length():
    scan = read("X" * (RAW_LIMIT + 1))
    assert not scan.ok and f"{RAW_LIMIT + 1} characters long" in scan.errors[0]
    assert len(scan.raw) == RAW_LIMIT  # not kept whole
    assert "65 characters long; a label has at most 64" in read("A" * 65).errors[0]


def test_something_that_is_not_text_is_an_error():
    assert read(b"WO-1").errors == ("the code must be text",)
    assert read(None).errors == ("the code must be text",)


# --- AIM symbology identifiers --------------------------------------------------------------


@pytest.mark.parametrize(("sid", "name"), [
    ("]C0", "Code 128"), ("]d1", "Data Matrix"), ("]Q1", "QR Code"), ("]A0", "Code 39"),
])
def test_a_known_aim_identifier_is_taken_off_and_named(sid, name):
    scan = read(f"{sid}WO-1-00001")
    assert scan.ok and scan.symbology == sid and scan.symbology_name == name
    assert scan.code == "WO-1-00001" and scan.payload == "WO-1-00001" and scan.kind == "board"


def test_without_an_aim_identifier_the_symbology_is_unknown():
    scan = read("WO-1-00001")
    assert scan.symbology is None and scan.symbology_name == ""


def test_an_unknown_aim_identifier_is_read_through_with_a_warning():
    scan = read("]X9WO-1-00001")
    assert scan.ok and scan.code == "WO-1-00001" and scan.symbology == "]X9"
    assert "]X9 is not one the station knows" in scan.warnings[0]


def test_a_case_inverted_aim_identifier_names_caps_lock():
    scan = read("]c0wo-1-00001")
    assert "Caps Lock" in scan.warnings[0]
    assert CAPS_HINT in scan.hints


@pytest.mark.parametrize("mangled", ["+C1", "$C0", "#d2", "*Q1"])
def test_an_aim_identifier_mangled_by_the_keyboard_layout_is_refused_by_name(mangled):
    scan = read(f"{mangled}WO-1-00001")
    assert not scan.ok and scan.code is None
    assert f"]{mangled[1:]} with its ']' changed by the keyboard layout" in scan.errors[0]


def test_only_one_aim_identifier_is_taken_off():
    assert not read("]C0]C0WO-1-00001").ok


# --- GS1 element strings ---------------------------------------------------------------------


@pytest.mark.parametrize("sid", ["]C1", "]d2", "]Q3", "]e0"])
def test_gs1_with_gs_separators_reads_every_element(sid):
    scan = read(f"{sid}01{GTIN}10LOT99{GS}21WO-1-00001")
    assert scan.ok and scan.format == "gs1" and scan.symbology == sid
    assert scan.fields == {"01": GTIN, "10": "LOT99", "21": "WO-1-00001"}
    assert scan.kind == "board" and scan.code == "WO-1-00001"


@pytest.mark.parametrize("standin", ["{GS}", "|"])
def test_gs1_with_a_printable_stand_in_for_gs_reads_the_same(standin):
    rules = LabelRules(gs=("{GS}", "|"), today=TODAY)
    scan = understand(f"]C101{GTIN}10LOT99{standin}21WO-1-00001", rules)
    assert scan.ok and scan.fields["10"] == "LOT99" and scan.code == "WO-1-00001"
    assert GS in scan.payload  # the stand-in is made a real GS


def test_gs1_with_its_gs_missing_is_flagged_not_absorbed():
    # biip reads (10) as LOT9921WO-1-00001; the board label needs (21): the GS is named missing.
    scan = read(f"]C101{GTIN}10LOT9921WO-1-00001")
    assert not scan.ok and scan.code is None
    assert "GS separator seems to be missing after (10) LOT99" in scan.errors[0]
    assert "(21)WO-1-00001" in scan.errors[0]


def test_the_notes_example_of_a_missing_gs_is_flagged():
    scan = read("]C110LOT9921SN1")
    assert not scan.ok
    assert any("missing after (10) LOT99" in e for e in scan.errors)


def test_a_lot_that_merely_looks_like_it_holds_an_ai_is_only_warned_about():
    # (10) LOT3012 might be LOT + (30) 12; the lot label fits either way, so it is not refused.
    scan = read(f"]C101{GTIN}10LOT3012")
    assert scan.ok and scan.kind == "pcb_lot" and scan.code == "LOT3012"
    assert "missing after (10) LOT" in scan.warnings[0]


def test_without_label_types_a_swallowed_ai_is_still_named():
    scan = understand("]C110LOT9921SN1", LabelRules(labels=()))
    assert not scan.ok and "missing after (10) LOT99" in scan.reason()


def test_a_label_that_takes_any_field_warns_of_a_swallowed_ai():
    scan = understand("]C110LOT9921SN1", LabelRules(labels=(Label("lot", "10", "gs1", (),
                                                                  ("*",)),)))
    assert scan.ok and scan.code == "LOT9921SN1" and "missing after (10) LOT99" in scan.warnings[0]


def test_a_gs1_label_of_no_known_type_is_refused():
    scan = read(f"]C101{GTIN}")
    assert not scan.ok and "none of the station's label types" in scan.errors[0]
    assert "board (01)(21)" in scan.errors[0]


@pytest.mark.parametrize("data", [f"{GS}01{GTIN}21WO-1-00001", f"01{GTIN}21WO-1-00001{GS}",
                                  f"{GS}01{GTIN}21WO-1-00001{GS}{GS}"])
def test_leading_and_trailing_gs_are_harmless(data):
    scan = read(f"]C1{data}")
    assert scan.ok and scan.code == "WO-1-00001"


def test_gs_without_an_aim_identifier_still_means_gs1():
    scan = read(f"01{GTIN}10LOT99{GS}21WO-1-00001")
    assert scan.ok and scan.format == "gs1" and scan.code == "WO-1-00001"


def test_gs1_without_an_aim_identifier_or_gs_is_a_plain_code_with_a_hint():
    scan = read(f"01{GTIN}21SN1")
    assert scan.format == "plain" and scan.kind is None
    assert "enable AIM identifiers" in scan.warnings[0]


def test_bracketed_hri_reads_as_gs1():
    scan = read(f"(01){GTIN}(10)LOT99(21)WO-1-00001")
    assert scan.ok and scan.format == "gs1" and scan.code == "WO-1-00001"
    assert scan.fields == {"01": GTIN, "10": "LOT99", "21": "WO-1-00001"}


def test_bracketed_hri_with_an_unknown_ai_is_refused():
    scan = read("(01)07032069804988(23)X")
    assert not scan.ok and "does not read" in scan.errors[0]


def test_a_gtin_with_a_wrong_check_digit_is_refused():
    scan = read(f"]C101{BAD_GTIN}21WO-1-00001")
    assert not scan.ok and "(01) 07032069804987: wrong check digit (expected 8, got 7)" in \
        scan.errors


def test_an_sscc_with_a_wrong_check_digit_is_refused():
    scan = read("]C100123456789012345678")
    assert "(00) 123456789012345678: wrong check digit (expected 5, got 8)" in scan.errors


@pytest.mark.parametrize("sid", ["]E0", "]I1"])
def test_ean_and_itf14_check_digits_are_checked(sid):
    good = "5901234123457" if sid == "]E0" else "15901234123454"
    assert read(f"{sid}{good}").ok
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    scan = read(f"{sid}{bad}")
    assert not scan.ok and "wrong check digit" in scan.errors[0]


@pytest.mark.parametrize("date_value", ["211301", "210230", "211332"])
def test_an_invalid_date_is_refused(date_value):
    scan = read(f"]C101{GTIN}17{date_value}21WO-1-00001")
    assert not scan.ok and f"(17) {date_value} is not a valid date" in scan.errors[0]


def test_an_expired_label_and_a_production_date_to_come_are_warnings():
    scan = read(f"]C101{GTIN}11270101{GS}17250101{GS}10LOT99")
    assert scan.ok and scan.kind == "pcb_lot"
    assert "(17) its expiry date 2025-01-01 has passed" in scan.warnings
    assert "(11) its production date 2027-01-01 is in the future" in scan.warnings


def test_a_day_of_00_means_the_end_of_the_month():
    scan = read(f"]C101{GTIN}17260600{GS}10LOT99")
    assert scan.ok and not scan.warnings  # 2026-06-30, after TODAY


def test_an_unknown_ai_is_refused():
    scan = read(f"]C101{GTIN}23X")
    assert not scan.ok
    assert "'23X' after (01) 07032069804988 does not start with a known GS1 application" in \
        scan.errors[0]


def test_an_over_long_variable_ai_is_refused():
    scan = read(f"]C101{GTIN}10{'A' * 25}")
    assert not scan.ok and "(10) is longer than its 20 characters" in scan.errors[0]


def test_an_ai_twice_is_refused():
    assert "(10) appears twice" in read(f"]C101{GTIN}10A{GS}10B").errors


def test_gs1_identifier_without_gs1_data_is_refused():
    scan = read("]d2WO-1-00001")
    assert not scan.ok and "known GS1 application identifier" in scan.errors[0]


def test_a_gs1_serial_must_still_be_a_clean_code():
    scan = read(f"]C101{GTIN}21A<B")
    assert not scan.ok and "(21) the character '<' is not allowed" in scan.errors[0]


# --- ISO/IEC 15434 ---------------------------------------------------------------------------


def test_an_ecia_label_reads_every_data_identifier():
    scan = read(ECIA)
    assert scan.ok and scan.format == "iso15434" and scan.kind == "pcb_lot"
    assert scan.code == "LOT-2026-1102"
    assert scan.fields == {"P": "CUST-PN-7", "1P": "SUP-PN-9", "Q": "500",
                           "1T": "LOT-2026-1102", "9D": "2519", "4L": "CN"}


def test_an_ecia_label_with_stand_ins_reads_the_same():
    text = ECIA.replace(RS, "{RS}").replace(GS, "{GS}").replace(EOT, "{EOT}")
    assert read(text).fields == read(ECIA).fields


def test_an_ecia_label_with_its_separators_stripped_is_refused_by_name():
    stripped = ECIA.replace(RS, "").replace(GS, "").replace(EOT, "")
    scan = read(stripped)
    assert not scan.ok and scan.format == "iso15434"
    assert "RS, GS and EOT separators were lost" in scan.errors[0]


def test_an_ecia_label_cut_short_is_refused():
    assert "does not end with EOT" in read(ECIA[:-2]).errors[0]


@pytest.mark.parametrize(("di", "value", "problem"), [
    ("9D", "2599", "is not a year and week"), ("10D", "25", "is not a year and week"),
    ("9D", "2553", "has no week 53"), ("Q", "5OO", "is not a whole number"),
])
def test_ecia_date_codes_and_quantities_are_checked(di, value, problem):
    text = f"[)>{RS}06{GS}1TLOT-1{GS}{di}{value}{RS}{EOT}"
    scan = read(text)
    assert not scan.ok and problem in scan.errors[0]


def test_an_ecia_date_code_in_the_future_is_a_warning():
    scan = read(f"[)>{RS}06{GS}1TLOT-1{GS}10D2701{RS}{EOT}")
    assert scan.ok and "(10D) date code 2701 is in the future" in scan.warnings


def test_an_ecia_label_without_a_lot_is_none_of_the_station_labels():
    scan = read(f"[)>{RS}06{GS}PABC{GS}Q5{RS}{EOT}")
    assert not scan.ok and "none of the station's label types" in scan.errors[0]


def test_an_iso15434_envelope_with_gs1_format_05_reads_its_ais():
    scan = understand(f"[)>{RS}05{GS}01{GTIN}10LOT99{RS}{EOT}",
                      LabelRules(labels=(Label("pcb_lot", "10", "iso15434", ("01", "10")),),
                                 today=TODAY))
    assert scan.ok and scan.code == "LOT99" and scan.fields["01"] == GTIN


def test_an_unknown_envelope_format_is_read_around():
    scan = read(f"[)>{RS}12{GS}text{RS}06{GS}1TLOT-1{RS}{EOT}")
    assert scan.ok and "format 12" in scan.warnings[0]


# --- Caps Lock and keyboard layouts ----------------------------------------------------------


def test_caps_lock_is_named_not_guessed():
    scan = read("wo-1-00001")
    assert scan.ok and scan.kind is None and scan.code == "wo-1-00001"  # not made WO-1-00001
    assert scan.hints == (CAPS_HINT,)


def test_a_dash_turned_into_an_apostrophe_is_named():
    scan = read("WO'1'00001")
    assert not scan.ok and DASH_HINT in scan.hints and "is not allowed" in scan.errors[0]


def test_y_and_z_swapped_is_named_when_a_pattern_tells():
    rules = LabelRules(kinds=(("board", re.compile(r"YB-\d{5}")),), today=TODAY)
    scan = understand("ZB-00001", rules)
    assert scan.kind is None and YZ_HINT in scan.hints


def test_a_known_kind_gets_no_hints():
    assert hints("WO-1-00001") == []


def test_repairs_offer_what_the_code_may_have_been():
    fixes = dict((c, h) for h, c in repairs("wo'1'00001"))
    assert fixes["WO-1-00001"] == CAPS_HINT
    assert dict((c, h) for h, c in repairs("XZY-1"))["XYZ-1"] == YZ_HINT
    assert all(c != "WO-1" for _h, c in repairs("WO-1"))


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_understand_never_raises_and_an_ok_scan_has_a_clean_code(raw):
    scan = understand(raw, RULES)
    if scan.ok and scan.code is not None:
        assert normalise(scan.code) == scan.code


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[A-Z][A-Z0-9]{0,5}-[0-9]{5}", fullmatch=True)
       .filter(lambda s: not s.startswith(("ST-", "PB-", "LOT-", "WO-"))))  # other kinds
def test_a_plain_board_serial_reads_as_itself_with_or_without_aim(serial):
    for raw in (serial, f"]C0{serial}\r\n", f"]d1{serial}"):
        scan = understand(raw, RULES)
        assert scan.ok and scan.code == serial and scan.kind == "board"
