"""The data-package checker over small packages generated here: layers, tables, matching, panel."""

import io
import os
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from station.readiness.datapackage import check_package, judge_panel
from station.readiness.datapackage.parts import _expand

# ---------------------------------------------------------------------------------------------
# Generated fixtures
# ---------------------------------------------------------------------------------------------

SQUARE_MM = "X0Y0D02*\nX50000000Y0D01*\nX50000000Y30000000D01*\nX0Y30000000D01*\nX0Y0D01*\n"


def gerber(function=None, body=SQUARE_MM, units="MM", fmt="%FSLAX46Y46*%", comment_x2=False,
           end=True):
    """A tiny RS-274X file, with an X2 FileFunction attribute when one is given."""
    lines = []
    if function and comment_x2:
        lines.append(f"G04 #@! TF.FileFunction,{function}*")
    elif function:
        lines.append(f"%TF.FileFunction,{function}*%")
    lines += [fmt, f"%MO{units}*%", "%ADD10C,0.100000*%", "G01*", "D10*", body.strip()]
    if end:
        lines.append("M02*")
    return ("\n".join(lines) + "\n").encode()


def excellon(header="M48\nMETRIC\n", x2=None):
    """A tiny Excellon drill file."""
    attr = f"; #@! TF.FileFunction,{x2}\n" if x2 else ""
    return f"{header}{attr}T1C0.800\n%\nT1\nX1.0Y1.0\nX2.0Y1.0\nM30\n".encode()


def make_zip(files):
    """A zip archive (bytes) of name -> bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


KICAD = {
    "board-F_Cu.gbr": gerber(), "board-B_Cu.gbr": gerber(), "board-In1_Cu.gbr": gerber(),
    "board-F_Mask.gbr": gerber(), "board-B_Mask.gbr": gerber(),
    "board-F_Silkscreen.gbr": gerber(), "board-B_SilkS.gbr": gerber(),
    "board-F_Paste.gbr": gerber(), "board-Edge_Cuts.gbr": gerber(),
    "board-PTH.drl": excellon(), "board-NPTH.drl": excellon(),
    "board-drl_map.gbr": gerber(), "board-job.gbrjob": b'{"FileFunction": "Copper,L1,Top"}',
}
X2_CUSTOM = {
    "out/L1_Front.gbr": gerber("Copper,L1,Top"), "out/L2_Ground.gbr": gerber("Copper,L2,Inr"),
    "out/L4_Signal.gbr": gerber("Copper,L4,Bot"), "out/front-resist.gbr": gerber("Soldermask,Top"),
    "out/front-text.gbr": gerber("Legend,Top"), "out/front-cream.gbr": gerber("Paste,Top"),
    "out/rim.gbr": gerber("Profile,NP"), "out/holes.drl": excellon(x2="MixedPlating,1,4"),
    "out/notes.gbr": gerber("Other,Comment"),
}
ALTIUM = {
    "Gerber/Board.GTL": gerber(), "Gerber/Board.GBL": gerber(), "Gerber/Board.G1": gerber(),
    "Gerber/Board.GTS": gerber(), "Gerber/Board.GBS": gerber(), "Gerber/Board.GTO": gerber(),
    "Gerber/Board.GTP": gerber(), "Gerber/Board.GKO": gerber(), "Gerber/Board.REP": b"report\n",
    "NC Drill/Board.TXT": excellon("M48\n;FILE_FORMAT=4:4\nMETRIC,LZ\n"),
    "NC Drill/Board.DRR": b"drill report\n", "ReadMe.txt": b"Please make 10 boards.\n",
}
EAGLE = {
    "board.cmp": gerber(units="IN", fmt="%FSLAX25Y25*%"), "board.sol": gerber(),
    "board.stc": gerber(), "board.sts": gerber(), "board.plc": gerber(), "board.pls": gerber(),
    "board.crc": gerber(), "board.dim": gerber(), "board.drd": excellon("%\nM48\nM72\n"),
    "board.gpi": b"photoplotter info\n", "board.dri": b"drill info\n",
}
EAGLE_CAM = {
    "CAM/board.GTL": gerber(), "CAM/board.GBL": gerber(), "CAM/board.GTS": gerber(),
    "CAM/board.GBS": gerber(), "CAM/board.GTO": gerber(), "CAM/board.GML": gerber(),
    "CAM/board.XLN": excellon(),
}

JLC_BOM = b"""Comment,Designator,Footprint,LCSC
100nF,"C1,C2",C_0402,C1525
10k,R1-R3,R_0603,C25804
LED,D1,LED_0805,C2297
Header,J1,PinHeader_1x04_P2.54mm_Vertical,C124
"""
JLC_CPL = b"""Designator,Mid X,Mid Y,Layer,Rotation
C1,10,10,Top,0
C2,12,10,Top,90
R1,14,10,Top,0
R2,16,10,Top,0
R3,18,10,Bottom,180
D1,20,10,Bottom,0
J1,30,10,Top,0
FID1,2,2,Top,0
"""


def report(gerber_zip=None, bom=JLC_BOM, bom_name="bom.csv", cpl=JLC_CPL, cpl_name="cpl.csv"):
    """check_package with the KiCad layer set by default."""
    blob = make_zip(KICAD) if gerber_zip is None else gerber_zip
    return check_package(blob, bom, bom_name, cpl, cpl_name)


def codes(result, severity=None):
    """Problem codes of a report (or of a problem list), optionally of one severity."""
    problems = result["problems"] if isinstance(result, dict) else result
    return [p["code"] for p in problems if severity is None or p["severity"] == severity]


def split(result):
    """The SMT top / SMT bottom / DIP counts of a report (parts also has dip_top, dip_bottom)."""
    return {k: result["parts"][k] for k in ("smt_top", "smt_bottom", "dip")}


def problem(result, code):
    """The first problem with this code."""
    return next(p for p in result["problems"] if p["code"] == code)


def xlsx(rows, inline=False, doctype=False):
    """A minimal XLSX workbook (bytes) with one sheet of string rows, written with zipfile
    (inline strings and a DTD are what openpyxl's writer cannot make)."""
    strings, sheet_rows = [], []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row):
            ref = f"{chr(65 + c)}{r}"
            if value == "":
                continue
            if isinstance(value, (int, float)):
                cells.append(f'<c r="{ref}"><v>{value}</v></c>')
            elif inline:
                cells.append(f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>')
            else:
                strings.append(value)
                cells.append(f'<c r="{ref}" t="s"><v>{len(strings) - 1}</v></c>')
        sheet_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    dtd = '<!DOCTYPE x [<!ENTITY a "aaaa">]>' if doctype else ""
    shared = "".join(f"<si><t>{s}</t></si>" for s in strings)
    files = {
        # openpyxl finds the parts by their content types, as Excel does
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/'
            'data.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
            'worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'),
        "xl/workbook.xml": f'<workbook {ns} {rel}><sheets><sheet name="BOM" sheetId="1" '
                           f'r:id="rId7"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId7" Target="worksheets/data.xml" Type="http://schemas.openxml'
            'formats.org/officeDocument/2006/relationships/worksheet"/><Relationship Id="rId8" '
            'Target="sharedStrings.xml" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/sharedStrings"/></Relationships>'),
        "xl/worksheets/data.xml": f'{dtd}<worksheet {ns}><sheetData>{"".join(sheet_rows)}'
                                  f"</sheetData></worksheet>",
        "xl/worksheets/sheet1.xml": f"<worksheet {ns}><sheetData/></worksheet>",
        "xl/sharedStrings.xml": f"<sst {ns}>{shared}</sst>",
    }
    return make_zip({k: v.encode() for k, v in files.items()})


# ---------------------------------------------------------------------------------------------
# Report shape
# ---------------------------------------------------------------------------------------------


def test_report_has_the_api_shape():
    r = report()
    assert isinstance(r["complete"], bool)
    assert set(r["parts"]) == {"smt_top", "smt_bottom", "dip", "dip_top", "dip_bottom"}
    assert all(isinstance(n, int) for n in r["parts"].values())
    assert {"copper", "drill", "silkscreen", "soldermask"} <= set(r["layers"])
    for p in r["problems"]:
        assert {"code", "message", "severity"} <= set(p)
        assert p["severity"] in ("error", "warning", "info")
    for f in r["files"]:
        assert {"name", "layer", "side", "how"} <= set(f)
    assert {"bom_only", "centroid_only", "dnp"} <= set(r["designators"])


def test_good_package_is_complete_and_ready():
    r = report()
    assert r["complete"] is True
    assert r["ready"] is True
    assert codes(r, "error") == []
    assert split(r) == {"smt_top": 4, "smt_bottom": 2, "dip": 1}
    assert r["placement"]["dip"] == ["J1"]
    assert r["placement"]["smt_bottom"] == ["D1", "R3"]
    assert r["designators"]["not_parts"] == {"fiducial": ["FID1"]}


def test_problems_come_errors_first():
    bad_cpl = JLC_CPL.replace(b"C2,12,10,Top,90\n", b"") + b"X9,1,1,Middle,0\n"
    r = report(cpl=bad_cpl)
    ranks = [("error", "warning", "info").index(p["severity"]) for p in r["problems"]]
    assert ranks == sorted(ranks)


# ---------------------------------------------------------------------------------------------
# Gerber layers
# ---------------------------------------------------------------------------------------------


def by_name(result):
    """The files of a report by name."""
    return {f["name"]: f for f in result["files"]}


def test_kicad_names_without_x2():
    r = report(make_zip(KICAD))
    layers, files = r["layers"], by_name(r)
    assert layers["copper"] == ["board-B_Cu.gbr", "board-F_Cu.gbr", "board-In1_Cu.gbr"]
    assert layers["drill"] == ["board-NPTH.drl", "board-PTH.drl"]
    assert layers["silkscreen"] == ["board-B_SilkS.gbr", "board-F_Silkscreen.gbr"]
    assert layers["soldermask"] == ["board-B_Mask.gbr", "board-F_Mask.gbr"]
    assert layers["paste"] == ["board-F_Paste.gbr"]
    assert layers["outline"] == ["board-Edge_Cuts.gbr"]
    assert "board-drl_map.gbr" in layers["other"]
    assert files["board-F_Cu.gbr"] | {} == {"name": "board-F_Cu.gbr", "layer": "copper",
                                            "side": "top", "how": "name"}
    assert files["board-B_Mask.gbr"]["side"] == "bottom"
    assert files["board-In1_Cu.gbr"]["side"] == "inner"
    assert files["board-job.gbrjob"]["layer"] == "ignored"
    assert r["copper_layers"] == 3


def test_x2_attributes_win_over_custom_names():
    r = report(make_zip(X2_CUSTOM))
    files = by_name(r)
    assert r["complete"]
    assert files["out/L2_Ground.gbr"] == {"name": "out/L2_Ground.gbr", "layer": "copper",
                                          "side": "inner", "how": "X2",
                                          "function": "Copper,L2,Inr"}
    assert files["out/L4_Signal.gbr"]["side"] == "bottom"
    assert files["out/front-resist.gbr"]["layer"] == "soldermask"
    assert files["out/front-text.gbr"]["layer"] == "silkscreen"
    assert files["out/front-cream.gbr"]["layer"] == "paste"
    assert files["out/rim.gbr"]["layer"] == "outline"
    assert files["out/holes.drl"]["how"] == "X2"
    assert files["out/notes.gbr"]["layer"] == "other"


def test_x2_in_comment_form_counts():
    files = dict(X2_CUSTOM)
    files["out/L1_Front.gbr"] = gerber("Copper,L1,Top", comment_x2=True)
    r = report(make_zip(files))
    assert by_name(r)["out/L1_Front.gbr"]["how"] == "X2"
    assert "out/L1_Front.gbr" in r["layers"]["copper"]


def test_x2_beats_a_misleading_name():
    files = dict(KICAD)
    files["board-F_Cu.gbr"] = gerber("Soldermask,Top")
    r = report(make_zip(files))
    assert "board-F_Cu.gbr" in r["layers"]["soldermask"]
    assert "board-F_Cu.gbr" not in r["layers"]["copper"]


def test_altium_protel_extensions_in_folders():
    r = report(make_zip(ALTIUM))
    files = by_name(r)
    assert r["complete"]
    assert r["layers"]["copper"] == ["Gerber/Board.G1", "Gerber/Board.GBL", "Gerber/Board.GTL"]
    assert r["layers"]["drill"] == ["NC Drill/Board.TXT"]
    assert r["layers"]["silkscreen"] == ["Gerber/Board.GTO"]
    assert r["layers"]["outline"] == ["Gerber/Board.GKO"]
    assert files["Gerber/Board.GTL"]["side"] == "top"
    assert files["Gerber/Board.G1"]["side"] == "inner"
    assert files["ReadMe.txt"]["layer"] == "ignored"  # a .txt that is not Excellon
    assert files["Gerber/Board.REP"]["layer"] == "ignored"


def test_eagle_extensions():
    r = report(make_zip(EAGLE))
    files = by_name(r)
    assert r["complete"]
    assert files["board.cmp"]["layer"] == "copper" and files["board.cmp"]["side"] == "top"
    assert files["board.sol"]["side"] == "bottom"
    assert files["board.stc"]["layer"] == "soldermask"
    assert files["board.pls"]["layer"] == "silkscreen"
    assert files["board.crc"]["layer"] == "paste"
    assert files["board.dim"]["layer"] == "outline"
    assert files["board.drd"]["layer"] == "drill"
    assert files["board.gpi"]["layer"] == "ignored"


def test_eagle_cam_protel_style_names():
    r = report(make_zip(EAGLE_CAM))
    assert r["complete"]
    assert r["layers"]["drill"] == ["CAM/board.XLN"]
    assert r["layers"]["outline"] == ["CAM/board.GML"]


def test_numbered_copper_layers_get_sides():
    files = {f"b.L{n}": gerber() for n in range(1, 5)}
    files |= {"b.smt": gerber(), "b.slk": gerber(), "b.oln": gerber(), "b.drd": excellon()}
    r = report(make_zip(files))
    sides = {f["name"]: f["side"] for f in r["files"]}
    assert r["complete"]
    assert (sides["b.L1"], sides["b.L2"], sides["b.L3"], sides["b.L4"]) == (
        "top", "inner", "inner", "bottom")


def test_layer_names_with_other_content_are_flagged():
    files = dict(KICAD)
    files["board-F_Cu.gbr"] = b"%PDF-1.4 a drawing, not Gerber"
    files["board-PTH.drl"] = b"holes: see drawing"
    r = report(make_zip(files))
    flagged = {p["name"]: p["message"] for p in r["problems"] if p["code"] == "NOT_GERBER"}
    assert set(flagged) == {"board-F_Cu.gbr", "board-PTH.drl"}
    assert "copper" in flagged["board-F_Cu.gbr"]
    assert "board-F_Cu.gbr" not in r["layers"]["copper"]
    assert r["layers"]["drill"] == ["board-NPTH.drl"]


def test_excellon_recognised_by_content_under_any_name():
    files = {k: v for k, v in KICAD.items() if not k.endswith(".drl")}
    files["fab/holes.abc"] = excellon()
    r = report(make_zip(files))
    assert r["layers"]["drill"] == ["fab/holes.abc"]
    assert by_name(r)["fab/holes.abc"]["how"] == "content"
    assert r["complete"]


def test_keyword_names_as_last_resort():
    files = {"copper_top.gbr": gerber(), "soldermask_top.gbr": gerber(),
             "silkscreen_top.gbr": gerber(), "profile.gbr": gerber(), "drill_1_16.xln": excellon()}
    r = report(make_zip(files))
    assert r["complete"]
    assert by_name(r)["copper_top.gbr"]["side"] == "top"


@pytest.mark.parametrize("layer,drop", [
    ("copper", ("board-F_Cu.gbr", "board-B_Cu.gbr", "board-In1_Cu.gbr")),
    ("drill", ("board-PTH.drl", "board-NPTH.drl")),
    ("silkscreen", ("board-F_Silkscreen.gbr", "board-B_SilkS.gbr")),
    ("soldermask", ("board-F_Mask.gbr", "board-B_Mask.gbr")),
])
def test_missing_layer_is_an_error(layer, drop):
    r = report(make_zip({k: v for k, v in KICAD.items() if k not in drop}))
    assert r["complete"] is False and r["ready"] is False
    missing = [p for p in r["problems"] if p["code"] == "MISSING_LAYER"]
    assert [p["layer"] for p in missing] == [layer]
    assert missing[0]["severity"] == "error"
    assert layer in missing[0]["message"]
    assert r["layers"][layer] == []


def test_missing_layer_names_unrecognised_gerbers():
    files = {k: v for k, v in KICAD.items() if "Silk" not in k}
    files["mystery.gbr"] = gerber()
    r = report(make_zip(files))
    assert "mystery.gbr" in problem(r, "MISSING_LAYER")["message"]
    assert "UNKNOWN_LAYER_FILE" in codes(r, "info")


def test_no_paste_and_no_outline_are_warnings():
    files = {k: v for k, v in KICAD.items() if "Paste" not in k and "Edge" not in k}
    r = report(make_zip(files))
    assert r["complete"] and r["ready"]
    assert {"NO_PASTE_LAYER", "NO_OUTLINE"} <= set(codes(r, "warning"))
    assert "board_outline_mm" not in r


def test_truncated_and_empty_layer_files():
    files = dict(KICAD)
    files["board-F_Cu.gbr"] = gerber(end=False)
    files["board-B_Cu.gbr"] = b""
    r = report(make_zip(files))
    assert problem(r, "TRUNCATED_LAYER")["names"] == ["board-F_Cu.gbr"]
    assert "EMPTY_LAYER_FILE" in codes(r, "warning")
    assert "board-B_Cu.gbr" not in r["layers"]["copper"]


def test_macos_junk_is_skipped_and_nested_zip_flagged():
    files = dict(KICAD)
    files["__MACOSX/._board-F_Cu.gbr"] = b"\x00\x05\x16\x07junk"
    files["more/inner.zip"] = make_zip({"x.GTL": gerber()})
    r = report(make_zip(files))
    assert not any("__MACOSX" in f["name"] for f in r["files"])
    assert "NESTED_ZIP" in codes(r, "warning")


# ---------------------------------------------------------------------------------------------
# Board outline
# ---------------------------------------------------------------------------------------------


def outline_of(files):
    """board_outline_mm of a report built from these files."""
    return report(make_zip(files)).get("board_outline_mm")


def test_outline_in_mm():
    assert outline_of(KICAD) == {"width": 50.0, "height": 30.0, "file": "board-Edge_Cuts.gbr"}


def test_outline_in_inches_format_25():
    body = "X0Y0D02*\nX80000D01*\nY144000D01*\nX0D01*\nY0D01*\n"
    files = dict(EAGLE)
    files["board.dim"] = gerber(body=body, units="IN", fmt="%FSLAX25Y25*%")
    assert outline_of(files) == {"width": 20.32, "height": 36.58, "file": "board.dim"}


def test_outline_with_trailing_zeros_omitted():
    body = "X0Y0D02*\nX01D01*\nY002D01*\n"  # FSTAX24: X01 = 01.0000 in, Y002 = 00.2000 in
    files = dict(KICAD)
    files["board-Edge_Cuts.gbr"] = gerber(body=body, units="IN", fmt="%FSTAX24Y24*%")
    assert outline_of(files)["width"] == 25.4
    assert outline_of(files)["height"] == 5.08


def test_outline_of_a_round_board_from_one_arc():
    body = "G75*\nX10000000Y0D02*\nG03*\nX10000000Y0I-10000000J0D01*\n"  # full circle r 10 mm
    files = dict(KICAD)
    files["board-Edge_Cuts.gbr"] = gerber(body=body)
    assert outline_of(files)["width"] == 20.0 and outline_of(files)["height"] == 20.0


def test_outline_with_rounded_corner_arcs():
    body = ("G75*\nX10000Y0D02*\nX390000Y0D01*\nG03*\nX400000Y10000I0J10000D01*\nG01*\n"
            "X400000Y190000D01*\nX0Y190000D01*\nX0Y10000D01*\nG02*\nX10000Y0I10000J0D01*\n")
    files = dict(ALTIUM)
    files["Gerber/Board.GKO"] = gerber(body=body, fmt="%FSLAX44Y44*%")
    assert outline_of(files) == {"width": 40.0, "height": 19.0, "file": "Gerber/Board.GKO"}


def test_x2_profile_is_preferred_for_the_outline():
    files = dict(X2_CUSTOM)
    files["extra.GKO"] = gerber(body="X0Y0D02*\nX1000000Y1000000D01*\n")
    assert outline_of(files)["file"] == "out/rim.gbr"


def test_outline_without_format_is_not_measured():
    files = dict(KICAD)
    files["board-Edge_Cuts.gbr"] = b"G04 nothing*\nX0Y0D02*\nX10Y10D01*\nM02*\n"
    assert outline_of(files) is None


# ---------------------------------------------------------------------------------------------
# BOM and centroid formats
# ---------------------------------------------------------------------------------------------


def test_jlc_bom_expands_lists_and_ranges():
    r = report()
    assert r["designators"]["bom"] == 7
    assert r["designators"]["bom_only"] == [] and r["designators"]["centroid_only"] == []
    assert r["bom_columns"]["designator"] == "Designator"
    assert r["centroid_columns"]["side"] == "Layer"


@pytest.mark.parametrize("cell,expected", [
    ("R1-R3", ["R1", "R2", "R3"]),
    ("R1 - R3", ["R1", "R2", "R3"]),
    ("R1-3", ["R1", "R2", "R3"]),
    ("R1, R2 R3;R4", ["R1", "R2", "R3", "R4"]),
    ("R01-R03", ["R01", "R02", "R03"]),
    ("U1-1", ["U1-1"]),
    ("R5-R2", ["R5-R2"]),
])
def test_designator_cells(cell, expected):
    assert _expand(cell, []) == expected


def test_huge_range_is_not_expanded():
    big = []
    assert _expand("R1-R999999", big) == ["R1-R999999"]
    assert big == ["R1-R999999"]


KICAD_POS = b"""### Footprint positions - created on 2025-01-01 ###
### Printed by KiCad version 8.0
## Unit = mm, Angle = deg.
## Side : All
# Ref     Val       Package                PosX       PosY       Rot  Side
C1        100n      C_0603_1608Metric    100.0000   -50.0000    90.0000  top
R1        10k       R_0603_1608Metric    102.0000   -50.0000     0.0000  top
U1        LM358     SOIC-8_3.9x4.9mm     110.0000   -55.0000     0.0000  bottom
## End
"""
KICAD_BOM = b'''"Reference","Value","Footprint","Qty","DNP"
"C1","100n","Capacitor_SMD:C_0603_1608Metric","1",""
"R1","10k","Resistor_SMD:R_0603_1608Metric","1",""
"R2","10k","Resistor_SMD:R_0603_1608Metric","1","DNP"
"U1","LM358","Package_SO:SOIC-8_3.9x4.9mm","1",""
"J1","Conn","Connector_PinHeader_2.54mm:PinHeader_1x02_P2.54mm_Vertical","1",""
'''


def test_kicad_pos_and_bom():
    r = report(bom=KICAD_BOM, bom_name="board.csv", cpl=KICAD_POS, cpl_name="board-all.pos")
    assert r["centroid_columns"]["format"] == "text"
    assert r["centroid_columns"]["x"] == "PosX"
    assert split(r) == {"smt_top": 2, "smt_bottom": 1, "dip": 1}
    assert r["designators"]["dnp"] == ["R2"]
    assert r["designators"]["dip_not_in_centroid"] == ["J1"]
    assert "DESIGNATOR_MISMATCH" not in codes(r)
    assert "DNP" in codes(r, "info") and "DIP_NOT_IN_CENTROID" in codes(r, "info")


def test_kicad_position_csv_with_type_column():
    cpl = b"""Ref,Val,Package,PosX,PosY,Rot,Side,Type
C1,100n,C_0603,1,1,0,top,smd
R1,10k,R_0603,2,1,0,bottom,SMD
U1,LM358,SOIC-8,3,1,0,top,smd
J1,Conn,Custom_Conn,4,1,0,top,th
"""
    r = report(bom=KICAD_BOM, cpl=cpl)
    assert split(r) == {"smt_top": 2, "smt_bottom": 1, "dip": 1}
    assert "MOUNT_TYPE_GUESSED" not in codes(r)
    assert r["centroid_columns"]["mount"] == "Type"


ALTIUM_PNP = """Altium Designer Pick and Place Locations
C:\\Users\\Public\\Documents\\Project\\Pick Place\\Pick Place for Board.txt

========================================================================================
File Design Information:

Date:       07/05/24
Units used: mil

Designator Comment   Layer       Footprint     Center-X(mil) Center-Y(mil) Rotation Description
C1         ""        TopLayer    C0402         100.000       200.000       0        "Cap \u00b110%"
R1         10K       TopLayer    R0603         300.000       200.000       90       "Resistor, 10K"
U1         LM358     BottomLayer SOIC8         500.000       100.000       180      "Op amp"
J1         HDR       TopLayer    HDR1X4        600.000       100.000       0        "Header, TH"
FID1       FIDUCIAL  TopLayer    FIDUCIAL_1MM  0.000         0.000         0        "FIDUCIAL 1MM"
""".encode("cp1252")
ALTIUM_BOM = b'''"Comment","Description","Designator","Footprint","LibRef","Quantity"
"100nF","Cap","C1","C0402","CAP","1"
"10K","Resistor","R1","R0603","RES","1"
"LM358","Op amp","U1","SOIC8","OPAMP","1"
"HDR","Header, TH","J1","HDR1X4","HDR","1"
'''


def test_altium_pick_place_text_in_windows_1252():
    r = report(bom=ALTIUM_BOM, cpl=ALTIUM_PNP, cpl_name="Pick Place for Board.txt")
    assert r["centroid_columns"]["x"] == "Center-X(mil)"
    assert split(r) == {"smt_top": 2, "smt_bottom": 1, "dip": 1}
    assert r["placement"]["dip"] == ["J1"]
    assert r["designators"]["not_parts"] == {"fiducial": ["FID1"]}
    assert r["ready"]


def test_eagle_mountsmd_files_take_the_side_from_the_name():
    mnt = b"C1 10.00 20.00 90 100n C0603\nR1 12.00 20.00 0 10k R0603\n"
    mnb = b"U1 30.00 40.00 180 LM358 SO08\n"
    bom = b'"Part";"Value";"Device";"Package";"Description"\n' \
          b'"C1";"100n";"C-EUC0603";"C0603";"Capacitor"\n' \
          b'"R1";"10k";"R-EU_R0603";"R0603";"Resistor"\n' \
          b'"U1";"LM358";"LM358D";"SO08";"Op amp"\n'
    top = report(bom=bom, bom_name="board.csv", cpl=mnt, cpl_name="board.mnt")
    assert top["centroid_columns"]["format"] == "eagle-mnt"
    assert top["bom_columns"]["designator"] == "Part"
    assert split(top) == {"smt_top": 2, "smt_bottom": 0, "dip": 0}
    assert top["designators"]["bom_only"] == ["U1"]
    assert "NO_SIDE_COLUMN" not in codes(top)
    bottom = report(bom=bom, cpl=mnb, cpl_name="board.mnb")
    assert bottom["parts"]["smt_bottom"] == 1
    assert bottom["designators"]["bom_only"] == ["C1", "R1"]


def test_xlsx_bom_with_shared_strings():
    data = xlsx([["Comment", "Designator", "Footprint", "Quantity"],
                 ["100nF", "C1, C2", "C_0402", 2], ["10k", "R1-R3", "R_0603", 3],
                 ["LED", "D1", "LED_0805", 1], ["Header", "J1", "PinHeader_1x04_P2.54mm", 1]])
    r = report(bom=data, bom_name="BOM.xlsx")
    assert r["bom_columns"]["format"] == "xlsx"
    assert split(r) == {"smt_top": 4, "smt_bottom": 2, "dip": 1}
    assert "QUANTITY_MISMATCH" not in codes(r)


def test_xlsx_bom_with_inline_strings_and_a_title_row():
    data = xlsx([["Bill of materials, rev A"], [""], ["Designator", "Value"],
                 ["C1,C2", "100nF"], ["R1,R2,R3", "10k"], ["D1", "LED"], ["J1", "PinHeader"]],
                inline=True)
    r = report(bom=data, bom_name="anything.bin")
    assert r["designators"]["bom"] == 7
    assert r["designators"]["bom_only"] == [] and r["designators"]["centroid_only"] == []


def test_semicolon_tab_and_whitespace_tables():
    semicolon = JLC_BOM.replace(b",", b";").replace(b'"C1;C2"', b'"C1,C2"')
    tab = JLC_CPL.replace(b",", b"\t")
    spaces = b"Designator  X   Y   Side\n" + b"\n".join(
        f"{d}  1  1  {s}".encode() for d, s in
        [("C1", "T"), ("C2", "T"), ("R1", "T"), ("R2", "T"), ("R3", "B"), ("D1", "B"),
         ("J1", "T"), ("FID1", "T")])
    for bom, cpl in ((semicolon, tab), (JLC_BOM, spaces)):
        r = report(bom=bom, cpl=cpl, cpl_name="cpl.txt")
        assert split(r) == {"smt_top": 4, "smt_bottom": 2, "dip": 1}, r["problems"]


def test_utf16_tab_export_from_excel():
    r = report(bom=JLC_BOM.decode().replace(",", "\t").replace('"C1\tC2"', "C1 C2")
               .encode("utf-16"), bom_name="bom.txt")
    assert r["designators"]["bom"] == 7
    assert r["bom_columns"]["format"] == "tsv"


def test_header_matching_ignores_case_space_and_bom_mark():
    bom = "\ufeff  DESIGNATOR , comment\nC1,x\nC2,x\nR1,x\nR2,x\nR3,x\nD1,x\nJ1,PinHeader\n"
    cpl = b"REF DES;MID-X;mid y;LAYER\nC1;1;1;top\nC2;1;1;TOP\nR1;1;1;t\nR2;1;1;Top\n" \
          b"R3;1;1;bottom\nD1;1;1;B\nJ1;1;1;F.Cu\n"
    r = report(bom=bom.encode(), cpl=cpl)
    assert split(r) == {"smt_top": 4, "smt_bottom": 2, "dip": 1}
    assert r["centroid_columns"]["designator"] == "REF DES"


def test_chinese_headers():
    bom = "位号,数量,封装\nC1,1,0402\n".encode()
    cpl = "位号,中心X,中心Y,层\nC1,1,1,顶层\n".encode()
    r = report(bom=bom, cpl=cpl)
    assert r["parts"]["smt_top"] == 1 and r["designators"]["bom_only"] == []


# ---------------------------------------------------------------------------------------------
# Matching, DNP, through-hole
# ---------------------------------------------------------------------------------------------


def test_designator_mismatch_lists_both_sides():
    cpl = JLC_CPL.replace(b"C2,12", b"C22,12").replace(b"D1,20,10,Bottom,0\n", b"")
    r = report(cpl=cpl)
    p = problem(r, "DESIGNATOR_MISMATCH")
    assert p["severity"] == "error"
    assert p["bom_only"] == ["C2", "D1"] and p["centroid_only"] == ["C22"]
    assert "C22" in p["message"] and "D1" in p["message"]
    assert r["designators"]["bom_only"] == ["C2", "D1"]
    assert r["complete"] is True and r["ready"] is False


def test_designators_match_case_insensitively():
    r = report(cpl=JLC_CPL.replace(b"C1,10", b"c1,10"))
    assert "DESIGNATOR_MISMATCH" not in codes(r)


@pytest.mark.parametrize("bom", [
    b"Designator,Value\nC1,100n\nC2,DNP\n",
    b"Designator,Value\nC1,100n\nC2,do not place\n",
    b"Designator,Value\nC1,100n\nC2,DNF\n",
    b"Designator,Value\nC1,100n\nC2,NC\n",
    b"Designator,Value\nC1,100n\nC2,not fitted\n",
    b"Designator,Value,DNP\nC1,100n,\nC2,100n,x\n",
    b"Designator,Value,Fitted\nC1,100n,yes\nC2,100n,no\n",
    b"Designator,Value,Attributes\nC1,100n,SMD\nC2,100n,\"SMD, DNP\"\n",
])
def test_do_not_place_may_differ(bom):
    cpl = b"Designator,Mid X,Mid Y,Layer\nC1,1,1,Top\n"
    r = report(bom=bom, cpl=cpl)
    assert r["designators"]["dnp"] == ["C2"]
    assert "DESIGNATOR_MISMATCH" not in codes(r)
    assert problem(r, "DNP")["severity"] == "info"
    assert r["parts"]["smt_top"] == 1


def test_populate_zero_in_the_centroid_is_dnp():
    bom = b"Designator,Value\nC1,100n\nC2,100n\n"
    cpl = b"Designator\tX\tY\tSide\tType\tPopulate\nC1\t1\t1\t1\t1\t1\nC2\t1\t1\t1\t1\t0\n" \
          b"J2\t1\t1\t1\t2\t0\n"
    r = report(bom=bom, cpl=cpl)
    assert r["designators"]["dnp"] == ["C2", "J2"]
    assert split(r) == {"smt_top": 1, "smt_bottom": 0, "dip": 0}
    assert "DESIGNATOR_MISMATCH" not in codes(r)


@pytest.mark.parametrize("footprint,description,expected", [
    ("PinHeader_1x04_P2.54mm_Vertical", "", "dip"),
    ("PinSocket_2x16_P2.54mm_Vertical", "", "dip"),
    ("PinHeader_1x04_P2.54mm_Vertical_SMD", "", "smt_top"),
    ("CP_Radial_D5.0mm_P2.00mm", "", "dip"),
    ("TO-220-3_Vertical", "", "dip"),
    ("DIP-8_W7.62mm", "", "dip"),
    ("R_Axial_DIN0207", "", "dip"),
    ("Custom_THT_Relay", "", "dip"),
    ("FP-TFM-110", "CONN, HDR, 2x10, GOLD, TH", "dip"),
    ("FP-70246", "CONN HEADER VERT 20POS 2.54MM", "dip"),
    ("CON_M55", "CONN HEADER SMD R/A 20POS 1.27MM", "smt_top"),
    ("SOIC-8", "Op amp", "smt_top"),
    ("Package_TO_SOT_SMD:SOT-223-3", "", "smt_top"),
    ("QFN-16", "NTC THERMISTOR driver", "smt_top"),
])
def test_through_hole_heuristic(footprint, description, expected):
    bom = f'Designator,Footprint,Description\nX1,{footprint},"{description}"\n'.encode()
    cpl = b"Designator,Mid X,Mid Y,Layer\nX1,1,1,Top\n"
    r = report(bom=bom, cpl=cpl)
    assert r["placement"][expected] == ["X1"]


def test_mount_column_beats_the_footprint_name():
    bom = b"Designator,Footprint,Mount\nX1,PinHeader_1x02,SMT\nX2,R_0603,THT\n"
    cpl = b"Designator,Mid X,Mid Y,Layer\nX1,1,1,Top\nX2,1,1,Top\n"
    r = report(bom=bom, cpl=cpl)
    assert r["placement"]["smt_top"] == ["X1"] and r["placement"]["dip"] == ["X2"]


def test_bom_only_parts_count_as_dip_only_when_the_bom_says_so():
    bom = b"Designator,Footprint,Mount_Type\nC1,C_0603,smt\nJ1,Custom,tht\nC2,C_0603,smt\n"
    cpl = b"Designator,Mid X,Mid Y,Layer\nC1,1,1,Top\n"
    r = report(bom=bom, cpl=cpl)
    assert split(r) == {"smt_top": 1, "smt_bottom": 0, "dip": 1}
    assert r["designators"]["dip_not_in_centroid"] == ["J1"]
    assert problem(r, "DESIGNATOR_MISMATCH")["bom_only"] == ["C2"]


def test_things_that_are_not_parts():
    bom = (b"Designator,Footprint\nC1,C_0603\nPCB1,\nTP1,TestPoint_Pad_D2.0mm\n"
           b"H1,MountingHole_3.2mm\n")
    cpl = b"Designator,Mid X,Mid Y,Layer,Footprint\nC1,1,1,Top,C_0603\nFID1,0,0,Top,Fid\n" \
          b"MH1,0,0,Top,MH\nGND,0,0,Top,TP_VIA_31pad\nF2,0,0,Bottom,Fiducial_1mm\n"
    r = report(bom=bom, cpl=cpl)
    assert r["designators"]["not_parts"] == {
        "bare board": ["PCB1"], "fiducial": ["F2", "FID1"], "mounting hole": ["H1", "MH1"],
        "test pad": ["GND", "TP1"]}
    assert "DESIGNATOR_MISMATCH" not in codes(r)
    assert r["parts"]["smt_top"] == 1


def test_line_checks_mixed_line_undecided_value_quantity_footprint():
    bom = b"Comment,Designator,Footprint,Quantity\n,\"R1, R2, R3\",R0805,4\nTBD,C1,C0402,1\n"
    cpl = b"Designator,Mid X,Mid Y,Layer,Footprint,Description\n" \
          b"R1,1,1,Top,R0805,\"RES, 10K\"\nR2,1,1,Top,R0805,\"RES, 22R\"\n" \
          b"R3,1,1,Top,R0805,\"RES, 10K\"\nC1,1,1,Top,C0603,Cap\n"
    r = report(bom=bom, cpl=cpl)
    assert problem(r, "MIXED_BOM_LINE")["groups"] == {"RES, 10K": ["R1", "R3"],
                                                      "RES, 22R": ["R2"]}
    assert problem(r, "VALUE_UNDECIDED")["designators"] == ["C1"]
    assert "QUANTITY_MISMATCH" in codes(r, "warning")
    assert "C1 (C0402 / C0603)" in problem(r, "FOOTPRINT_MISMATCH")["designators"]
    assert r["ready"] is True  # warnings do not block


def test_duplicates_are_errors():
    bom = b"Designator\nC1\nC1\n"
    cpl = b"Designator,Mid X,Mid Y,Layer\nC1,1,1,Top\nC1,2,2,Top\n"
    r = report(bom=bom, cpl=cpl)
    dupes = [p for p in r["problems"] if p["code"] == "DUPLICATE_DESIGNATOR"]
    assert {p["file"] for p in dupes} == {"BOM", "centroid"}
    assert all(p["severity"] == "error" for p in dupes)


def test_centroid_side_position_problems():
    r = report(bom=b"Designator\nC1\nC2\n", cpl=b"Designator,Mid X,Mid Y,Layer\n"
               b"C1,1,1,Middle\nC2,abc,1,Top\n")
    assert problem(r, "UNKNOWN_SIDE")["designators"] == ["C1"]
    assert problem(r, "BAD_POSITION")["designators"] == ["C2"]
    r = report(bom=b"Designator\nC1\n", cpl=b"Designator,Comment\nC1,x\n")
    assert {"NO_SIDE_COLUMN", "NO_POSITION_COLUMNS"} <= set(codes(r, "warning"))
    assert r["parts"]["smt_top"] == 1


def test_counts_from_the_centroid_when_the_bom_is_unreadable():
    r = report(bom=b"Value,Footprint\n100n,C0603\n")
    assert "NO_DESIGNATOR_COLUMN" in codes(r, "error")
    assert r["complete"] is False
    assert split(r) == {"smt_top": 5, "smt_bottom": 2, "dip": 0}  # J1's PinHeader was in the BOM


# ---------------------------------------------------------------------------------------------
# Robustness: bad uploads give problems, never exceptions
# ---------------------------------------------------------------------------------------------


def test_corrupt_and_truncated_zip():
    good = make_zip(KICAD)
    for blob in (b"this is not a zip", good[: len(good) // 2], os.urandom(4096)):
        r = report(blob)
        assert codes(r, "error")[:1] == ["BAD_ZIP"] or "BAD_ZIP" in codes(r, "error")
        assert r["complete"] is False
        assert "MISSING_LAYER" not in codes(r)
        assert split(r) == {"smt_top": 4, "smt_bottom": 2, "dip": 1}  # tables still checked


def test_corrupt_member_inside_a_good_zip():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in KICAD.items():
            zf.writestr(name, data)
    blob = bytearray(buf.getvalue())
    at = blob.index(b"%FSLAX46Y46") + 3
    blob[at] ^= 0xFF  # the stored bytes no longer match the CRC
    r = report(bytes(blob))
    assert "BAD_ZIP_MEMBER" in codes(r, "warning")


def test_empty_inputs():
    r = check_package(b"", b"", "bom.csv", b"", "cpl.csv")
    assert [p["file"] for p in r["problems"] if p["code"] == "EMPTY_FILE"] == [
        "gerber", "BOM", "centroid"]
    assert r["complete"] is False
    assert split(r) == {"smt_top": 0, "smt_bottom": 0, "dip": 0}
    assert check_package(None, None, None, None, None)["complete"] is False
    assert "EMPTY_ZIP" in codes(report(make_zip({})))


def test_binary_posing_as_csv():
    blob = bytes(range(256)) * 8
    r = report(bom=blob, cpl=b"\x89PNG\r\n\x1a\n" + os.urandom(2000))
    assert [p["file"] for p in r["problems"] if p["code"] == "NOT_TEXT"] == ["BOM", "centroid"]


def test_ten_megabyte_blobs():
    blob = os.urandom(10 * 1024 * 1024)
    r = check_package(blob, blob, "bom.csv", b"x,y\n" * (2_600_000), "cpl.csv")
    assert "BAD_ZIP" in codes(r, "error")
    assert problem(r, "NOT_TEXT")["file"] == "BOM"
    assert problem(r, "FILE_TOO_LARGE")["file"] == "centroid"


def test_no_designator_column_names_what_it_saw():
    r = report(bom=b"Value,Footprint,Qty\n100n,C0603,2\n")
    p = problem(r, "NO_DESIGNATOR_COLUMN")
    assert p["file"] == "BOM" and "Value,Footprint,Qty" in p["message"]


def test_header_only_table_has_no_rows():
    assert "NO_ROWS" in codes(report(bom=b"Designator,Value\n"), "error")


def test_old_xls_and_broken_xlsx():
    r = report(bom=b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, bom_name="bom.xls")
    assert "UNSUPPORTED_FORMAT" in codes(r, "error")
    r = report(bom=b"not really a workbook", bom_name="bom.xlsx")
    assert "BAD_XLSX" in codes(r, "error")
    r = report(bom=make_zip({"hello.txt": b"hi"}), bom_name="bom.zip")
    assert "BAD_XLSX" in codes(r, "error")


def test_xlsx_with_a_dtd_is_refused():
    r = report(bom=xlsx([["Designator"], ["C1"]], doctype=True), bom_name="b.xlsx")
    assert "BAD_XLSX" in codes(r, "error")


def test_zip_bomb_is_capped(monkeypatch):
    monkeypatch.setattr("station.readiness.datapackage.layers.MAX_MEMBER_BYTES", 50_000)
    files = dict(KICAD)
    files["board-F_Cu.gbr"] = gerber() + b"G04 padding*\n" * 100_000  # 1.3 MB, compresses well
    r = report(make_zip(files))
    assert problem(r, "FILE_TOO_LARGE")["name"] == "board-F_Cu.gbr"
    assert "board-F_Cu.gbr" not in r["layers"]["copper"]


def test_total_unpacked_bytes_are_capped(monkeypatch):
    monkeypatch.setattr("station.readiness.datapackage.layers.MAX_TOTAL_BYTES", 1_000)
    r = report(make_zip(KICAD))
    assert "ZIP_TOO_LARGE" in codes(r, "warning")


def test_number_of_zip_members_is_capped(monkeypatch):
    monkeypatch.setattr("station.readiness.datapackage.layers.MAX_ZIP_MEMBERS", 3)
    r = report(make_zip(KICAD))
    assert "ZIP_TOO_MANY_FILES" in codes(r, "warning")
    assert len(r["files"]) == 3


def test_an_unforeseen_failure_still_gives_a_report(monkeypatch):
    def boom(*args):
        raise RuntimeError("reader bug")

    monkeypatch.setattr("station.readiness.datapackage.report.read_table", boom)
    r = report()
    assert codes(r) == ["CHECK_FAILED"] and "reader bug" in r["problems"][0]["message"]
    assert r["complete"] is False and set(r["parts"]) == {"smt_top", "smt_bottom", "dip",
                                                              "dip_top", "dip_bottom"}


def test_oversized_zip_upload(monkeypatch):
    monkeypatch.setattr("station.readiness.datapackage.layers.MAX_ZIP_BYTES", 100)
    assert "FILE_TOO_LARGE" in codes(report(make_zip(KICAD)), "error")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3000), st.binary(max_size=2000), st.binary(max_size=2000),
       st.sampled_from(["bom.csv", "bom.xlsx", "b.txt", ""]))
def test_never_raises_on_arbitrary_bytes(gerber_zip, bom, cpl, name):
    r = check_package(gerber_zip, bom, name, cpl, name)
    assert isinstance(r["complete"], bool) and isinstance(r["problems"], list)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=800))
def test_never_raises_on_arbitrary_text_tables(text):
    r = report(bom=("Designator,Value\n" + text).encode(), cpl=text.encode("utf-8", "replace"))
    assert set(r["parts"]) == {"smt_top", "smt_bottom", "dip", "dip_top", "dip_bottom"}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.binary(max_size=400), min_size=1, max_size=5))
def test_never_raises_on_zips_of_junk(members):
    r = report(make_zip({f"f{i}.gbr": m for i, m in enumerate(members)}))
    assert r["complete"] is False


# ---------------------------------------------------------------------------------------------
# Panel rules
# ---------------------------------------------------------------------------------------------

# The panel is now measured from the files (tests/test_panel.py); these cases keep the old form's
# values as the judge of measured or overridden values. The form's parsing cases (missing,
# "ten", -10, NaN, True, "maybe", "10,0", "no", not a form) moved to the override's validation in
# tests/test_panel.py, because the typed values are now only overrides.
GOOD_PANEL = {
    "rails_top_mm": 10, "rails_bottom_mm": 10, "tooling_hole_diameter_mm": 4.0,
    "tooling_hole_edge_offset_left_mm": 5.0, "tooling_hole_edge_offset_right_mm": 5.0,
    "fiducial_diameter_mm": 1.0, "fiducial_clear_ring_mm": 3.0, "fiducials_asymmetric": True,
}


def panel(**changes):
    """judge_panel of the good panel with some values changed (None removes a key)."""
    values = {**GOOD_PANEL, **changes}
    return judge_panel({k: v for k, v in values.items() if v is not None}, "panel")


def test_good_panel_has_no_problems():
    assert panel() == []


def test_values_within_tolerance_pass():
    assert panel(rails_top_mm=9.9, tooling_hole_diameter_mm=4.1, fiducial_diameter_mm=0.9,
                 tooling_hole_edge_offset_left_mm=4.9, tooling_hole_edge_offset_right_mm=5.1,
                 fiducial_clear_ring_mm=2.9) == []


@pytest.mark.parametrize("changes,code,field", [
    ({"rails_top_mm": 8}, "RAIL_TOO_NARROW", "rails_top_mm"),
    ({"rails_bottom_mm": 9.85}, "RAIL_TOO_NARROW", "rails_bottom_mm"),
    ({"rails_top_mm": 0}, "NO_RAILS", "rails_top_mm"),
    ({"tooling_hole_diameter_mm": 3.0}, "TOOLING_HOLE_SIZE", "tooling_hole_diameter_mm"),
    ({"tooling_hole_diameter_mm": 4.2}, "TOOLING_HOLE_SIZE", "tooling_hole_diameter_mm"),
    ({"tooling_hole_diameter_mm": 0}, "NO_TOOLING_HOLES", "tooling_hole_diameter_mm"),
    ({"tooling_hole_edge_offset_right_mm": 7}, "TOOLING_HOLE_POSITION",
     "tooling_hole_edge_offset_right_mm"),
    ({"tooling_hole_edge_offset_left_mm": 3}, "TOOLING_HOLE_POSITION",
     "tooling_hole_edge_offset_left_mm"),
    ({"fiducial_diameter_mm": 0.5}, "FIDUCIAL_SIZE", "fiducial_diameter_mm"),
    ({"fiducial_diameter_mm": 0}, "NO_FIDUCIALS", "fiducial_diameter_mm"),
    ({"fiducial_clear_ring_mm": 1.5}, "FIDUCIAL_CLEARANCE", "fiducial_clear_ring_mm"),
    ({"fiducials_asymmetric": False}, "FIDUCIALS_SYMMETRIC", "fiducials_asymmetric"),
])
def test_panel_deviations(changes, code, field):
    problems = panel(**changes)
    assert [(p["code"], p["field"]) for p in problems if p["severity"] == "error"] == [
        (code, field)]
    assert all(p["message"] for p in problems)


def test_wider_rails_are_only_info():
    assert codes(panel(rails_top_mm=15), "info") == ["RAIL_WIDER"]
    assert codes(panel(rails_top_mm=15), "error") == []


def test_single_board_without_panel_features():
    problems = judge_panel({"rails_top_mm": 0, "rails_bottom_mm": 0,
                            "tooling_hole_diameter_mm": 0, "fiducial_diameter_mm": 0},
                           "single_board")
    assert codes(problems) == ["NO_RAILS", "NO_RAILS", "NO_TOOLING_HOLES", "NO_FIDUCIALS"]
    assert codes(problems, "warning") == codes(problems)
