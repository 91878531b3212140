"""Geometry read by gerbonara, through-hole told from the drill file, footprints compared."""

import io
import zipfile

import pytest

from station.readiness.datapackage import check_package
from station.readiness.datapackage.geometry import Hole, read_geometry
from station.readiness.datapackage.layers import check_layers
from station.readiness.datapackage.parts import footprint_key

# A 60 x 40 mm board. Pins and pads in mm: (x, y, hole, pad).
PINS = [
    (7.5, 20, 1.2, 2.0), (12.5, 20, 1.2, 2.0),  # J1: an XT30-like connector named "SMD_..."
    (30, 20, 1.0, 1.7), (30, 22.54, 1.0, 1.7),  # J2: HDR1X2, origin on pin 1 (KiCad)
    (44, 19, 0.8, 1.5), (46, 19, 0.8, 1.5), (44, 21, 0.8, 1.5), (46, 21, 0.8, 1.5),  # U2 bottom
]
VIAS = [(20, 11.2, 0.6, 1.0), (35, 35, 0.3, 0.6)]  # a big via beside C1, a small one
SMD_PADS = [(19.5, 10, 0.6, 0.5), (20.5, 10, 0.6, 0.5), (49.2, 35, 0.9, 1.0), (50.8, 35, 0.9, 1.0)]
FIDUCIAL = (3, 37, 1.0)
TOOLING = (3, 3, 3.0)

CPL = b"""Designator,Mid X,Mid Y,Layer,Rotation
J1,10,20,Top,0
J2,30,20,Top,90
C1,20,10,Top,0
U2,45,20,Bottom,0
R1,50,35,Bottom,0
"""
BOM = b"""Designator,Comment,Footprint
J1,XT30,SMD_CONN_2P
J2,Header,HDR1X2
C1,100nF,C_0402
U2,Socket,PinSocket_2x02
R1,10k,R_0603
"""


def _mm(value: float) -> str:
    """A coordinate in %FSLAX46Y46 millimetres."""
    return str(round(value * 1_000_000))


def gerber(flashes=(), rects=(), function=None, units="MM") -> bytes:
    """Copper or mask: round flashes (x, y, d) and rectangles (x, y, w, h), and the outline."""
    scale = 25.4 if units == "IN" else 1.0
    lines = [f"%TF.FileFunction,{function}*%"] if function else []
    lines += ["%FSLAX46Y46*%", f"%MO{units}*%", "%ADD10C,0.1*%"]
    codes = {}
    for _, _, d in flashes:
        codes.setdefault(("C", d), len(codes) + 11)
    for _, _, w, h in rects:
        codes.setdefault(("R", w, h), len(codes) + 11)
    for key, code in codes.items():
        size = "X".join(f"{v / scale:.6f}" for v in key[1:])
        lines.append(f"%ADD{code}{key[0]},{size}*%")
    for x, y, d in flashes:
        lines += [f"D{codes[('C', d)]}*", f"X{_mm(x / scale)}Y{_mm(y / scale)}D03*"]
    for x, y, w, h in rects:
        lines += [f"D{codes[('R', w, h)]}*", f"X{_mm(x / scale)}Y{_mm(y / scale)}D03*"]
    return ("\n".join(lines) + "\nM02*\n").encode()


def outline() -> bytes:
    """The 60 x 40 mm board edge."""
    return (b"%FSLAX46Y46*%\n%MOMM*%\n%ADD10C,0.1*%\nD10*\nX0Y0D02*\nX60000000Y0D01*\n"
            b"X60000000Y40000000D01*\nX0Y40000000D01*\nX0Y0D01*\nM02*\n")


def excellon(holes, inch=False, header="", tool_attrs=None) -> bytes:
    """An Excellon file of (x, y, d) holes in mm: METRIC decimal, or INCH with leading zeros
    suppressed in 2.4 format (the Eagle way)."""
    tools = sorted({d for _, _, d in holes})
    lines = ["M48", header.strip()] if header else ["M48"]
    lines.append("INCH,TZ" if inch else "METRIC")
    for n, d in enumerate(tools, start=1):
        if tool_attrs:
            lines.append(f"; #@! TA.AperFunction,{tool_attrs[d]}")
        lines.append(f"T{n}C{d / 25.4:.4f}" if inch else f"T{n}C{d:.3f}")
    lines.append("%")
    for n, d in enumerate(tools, start=1):
        lines.append(f"T{n}")
        for x, y, hd in holes:
            if hd == d:
                lines.append(f"X{round(x / 25.4 * 10000)}Y{round(y / 25.4 * 10000)}" if inch
                             else f"X{x:.3f}Y{y:.3f}")
    lines.append("M30")
    return ("\n".join(line for line in lines if line) + "\n").encode()


def board(drills, units="MM") -> dict:
    """The Gerber zip's files for the board, with the given drill files."""
    top = [(x, y, pad) for x, y, _, pad in PINS + VIAS] + [FIDUCIAL]
    rects = [(x, y, w, h) for x, y, w, h in SMD_PADS]
    through = [(x, y, pad) for x, y, _, pad in PINS + VIAS]
    mask_top = [(x, y, pad + 0.1) for x, y, _, pad in PINS] + [(3, 37, 3.0)]
    return {
        "b-F_Cu.gbr": gerber(top, rects[:2], units=units),
        "b-B_Cu.gbr": gerber(through, rects[2:], units=units),
        "b-F_Mask.gbr": gerber(mask_top, rects[:2]), "b-B_Mask.gbr": gerber(through, rects[2:]),
        "b-F_SilkS.gbr": outline(), "b-Edge_Cuts.gbr": outline(), **drills,
    }


def plated_holes():
    """Every plated hole of the board: pins and vias."""
    return [(x, y, d) for x, y, d, _ in PINS + VIAS]


def zipped(files) -> bytes:
    """A zip of name -> bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def geometry(files):
    """read_geometry over the layers identified in the files."""
    found, _ = check_layers(zipped(files), [])
    return read_geometry(found)


def check(files, bom=BOM, cpl=CPL):
    """check_package over the board."""
    return check_package(zipped(files), bom, "bom.csv", cpl, "cpl.csv")


KICAD_DRILLS = {"b-PTH.drl": excellon(plated_holes()), "b-NPTH.drl": excellon([TOOLING])}


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("drills,plated,nonplated", [
    (KICAD_DRILLS, True, False),
    ({"b-Plated.TXT": excellon(plated_holes()), "b-NonPlated.TXT": excellon([TOOLING])},
     True, False),
    ({"b.drl": excellon(plated_holes(), inch=True), "b-tooling.drl": excellon([TOOLING])},
     None, None),
    ({"b.drl": excellon(plated_holes() + [TOOLING], tool_attrs={
        **{d: "Plated,PTH,ComponentDrill" for _, _, d in plated_holes()},
        TOOLING[2]: "NonPlated,NPTH,ComponentDrill"})}, True, False),
    ({"b-PTH.drl": excellon(plated_holes(), header="; #@! TF.FileFunction,NonPlated,1,2,NPTH"),
      "b-NPTH.drl": excellon([TOOLING])}, False, False),  # the attribute outweighs the name
])
def test_holes_in_mm_with_their_plating(drills, plated, nonplated):
    g, problems = geometry(board(drills))
    assert problems == []
    holes = {(round(h.x_mm, 2), round(h.y_mm, 2)): h for h in g.holes}
    assert len(holes) == len(PINS) + len(VIAS) + 1
    for x, y, d in plated_holes():
        hole = holes[(x, round(y, 2))]
        assert hole.diameter_mm == pytest.approx(d, abs=0.01)
        assert hole.plated is plated
    assert holes[(3, 3)] == Hole(3, 3, pytest.approx(3.0, abs=0.01), nonplated)


def test_pads_outline_and_extent_in_mm_from_an_inch_gerber():
    g, _ = geometry(board(KICAD_DRILLS, units="IN"))
    assert g.outline_mm == pytest.approx((0, 0, 60, 40))
    top = {(round(p.x_mm, 2), round(p.y_mm, 2)): p for p in g.copper["top"]}
    assert top[(7.5, 20)].shape == "circle"
    assert top[(7.5, 20)].width_mm == pytest.approx(2.0, abs=0.001)
    assert top[(19.5, 10)].shape == "rect"
    assert (top[(19.5, 10)].width_mm, top[(19.5, 10)].height_mm) == pytest.approx((0.6, 0.5))
    assert g.copper_extent_mm["top"] == pytest.approx((2.5, 9.75, 46.75, 37.5), abs=0.001)
    assert len(g.mask["top"]) == len(PINS) + 1 + 2


def test_an_unreadable_drill_file_is_a_problem_not_an_exception():
    files = board({"b-PTH.drl": b"M48\nMETRIC\nT1C0.8\n%\nT1\nX1000Y1000\nT9\nM30\n",
                   "b-NPTH.drl": excellon([TOOLING])})
    g, problems = geometry(files)
    assert [p["code"] for p in problems] == ["UNREADABLE_LAYER"]
    assert problems[0]["name"] == "b-PTH.drl" and "b-PTH.drl" in problems[0]["message"]
    assert len(g.holes) == 1


# ---------------------------------------------------------------------------------------------
# Through-hole told from the drill file
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("drills", [
    KICAD_DRILLS,
    {"b-Plated.TXT": excellon(plated_holes(), inch=True), "b-NonPlated.TXT": excellon([TOOLING])},
])
def test_plated_holes_under_pads_make_a_part_through_hole(drills):
    r = check(board(drills))
    assert r["placement"]["dip"] == ["J1", "J2", "U2"]
    assert r["placement"]["smt_top"] == ["C1"]  # the big via beside it is not under its pads
    assert r["placement"]["smt_bottom"] == ["R1"]
    assert r["parts"] == {"smt_top": 1, "smt_bottom": 1, "dip": 3, "dip_top": 2, "dip_bottom": 1}
    assert r["dip_parts"] == [{"ref": "J1", "side": "top"}, {"ref": "J2", "side": "top"},
                              {"ref": "U2", "side": "bottom"}]
    said = next(p for p in r["problems"] if p["code"] == "MOUNT_TYPE_CONTRADICTED")
    assert said["severity"] == "info" and said["drilled"] == ["J1"]  # "SMD_CONN_2P"
    assert said["not_drilled"] == [] and "J1" in said["message"]
    assert r["centroid_frame"]["how"] == "as written"


def test_words_that_say_through_hole_without_holes_are_reported():
    bom = BOM.replace(b"C_0402", b"DIP-2 THT")
    r = check(board(KICAD_DRILLS), bom=bom)
    assert "C1" in r["placement"]["smt_top"]
    said = next(p for p in r["problems"] if p["code"] == "MOUNT_TYPE_CONTRADICTED")
    assert said["not_drilled"] == ["C1"]


def test_a_mount_type_column_outweighs_the_holes():
    cpl = CPL.replace(b"Rotation\n", b"Rotation,Type\n").replace(b",0\n", b",0,smd\n")
    cpl = cpl.replace(b",90\n", b",90,smd\n")
    r = check(board(KICAD_DRILLS), cpl=cpl)
    assert r["placement"]["dip"] == []
    said = next(p for p in r["problems"] if p["code"] == "MOUNT_TYPE_CONTRADICTED")
    assert said["drilled"] == ["J1", "J2", "U2"]


def test_a_centroid_in_mil_on_another_origin_is_fitted():
    lines = [CPL.splitlines()[0]]
    for row in CPL.splitlines()[1:]:
        ref, x, y, side, rot = row.split(b",")
        lines.append(b",".join([ref, b"%.1f" % ((float(x) - 5) / 0.0254),
                                b"%.1f" % ((float(y) - 5) / 0.0254), side, rot]))
    cpl = b"\n".join(lines) + b"\n"
    files = board(KICAD_DRILLS)
    files["b-Edge_Cuts.gbr"] = (b"%FSLAX46Y46*%\n%MOMM*%\n%ADD10C,0.1*%\nD10*\nX5000000Y5000000D02*"
                                b"\nX60000000Y5000000D01*\nX60000000Y40000000D01*\n"
                                b"X5000000Y40000000D01*\nX5000000Y5000000D01*\nM02*\n")
    r = check(files, cpl=cpl)
    assert r["centroid_frame"]["unit"] == "mil"
    assert r["centroid_frame"]["offset_mm"] == [5.0, 5.0]
    assert r["placement"]["dip"] == ["J1", "J2", "U2"]
    assert "CENTROID_FRAME_FITTED" in [p["code"] for p in r["problems"]]


def test_without_a_drill_file_the_words_decide_and_the_report_says_so():
    files = board({})
    r = check(files)
    assert r["placement"]["dip"] == ["J2", "U2"]  # HDR and PinSocket words; J1 says SMD
    assert "THROUGH_HOLE_FROM_WORDS" in [p["code"] for p in r["problems"]]


# ---------------------------------------------------------------------------------------------
# Footprints compared as a person would
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bom,centroid", [
    ("RES 0402_1005 RF", "RES_0402_1005_RF"), ("c_0402", "C-0402"), ("0402", "0402."),
    ("SOT-23", "SOT23"), ("Lib:R_0603", "r 0603"), ("R_0603\u200e", "R_0603"),
    ("\ufeffR\u00a00603", "R 0603"), ("R\u200b_0603\u200f", "r_0603"), ("ＱＦＮ-16", "QFN16"),
])
def test_the_same_footprint_written_differently(bom, centroid):
    assert footprint_key(bom) == footprint_key(centroid)


@pytest.mark.parametrize("bom,centroid", [
    ("0402", "0603"), ("SOT-23", "SOT-23-5"), ("R_0603_1608", "R_0603_1068"),
    ("SOIC-8_P1.27", "SOIC-8_P127"),
])
def test_a_real_footprint_difference(bom, centroid):
    assert footprint_key(bom) != footprint_key(centroid)


def test_footprint_mismatch_names_both_texts_per_designator():
    bom = b"Designator,Footprint\nR1,RES 0402_1005 RF\nR2,R_0402\nC1,C\xe2\x80\x8e0402\n"
    cpl = (b"Designator,Mid X,Mid Y,Layer,Footprint\nR1,1,1,Top,RES_0402_1005_RF\n"
           b"R2,2,1,Top,R_0603\nC1,3,1,Top,C0402\n")
    r = check_package(zipped(board(KICAD_DRILLS)), bom, "b.csv", cpl, "c.csv")
    mismatch = next(p for p in r["problems"] if p["code"] == "FOOTPRINT_MISMATCH")
    assert mismatch["severity"] == "warning"
    assert mismatch["footprints"] == [{"ref": "R2", "bom": "R_0402", "centroid": "R_0603"}]
    assert mismatch["designators"] == ["R2 (R_0402 / R_0603)"]
