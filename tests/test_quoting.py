"""Quotations drafted from a data package: every line, money exact, quantity breaks, rates."""

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.readiness.datapackage import check_package
from station.shipping import quoting
from station.shipping.quoting import draft, load_rates
from tests.test_datapackage import KICAD, make_zip

ROOT = Path(__file__).resolve().parents[1]
REAL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "pcb"
CENT = Decimal("0.01")

# A small package: two copper layers, a 50 x 30 mm outline, ten parts whose classes are read
# here off their footprints by hand.
TWO_LAYERS = {k: v for k, v in KICAD.items() if "In1" not in k}
BOM = b'''Comment,Designator,Footprint
100nF,"C1,C2",C_0402_1005Metric
10k,"R1,R2,R3",R_0603_1608Metric
LED,D1,LED_0805_2012Metric
MCU,U1,QFN-32-1EP_5x5mm_P0.5mm
FPGA,U2,BGA-256_17x17mm
Reg,U3,SOIC-8_3.9x4.9mm
Header,J1,PinHeader_1x04_P2.54mm_Vertical
'''
CPL = b'''Designator,Mid X,Mid Y,Layer,Rotation
C1,10,10,Top,0
C2,12,10,Top,90
R1,14,10,Top,0
R2,16,10,Top,0
U1,20,20,Top,0
U2,30,20,Top,0
R3,18,10,Bottom,180
D1,20,10,Bottom,0
U3,25,10,Bottom,0
J1,40,10,Top,0
'''
# Top: C1 C2 (0402), R1 R2 (0603 chips), U1 (QFN), U2 (BGA); bottom: R3 (0603), D1 (0805),
# U3 (SOIC: other); J1 through-hole, its pins unknown to the drill file (two joints counted).
PER_BOARD = {"SMT_TOP_0201_0402": 2, "SMT_TOP_CHIP": 2, "SMT_TOP_FINE_PITCH_IC": 1,
             "SMT_TOP_BGA": 1, "SMT_BOTTOM_CHIP": 2, "SMT_BOTTOM_OTHER": 1, "THT_JOINTS": 2}
DISTINCT = 7  # 100nF/0402, 10k/0603, LED, MCU, FPGA, Reg, Header
AREA_CM2 = Decimal("15.00")


@pytest.fixture(scope="module")
def rates():
    return load_rates(ROOT / "config" / "quoting.toml")


@pytest.fixture(scope="module")
def small():
    report = check_package(make_zip(TWO_LAYERS), BOM, "bom.csv", CPL, "cpl.csv")
    assert report["complete"] and report["copper_layers"] == 2
    return report


def amount(count, rate) -> Decimal:
    """The rounding rule, written out: rate to 4 places, count x rate to the cent, half-up."""
    rate = Decimal(rate).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    return (Decimal(count) * rate).quantize(CENT, ROUND_HALF_UP)


def by_code(quantity: dict) -> dict:
    return {line["code"]: line for line in quantity["lines"]}


@pytest.mark.parametrize("quantity", [10, 100, 500, 2500])
def test_every_line_of_the_small_package(rates, small, quantity):
    k = {10: Decimal("1.30"), 100: Decimal("1.00"), 500: Decimal("0.90"),
         2500: Decimal("0.80")}[quantity]
    assert rates.multiplier(quantity) == k
    [q] = draft(small, [quantity], rates)
    lines = by_code(q)
    top, bottom = rates.placement["top"], rates.placement["bottom"]
    expected = {
        "SETUP": (1, Decimal("300.00")), "PROGRAMMING": (1, Decimal("200.00")),
        "STENCIL_TOP": (1, Decimal("180.00")), "STENCIL_BOTTOM": (1, Decimal("180.00")),
        "SMT_TOP_0201_0402": (2 * quantity, top["0201_0402"] * k),
        "SMT_TOP_CHIP": (2 * quantity, top["chip"] * k),
        "SMT_TOP_FINE_PITCH_IC": (quantity, top["fine_pitch_ic"] * k),
        "SMT_TOP_BGA": (quantity, top["bga"] * k),
        "SMT_BOTTOM_CHIP": (2 * quantity, bottom["chip"] * k),
        "SMT_BOTTOM_OTHER": (quantity, bottom["other"] * k),
        "THT_JOINTS": (2 * quantity, Decimal("0.080") * k),
        "LOADING": (DISTINCT, Decimal("5.00")),
        "FCT": (quantity, Decimal("1.50") * k),
        "PCB": (quantity, Decimal("0.030") * AREA_CM2 * k),
    }
    assert list(lines) == list(expected)  # one-off first, then per side, then the rest
    for code, (count, rate) in expected.items():
        line = lines[code]
        assert line["count"] == count, code
        assert line["rate"] == Decimal(rate).quantize(Decimal("0.0001"), ROUND_HALF_UP), code
        assert line["amount"] == amount(count, rate), code
        assert isinstance(line["amount"], Decimal) and isinstance(line["rate"], Decimal)
    assert q["total"] == sum(amount(c, r) for c, r in expected.values())
    assert q["per_board"] == (q["total"] / quantity).quantize(CENT, ROUND_HALF_UP)


def test_counts_match_the_per_board_figures_worked_out_by_hand(rates, small):
    [q] = draft(small, [1], rates)
    counts = {line["code"]: line["count"] for line in q["lines"]}
    assert {k: counts[k] for k in PER_BOARD} == PER_BOARD
    assert quoting.counts(small, rates)["area_cm2"] == AREA_CM2


def test_one_quantity_at_100_worked_out_in_yuan(rates, small):
    """The 100-board price as a sales engineer would work it on paper (CNY)."""
    [q] = draft(small, [100], rates)
    # one-off 300 + 200 + 2 x 180 + loading 7 x 5 = 895.00
    # per board: 2x0.030 + 2x0.020 + 0.150 + 0.800 + 2x0.025 + 0.060 + 2x0.080 + 1.50
    #            + 15 cm² x 0.030 = 3.270 -> x 100 = 327.00
    assert q["total"] == Decimal("1222.00")
    assert q["per_board"] == Decimal("12.22")


def test_one_side_only_has_one_stencil_and_no_tht_no_joints(rates):
    bom = b"Comment,Designator,Footprint\n10k,\"R1,R2\",R_0603_1608Metric\n"
    cpl = b"Designator,Mid X,Mid Y,Layer,Rotation\nR1,10,10,Top,0\nR2,12,10,Top,0\n"
    report = check_package(make_zip(KICAD), bom, "bom.csv", cpl, "cpl.csv")
    [q] = draft(report, [50], rates)
    codes = [line["code"] for line in q["lines"]]
    assert "STENCIL_TOP" in codes and "STENCIL_BOTTOM" not in codes
    assert "THT_JOINTS" not in codes
    assert "PCB" not in codes  # three copper layers: no rate configured for 3
    assert by_code(q)["LOADING"]["count"] == 1


def test_pins_from_the_drill_file_count_as_joints(rates, small):
    report = {**small, "pins": {"J1": 4}}
    [q] = draft(report, [10], rates)
    assert by_code(q)["THT_JOINTS"]["count"] == 40


def test_an_old_report_without_names_prices_its_counts(rates):
    report = {"parts": {"smt_top": 5, "smt_bottom": 0, "dip": 0}, "copper_layers": 2}
    [q] = draft(report, [10], rates)
    assert by_code(q)["SMT_TOP_OTHER"]["count"] == 50


def test_size_classes_by_footprint_words(rates):
    assert rates.size_class("R_0201_0603Metric") == "0201_0402"
    assert rates.size_class("C_0402") == "0201_0402"
    assert rates.size_class("R_1206_3216Metric") == "chip"
    assert rates.size_class("SOT-23") == "chip"
    assert rates.size_class("LQFP-64_10x10mm_P0.5mm") == "fine_pitch_ic"
    assert rates.size_class("TSSOP-20") == "fine_pitch_ic"
    assert rates.size_class("BGA-484") == "bga"
    assert rates.size_class("SOIC-8") == "other"
    assert rates.size_class("", "0402 100nF") == "0201_0402"  # the value when no footprint


@settings(max_examples=150, deadline=None)
@given(quantities=st.lists(st.integers(1, 100_000), min_size=1, max_size=5, unique=True),
       top=st.integers(0, 3000), bottom=st.integers(0, 3000), dip=st.integers(0, 200),
       pins=st.integers(1, 40), side_mm=st.decimals("5", "500", places=2))
def test_totals_are_the_sum_of_lines_and_per_board_rounds_within_the_rule(
        quantities, top, bottom, dip, pins, side_mm):
    rates = load_rates(ROOT / "config" / "quoting.toml")
    placement = {"smt_top": [f"T{i}" for i in range(top)],
                 "smt_bottom": [f"B{i}" for i in range(bottom)],
                 "dip": [f"J{i}" for i in range(dip)]}
    footprints = {r: ("C_0402" if i % 3 == 0 else "QFN-16" if i % 3 == 1 else "BGA-100")
                  for refs in placement.values() for i, r in enumerate(refs)}
    report = {"placement": placement, "footprints": footprints,
              "values": {r: r[:2] for r in footprints}, "pins": {r: pins for r in placement["dip"]},
              "copper_layers": 4, "board_outline_mm": {"width": float(side_mm), "height": 40.0}}
    for q in draft(report, quantities, rates):
        assert q["total"] == sum(line["amount"] for line in q["lines"])
        assert q["total"] == q["total"].quantize(CENT)
        for line in q["lines"]:
            assert line["amount"] == (line["count"] * line["rate"]).quantize(CENT, ROUND_HALF_UP)
        # per_board is total / quantity rounded half-up: within half a cent per board
        assert abs(q["per_board"] * q["quantity"] - q["total"]) <= Decimal("0.005") * q["quantity"]
        smt = sum(line["count"] for line in q["lines"] if line["code"].startswith("SMT_"))
        assert smt == (top + bottom) * q["quantity"]


def test_more_boards_never_cost_more_per_board(rates, small):
    per_board = [q["per_board"] for q in draft(small, [1, 10, 100, 500, 1000, 2000, 5000],
                                               rates)]
    assert per_board == sorted(per_board, reverse=True)


def test_stored_and_read_back_exactly(rates, small):
    drafted = draft(small, [100, 500], rates)
    stored = quoting.as_json(drafted)
    assert all(isinstance(q["total"], str) for q in stored)
    back = quoting.from_json(stored)
    assert [q["total"] for q in back] == [q["total"] for q in drafted]


@pytest.mark.parametrize("change, error", [
    ({"version": 0}, "version"),
    ({"currency": "yuan"}, "currency"),
    ({"setup": 300.5}, "setup"),  # a float: its binary error would be money
    ({"tht_joint": "-1"}, "tht_joint"),
    ({"breaks": {"100": "0"}}, "breaks.100"),
    ({"classes": {"huge": ["X"]}}, "unknown class"),
])
def test_rates_are_checked_at_start(tmp_path, change, error):
    import tomllib

    data = tomllib.loads((ROOT / "config" / "quoting.toml").read_text())
    data.update(change)
    path = tmp_path / "quoting.toml"
    path.write_text(_toml(data))
    with pytest.raises(ValueError, match=error):
        load_rates(path)


def test_a_missing_rate_is_named(tmp_path):
    text = (ROOT / "config" / "quoting.toml").read_text().replace('fct_per_board = "1.50"', "")
    (tmp_path / "q.toml").write_text(text)
    with pytest.raises(ValueError, match="fct_per_board"):
        load_rates(tmp_path / "q.toml")


def _toml(data: dict) -> str:
    """A tiny TOML writer for the rates' shape (values, then tables of values)."""
    def value(v):
        if isinstance(v, str):
            return f'"{v}"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return str(v).lower() if isinstance(v, bool) else str(v)
    out, tables = [], []
    for k, v in data.items():
        (tables if isinstance(v, dict) else out).append((k, v))
    lines = [f"{k} = {value(v)}" for k, v in out]
    for k, v in tables:
        if all(isinstance(x, dict) for x in v.values()):
            for sub, inner in v.items():
                lines.append(f"[{k}.{sub}]")
                lines += [f'"{a}" = {value(b)}' for a, b in inner.items()]
        else:
            lines.append(f"[{k}]")
            lines += [f'"{a}" = {value(b)}' for a, b in v.items()]
    return "\n".join(lines) + "\n"


REAL_PACKAGES = {
    "pslab-mini": ("pslab-mini-gerbers.zip", "JLCPCB_SMT_BOM.csv", "JLCPCB_SMT_CPL.csv"),
    "openrpncalc-main": ("main.kicad_pcb_gerber.zip", "main.kicad_pcb_bom.csv",
                         "main.kicad_pcb_positions.csv"),
    "hail-revc": ("hail_c_to_fab_2017-09-26.zip", "hail_bom.csv", "hail.XYRS"),
}


@pytest.mark.parametrize("package", sorted(REAL_PACKAGES))
def test_real_packages_quote_every_placed_part(rates, package):
    folder = REAL / package
    if not folder.is_dir():
        pytest.skip(f"real data package {package} not present at {folder} (shared test data)")
    gerber, bom, cpl = (folder / name for name in REAL_PACKAGES[package])
    report = check_package(gerber.read_bytes(), bom.read_bytes(), bom.name, cpl.read_bytes(),
                           cpl.name)
    parts = report["parts"]
    for q in draft(report, [100, 1000], rates):
        lines = by_code(q)
        for side in ("top", "bottom"):
            placed = sum(line["count"] for code, line in lines.items()
                         if code.startswith(f"SMT_{side.upper()}_"))
            assert placed == parts[f"smt_{side}"] * q["quantity"], side
            assert (f"STENCIL_{side.upper()}" in lines) == (parts[f"smt_{side}"] > 0)
        if parts["dip"]:
            assert lines["THT_JOINTS"]["count"] >= parts["dip"] * q["quantity"]
        assert q["total"] == sum(line["amount"] for line in q["lines"])
        # every placed part's class follows its footprint's words, as read here
        for ref in report["placement"]["smt_top"]:
            fp = report["footprints"][ref].upper()
            if "BGA" in fp:
                assert rates.size_class(fp) == "bga"
            elif "0402" in fp or "0201" in fp:
                assert rates.size_class(fp) in ("0201_0402", "fine_pitch_ic", "bga")
