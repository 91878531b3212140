"""The data-package checker over the real public packages in shared/realdata/pcb (see its README).

The expected counts are computed here with a few lines of csv/regex parsing, not with the module's
own readers. The files are read in place and never copied into the project (their licences).
"""

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest

from station.readiness.datapackage import check_package
from station.readiness.datapackage.geometry import read_geometry
from station.readiness.datapackage.layers import check_layers

REAL = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "pcb"
pytestmark = pytest.mark.skipif(
    not REAL.is_dir(), reason=f"real PCB data packages not present at {REAL} (shared test data)")

PACKAGES = {
    "barkour-mataric": ("Mataric-gerber-drill.zip", "Bill of Materials-Mataric.xlsx",
                        "Pick Place for Mataric.txt"),
    "pslab-mini": ("pslab-mini-gerbers.zip", "JLCPCB_SMT_BOM.csv", "JLCPCB_SMT_CPL.csv"),
    "openrpncalc-main": ("main.kicad_pcb_gerber.zip", "main.kicad_pcb_bom.csv",
                         "main.kicad_pcb_positions.csv"),
    "hail-revc": ("hail_c_to_fab_2017-09-26.zip", "hail_bom.csv", "hail.XYRS"),
}


def folder(package):
    """The package's folder, or skip the test when it is absent."""
    path = REAL / package
    if not path.is_dir():
        pytest.skip(f"real data package {package} not present at {path}")
    return path


def zip_folder(path):
    """Loose Gerber/drill files of a folder (subfolders kept) zipped in memory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            zf.write(file, file.relative_to(path).as_posix())
    return buf.getvalue()


def gerber_bytes(package, name):
    """The package's Gerber zip; loose files in a folder (named like the zip, or gerber/) are
    zipped in memory."""
    base = folder(package)
    for candidate in (base / name, base / Path(name).stem, base / "gerber", base / "gerbers"):
        if candidate.is_file():
            return candidate.read_bytes()
        if candidate.is_dir():
            return zip_folder(candidate)
    pytest.skip(f"no Gerber zip or folder for {package}")


def run(package, gerber=None, bom=None, centroid=None, bom_name=None, centroid_name=None):
    """check_package over a real package, with any of its three files replaced."""
    zip_name, default_bom, default_centroid = PACKAGES[package]
    base = folder(package)
    bom_name = bom_name or default_bom
    centroid_name = centroid_name or default_centroid
    return check_package(
        gerber if gerber is not None else gerber_bytes(package, zip_name),
        bom if bom is not None else (base / bom_name).read_bytes(), bom_name,
        centroid if centroid is not None else (base / centroid_name).read_bytes(), centroid_name)


def split(result):
    """The SMT top / SMT bottom / DIP counts of a report (parts also has dip_top, dip_bottom)."""
    return {k: result["parts"][k] for k in ("smt_top", "smt_bottom", "dip")}


def refs(cell):
    """Designators of a BOM cell like 'C1, C3' or 'C1,C3'."""
    return [r for r in re.split(r"[,\s]+", cell) if r]


def codes(result, severity=None):
    """Problem codes of a report, optionally of one severity."""
    return [p["code"] for p in result["problems"] if severity is None or p["severity"] == severity]


def rezip(blob, drop=(), replace=None):
    """A copy of a zip without the members whose names contain any of `drop`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as src, zipfile.ZipFile(buf, "w") as dst:
        for info in src.infolist():
            if any(d in info.filename for d in drop):
                continue
            data = src.read(info)
            if replace and info.filename in replace:
                data = replace[info.filename](data)
            dst.writestr(info, data)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Independent readings of the packages (what the README's "our counts" describe)
# ---------------------------------------------------------------------------------------------


def barkour_expected():
    """Pick Place rows (designator -> layer) and BOM refs read straight from the files."""
    base = folder("barkour-mataric")
    lines = (base / "Pick Place for Mataric.txt").read_bytes().decode("cp1252").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Designator"))
    rows = [re.findall(r'"[^"]*"|\S+', line) for line in lines[start + 1:] if line.strip()]
    layer = {row[0]: row[2] for row in rows}
    with zipfile.ZipFile(base / "Bill of Materials-Mataric.xlsx") as z:
        sst = z.read("xl/sharedStrings.xml").decode()
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    shared = ["".join(re.findall(r"<t[^>]*>([^<]*)</t>", si))
              for si in re.findall(r"<si>(.*?)</si>", sst, re.S)]
    column_c = re.findall(r'<c r="C(\d+)"[^>]*t="s"[^>]*><v>(\d+)</v>', sheet)
    bom = [r for row, v in column_c if row != "1" for r in refs(shared[int(v)])]
    return layer, bom


def dict_rows(path, encoding="utf-8"):
    """csv.DictReader rows of a file."""
    return list(csv.DictReader(io.StringIO(path.read_text(encoding=encoding))))


def hail_bom_refs():
    """Designators of hail_bom.csv (header after '#' lines and a line of commas)."""
    lines = (folder("hail-revc") / "hail_bom.csv").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Qty,"))
    rows = list(csv.DictReader(lines[start:]))
    return [r for row in rows for r in refs(row["Parts"])], rows


def hail_xyrs():
    """Rows of hail.XYRS as dicts (the header is the '#Designator' comment line)."""
    lines = (folder("hail-revc") / "hail.XYRS").read_text().splitlines()
    header = next(line for line in lines if line.startswith("#Designator")).lstrip("#")
    data = [line for line in lines if line.strip() and not line.startswith("#")]
    return list(csv.DictReader([header] + data, delimiter="\t"))


# ---------------------------------------------------------------------------------------------
# Layers and board outline
# ---------------------------------------------------------------------------------------------

LAYERS = {
    "barkour-mataric": {
        "copper": ["Gerber/Mataric.G1", "Gerber/Mataric.G2", "Gerber/Mataric.GBL",
                   "Gerber/Mataric.GTL"],
        "drill": ["NC Drill/Mataric.TXT"],
        "silkscreen": ["Gerber/Mataric.GBO", "Gerber/Mataric.GTO"],
        "soldermask": ["Gerber/Mataric.GBS", "Gerber/Mataric.GTS"],
        "paste": ["Gerber/Mataric.GBP", "Gerber/Mataric.GTP"],
        "outline": ["Gerber/Mataric.GM"],
    },
    "pslab-mini": {
        "copper": [f"pslab-mini-{n}.gbr" for n in ("L1_Front", "L2_Ground", "L3_Power",
                                                    "L4_Signal")],
        "drill": ["pslab-mini.drl"],
        "silkscreen": ["pslab-mini-B_Silkscreen.gbr", "pslab-mini-F_Silkscreen.gbr"],
        "soldermask": ["pslab-mini-B_Mask.gbr", "pslab-mini-F_Mask.gbr"],
        "paste": ["pslab-mini-B_Paste.gbr", "pslab-mini-F_Paste.gbr"],
        "outline": ["pslab-mini-Edge_Cuts.gbr"],
    },
    "openrpncalc-main": {
        "copper": ["main-B_Cu.gbr", "main-F_Cu.gbr"],
        "drill": ["main-NPTH.drl", "main-PTH.drl"],
        "silkscreen": ["main-B_SilkS.gbr", "main-F_SilkS.gbr"],
        "soldermask": ["main-B_Mask.gbr", "main-F_Mask.gbr"],
        "paste": ["main-B_Paste.gbr", "main-F_Paste.gbr"],
        "outline": ["main-Edge_Cuts.gbr"],
        "other": ["main-User_Comments.gbr"],
    },
    "hail-revc": {
        "copper": ["hail.L1", "hail.L2", "hail.L3", "hail.L4"],
        "drill": ["hail.drd"],
        "silkscreen": ["hail.bsk", "hail.slk"],
        "soldermask": ["hail.smb", "hail.smt"],
        "outline": ["hail.oln"],
    },
}
HOW = {"barkour-mataric": "name", "pslab-mini": "X2", "openrpncalc-main": "X2",
       "hail-revc": "name"}
OUTLINE_MM = {"barkour-mataric": (76.2, 76.2, 0.2), "pslab-mini": (85.0, 56.0, 0.01),
              "openrpncalc-main": (73.0, 139.0, 0.01), "hail-revc": (20.32, 36.58, 0.01)}


@pytest.mark.parametrize("package", PACKAGES)
def test_layers_found(package):
    r = run(package)
    assert r["layers"] == LAYERS[package]
    assert r["copper_layers"] == len(LAYERS[package]["copper"])
    assert "MISSING_LAYER" not in codes(r)
    assert r["complete"] is True
    copper = [f for f in r["files"] if f["layer"] == "copper"]
    assert {f["how"] for f in copper} == {HOW[package]}
    assert sorted(f["side"] for f in copper) == sorted(
        ["top", "bottom"] + ["inner"] * (len(copper) - 2))


@pytest.mark.parametrize("package", PACKAGES)
def test_board_outline_measured(package):
    width, height, tol = OUTLINE_MM[package]
    outline = run(package)["board_outline_mm"]
    assert outline["width"] == pytest.approx(width, abs=tol)
    assert outline["height"] == pytest.approx(height, abs=tol)


def test_side_files_are_ignored():
    barkour = {f["name"]: f["layer"] for f in run("barkour-mataric")["files"]}
    for name in ("Gerber/Mataric.EXTREP", "Gerber/Mataric.REP", "NC Drill/Mataric.DRR",
                 "NC Drill/Mataric.LDP", "Gerber/Mataric-macro.APR_LIB"):
        assert barkour[name] == "ignored"
    pslab = {f["name"]: f["layer"] for f in run("pslab-mini")["files"]}
    assert pslab["pslab-mini-job.gbrjob"] == "ignored"  # it contradicts the Gerbers' X2


def test_hail_fab_zip_has_no_paste_and_the_stencil_zip_nothing_else():
    assert "NO_PASTE_LAYER" in codes(run("hail-revc"), "warning")
    stencil = (folder("hail-revc") / "hail_c_to_stencil_2017-09-26.zip").read_bytes()
    r = run("hail-revc", gerber=stencil)
    assert r["layers"]["paste"] == ["hail.bsp", "hail.tsp"]
    missing = sorted(p["layer"] for p in r["problems"] if p["code"] == "MISSING_LAYER")
    assert missing == ["copper", "drill", "silkscreen", "soldermask"]
    assert r["complete"] is False


def test_loose_gerber_folder_is_zipped_in_memory(tmp_path):
    blob = (folder("barkour-mataric") / "Mataric-gerber-drill.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        zf.extractall(tmp_path / "loose")
    r = run("barkour-mataric", gerber=zip_folder(tmp_path / "loose"))
    assert r["layers"] == LAYERS["barkour-mataric"]


# ---------------------------------------------------------------------------------------------
# Parts: counts, top / bottom / DIP split, designator differences
# ---------------------------------------------------------------------------------------------


def drill_report():
    """(diameter mm, plated) -> hole count, from Altium's drill report (Mataric.DRR)."""
    with zipfile.ZipFile(folder("barkour-mataric") / "Mataric-gerber-drill.zip") as z:
        text = z.read("NC Drill/Mataric.DRR").decode("cp1252")
    rows = re.findall(r"^T\d+\s+([\d.]+)mm.*?Round\s+(\d+)\s+(N?PTH)", text, re.M)
    return {(float(d), kind == "PTH"): int(n) for d, n, kind in rows}


def test_barkour_mataric_holes_as_the_drill_report_counts_them():
    files, _ = check_layers(gerber_bytes("barkour-mataric", PACKAGES["barkour-mataric"][0]), [])
    geometry, problems = read_geometry(files)
    assert problems == []
    counts = {}
    for hole in geometry.holes:
        key = (round(hole.diameter_mm, 2), hole.plated)
        counts[key] = counts.get(key, 0) + 1
    assert {(round(d, 2), p): n for (d, p), n in drill_report().items()} == counts
    assert sum(counts.values()) == 123
    assert geometry.outline_mm == pytest.approx((-38.16, -38.16, 38.16, 38.16), abs=0.01)


def test_barkour_mataric_parts():
    layer, bom = barkour_expected()
    assert (len(bom), len(layer)) == (49, 59)
    # Through-hole from the drill file: J10's 20 pins sit in 1.14 mm plated holes (the drill
    # report's 1.14 mm tool has 20 hits). Jprog1 (a right-angle header whose description ends in
    # "TH") has its 20 contacts on 0.3 mm holes with 0.5 mm rings, too small for a lead, and its
    # four plated board locks 8 mm off its centroid: the drill file does not show it as DIP, and
    # the contradiction with its words is reported.
    tht = {"J10"}
    placed = [d for d in bom if d in layer]
    top = sorted(d for d in placed if layer[d] == "TopLayer" and d not in tht)
    bottom = sorted(d for d in placed if layer[d] == "BottomLayer" and d not in tht)
    r = run("barkour-mataric")
    assert split(r) == {"smt_top": len(top), "smt_bottom": len(bottom), "dip": len(tht)}
    assert split(r) == {"smt_top": 46, "smt_bottom": 1, "dip": 1}
    assert r["dip_parts"] == [{"ref": "J10", "side": "top"}]
    assert (r["parts"]["dip_top"], r["parts"]["dip_bottom"]) == (1, 0)
    assert drill_report()[(1.14, True)] == 20
    contradicted = next(p for p in r["problems"] if p["code"] == "MOUNT_TYPE_CONTRADICTED")
    assert contradicted["not_drilled"] == ["Jprog1"] and contradicted["severity"] == "info"
    assert r["centroid_frame"] == {"unit": "mil", "offset_mm": [0.0, 0.0], "how": "as written",
                                   "fit_mm": r["centroid_frame"]["fit_mm"]}
    assert sorted(r["placement"]["smt_top"]) == top
    assert r["placement"]["smt_bottom"] == bottom == ["Jprog2"]
    assert set(r["placement"]["dip"]) == tht
    only_centroid = set(layer) - set(bom)
    only_bom = set(bom) - set(layer)
    assert only_bom == {"PCB1"}
    assert only_centroid == {f"FID{n}" for n in range(1, 7)} | {f"MH{n}" for n in range(1, 5)} \
        | {"GND"}
    not_parts = {d for names in r["designators"]["not_parts"].values() for d in names}
    assert not_parts == only_bom | only_centroid  # fiducials, holes, test via, bare board
    assert r["designators"]["bom_only"] == r["designators"]["centroid_only"] == []
    assert "DESIGNATOR_MISMATCH" not in codes(r)


def test_barkour_mataric_mixed_resistor_line_is_flagged():
    r = run("barkour-mataric")
    mixed = next(p for p in r["problems"] if p["code"] == "MIXED_BOM_LINE")
    assert sorted(map(sorted, mixed["groups"].values())) == [
        ["R1", "R12", "R5", "R8"], ["R11", "R4", "R7"]]
    assert r["ready"] is True  # a warning, not an error


def test_pslab_mini_parts():
    base = folder("pslab-mini")
    bom_rows = dict_rows(base / "JLCPCB_SMT_BOM.csv")
    cpl = {row["Designator"]: row["Layer"] for row in dict_rows(base / "JLCPCB_SMT_CPL.csv")}
    bom = [d for row in bom_rows for d in refs(row["Designator"])]
    assert (len(bom_rows), len(bom), len(cpl)) == (68, 154, 158)
    # The export has no mount column: through-hole is what the KiCad footprint names say.
    # Through-hole from the drill file: J5 (2x16 socket) and J6 (1x15) on 1.0 mm plated holes,
    # J3/J4 (BNC: centre pin and four 2.11 mm plated posts) although KiCad calls them SMD.
    # R43 is a known misreading: it sits inside the group of a USB-C shield's four 0.6 mm plated
    # tabs whose connector's centroid lies elsewhere. J2's battery contacts have no holes.
    tht = {"J3", "J4", "J5", "J6", "R43"}
    top = sorted(d for d in bom if cpl.get(d) == "Top" and d not in tht)
    r = run("pslab-mini")
    assert split(r) == {"smt_top": len(top), "smt_bottom": 0, "dip": len(tht)}
    assert split(r) == {"smt_top": 149, "smt_bottom": 0, "dip": 5}
    assert all(p["side"] == "top" for p in r["dip_parts"])
    assert sorted(r["placement"]["smt_top"]) == top
    assert r["placement"]["dip"] == ["J3", "J4", "J5", "J6", "R43"]
    # README counts J2 (battery edge connector) as THT too, from the design file's footprint
    # attribute; neither the BOM nor the CPL carries that, so it is counted as SMT here.
    assert "J2" in r["placement"]["smt_top"]
    extra = sorted(set(cpl) - set(bom) - {d for d in cpl if d.startswith("FID")})
    assert extra == ["J7"]
    assert r["designators"]["centroid_only"] == extra
    assert r["designators"]["bom_only"] == []
    assert r["designators"]["not_parts"] == {"fiducial": ["FID1", "FID2", "FID3"]}
    mismatch = next(p for p in r["problems"] if p["code"] == "DESIGNATOR_MISMATCH")
    assert mismatch["centroid_only"] == ["J7"] and mismatch["severity"] == "error"
    undecided = next(p for p in r["problems"] if p["code"] == "VALUE_UNDECIDED")
    assert undecided["designators"] == sorted(
        (d for row in bom_rows if row["Comment"] == "TBD" for d in refs(row["Designator"])),
        key=lambda d: (d[0], int(d[1:])))


def test_openrpncalc_parts():
    base = folder("openrpncalc-main")
    bom_rows = dict_rows(base / "main.kicad_pcb_bom.csv", "utf-8-sig")
    pos = {row["designator"]: row for row in dict_rows(base / "main.kicad_pcb_positions.csv",
                                                       "utf-8-sig")}
    bom = [d for row in bom_rows for d in refs(row["Designator"])]
    assert (len(bom_rows), len(bom), len(pos)) == (48, 134, 128)
    pads = {d for row in bom_rows if row["Footprint"].startswith("TestPoint_Pad")
            for d in refs(row["Designator"])}
    marked_tht = {d for row in bom_rows if row["Mount_Type"] == "tht"
                  for d in refs(row["Designator"])}
    assert pads == marked_tht == {f"TP{n}" for n in range(1, 14)}
    smt_top = sorted(d for d in bom if d in pos and pos[d]["side"] == "top"
                     and pos[d]["mount_type"] == "smt")
    r = run("openrpncalc-main")
    # The 13 'tht' test points are bare pads (no hole, nothing to insert): not parts, no DIP.
    assert split(r) == {"smt_top": len(smt_top), "smt_bottom": 0, "dip": 0}
    assert r["parts"]["smt_top"] == 121
    assert r["designators"]["not_parts"] == {
        "test pad": sorted(pads, key=lambda d: int(d[2:]))}
    placed_dnp = sorted(set(pos) - set(bom), key=lambda d: int(d[1:]))
    assert placed_dnp == ["R16", "R22", "R25", "R26", "R29", "R30", "R31"]
    assert r["designators"]["centroid_only"] == placed_dnp
    assert r["designators"]["bom_only"] == []
    assert "DESIGNATOR_MISMATCH" in codes(r, "error")


def test_hail_with_xyrs_parts():
    bom, bom_rows = hail_bom_refs()
    xyrs = hail_xyrs()
    assert (len(bom_rows), len(bom), len(xyrs)) == (31, 58, 58)
    assert {row["Designator"] for row in xyrs} == set(bom)
    top = sorted(row["Designator"] for row in xyrs
                 if (row["Side"], row["Type"], row["Populate"]) == ("1", "1", "1"))
    not_fitted = sorted(row["Designator"] for row in xyrs if row["Populate"] == "0")
    r = run("hail-revc")
    assert split(r) == {"smt_top": len(top), "smt_bottom": 0, "dip": 0}
    assert r["parts"]["smt_top"] == 56
    assert sorted(r["placement"]["smt_top"]) == top
    assert r["designators"]["dnp"] == not_fitted == ["J2", "J3"]
    # The XYRS is in mil on Eagle's board origin; the Gerber is shifted by the README's
    # +0.1451 in, +0.1412 in (3.686 mm, 3.586 mm): the fit finds it.
    assert r["centroid_frame"]["unit"] == "mil"
    assert r["centroid_frame"]["offset_mm"] == pytest.approx([3.686, 3.586], abs=0.01)
    assert "DESIGNATOR_MISMATCH" not in codes(r)
    assert r["ready"] is True


def test_hail_with_centroid_file_and_xlsx_bom():
    bom, _ = hail_bom_refs()
    lines = (folder("hail-revc") / "hail.centroid").read_text().splitlines()
    rows = list(csv.DictReader([ln for ln in lines if ln.strip() and not ln.startswith("#")]))
    layer = {row["RefDes"]: row["Layer"] for row in rows}
    assert len(layer) == 71
    assert sorted(layer.values()).count("Bottom") == 14
    r = run("hail-revc", bom_name="hail_bom.xlsx", centroid_name="hail.centroid")
    assert r["bom_columns"]["format"] == "xlsx"
    assert r["designators"]["bom"] == len(bom)
    assert set(r["designators"]["centroid_only"]) == set(layer) - set(bom)
    assert len(r["designators"]["centroid_only"]) == 15  # J4, J5, TP1-TP13
    assert r["designators"]["dip_not_in_centroid"] == sorted(set(bom) - set(layer)) == [
        "J2", "J3"]
    top = [d for d in bom if layer.get(d) == "Top"]
    # J2/J3 (not in this centroid) come from the BOM's words; their 48 castellated holes are
    # taken by C21 and FB1 beside them, a known misreading the contradiction reports.
    assert r["centroid_frame"]["unit"] == "inch"
    assert r["centroid_frame"]["offset_mm"] == pytest.approx([3.686, 3.587], abs=0.01)
    drilled_smt = {"C21", "FB1"}
    top = [d for d in top if d not in drilled_smt]
    assert split(r) == {"smt_top": len(top), "smt_bottom": 0, "dip": 4}


# ---------------------------------------------------------------------------------------------
# Broken packages made from the real ones
# ---------------------------------------------------------------------------------------------

MASK = {"barkour-mataric": (".GTS", ".GBS"), "pslab-mini": ("_Mask",),
        "openrpncalc-main": ("_Mask",), "hail-revc": (".smt", ".smb")}
DRILL = {"barkour-mataric": ("Mataric.TXT",), "pslab-mini": (".drl",),
         "openrpncalc-main": (".drl",), "hail-revc": (".drd",)}


@pytest.mark.parametrize("package", PACKAGES)
@pytest.mark.parametrize("layer,drops", [("soldermask", MASK), ("drill", DRILL)])
def test_layer_removed_from_the_zip(package, layer, drops):
    blob = rezip(gerber_bytes(package, PACKAGES[package][0]), drop=drops[package])
    r = run(package, gerber=blob)
    missing = [p["layer"] for p in r["problems"] if p["code"] == "MISSING_LAYER"]
    assert missing == [layer]
    assert r["complete"] is False and r["ready"] is False
    assert r["layers"][layer] == []
    intact = LAYERS[package]
    assert all(r["layers"][k] == v for k, v in intact.items() if k != layer)


RENAME = {  # (file, old bytes, new bytes, old designator, new designator)
    "pslab-mini": (b"22nF,C9,", b"22nF,C999,", "C9", "C999"),
    "openrpncalc-main": (b"\nBT1,1,", b"\nBT9,1,", "BT1", "BT9"),
    "hail-revc": (b",B1,", b",B9,", "B1", "B9"),
}


@pytest.mark.parametrize("package", RENAME)
def test_designator_renamed_in_the_bom(package):
    old_bytes, new_bytes, old, new = RENAME[package]
    bom_path = folder(package) / PACKAGES[package][1]
    original = bom_path.read_bytes()
    assert original.count(old_bytes) == 1
    r = run(package, bom=original.replace(old_bytes, new_bytes))
    mismatch = next(p for p in r["problems"] if p["code"] == "DESIGNATOR_MISMATCH")
    assert new in mismatch["bom_only"]
    assert old in mismatch["centroid_only"]
    assert r["ready"] is False


def test_designator_renamed_in_the_xlsx_bom():
    path = folder("barkour-mataric") / "Bill of Materials-Mataric.xlsx"
    blob = rezip(path.read_bytes(), replace={
        "xl/sharedStrings.xml": lambda data: data.replace(b">U101<", b">U999<")})
    r = run("barkour-mataric", bom=blob)
    mismatch = next(p for p in r["problems"] if p["code"] == "DESIGNATOR_MISMATCH")
    assert mismatch["bom_only"] == ["U999"] and mismatch["centroid_only"] == ["U101"]


@pytest.mark.parametrize("package", PACKAGES)
def test_truncated_zip(package):
    blob = gerber_bytes(package, PACKAGES[package][0])
    intact = run(package)
    r = run(package, gerber=blob[: len(blob) // 2])
    assert codes(r, "error")[0] == "BAD_ZIP"
    assert r["complete"] is False
    assert all(v == [] for v in r["layers"].values())
    # The BOM and centroid are still checked: the same parts, but without a drill file the
    # through-hole ones are told from the words (and the report says so).
    assert sum(split(r).values()) == sum(split(intact).values())
    assert "THROUGH_HOLE_FROM_WORDS" in codes(r, "info")


@pytest.mark.parametrize("package", PACKAGES)
def test_truncated_centroid(package):
    path = folder(package) / PACKAGES[package][2]
    data = path.read_bytes()
    r = run(package, centroid=data[: len(data) // 2])
    assert r["designators"]["bom_only"]  # the cut-off parts are now only in the BOM
    assert "DESIGNATOR_MISMATCH" in codes(r, "error")


# ---------------------------------------------------------------------------------------------
# Panel rule measured from the files: none of the four is a production panel (README "Panel
# features"), so rails and tooling holes are missing on each, as warnings (the factory panelises a
# single board); only barkour-mataric has fiducials of the 1 mm / 3 mm rule.
# ---------------------------------------------------------------------------------------------

FIDUCIAL_CODES = {
    "barkour-mataric": [],
    "pslab-mini": ["FIDUCIAL_SIZE", "FIDUCIAL_CLEARANCE"],
    "openrpncalc-main": ["NO_FIDUCIALS"],
    "hail-revc": ["NO_FIDUCIALS"],
}
FIDUCIAL_COUNT = {"barkour-mataric": 6, "pslab-mini": 3, "openrpncalc-main": 0, "hail-revc": 0}


def measured_panel(package) -> tuple[dict, list[dict]]:
    """The package's measured panel and its panel problems; skip while geometry is not read."""
    r = run(package)
    if "panel" not in r:
        pytest.skip("the report has no panel: read_geometry is this branch's placeholder")
    return r["panel"], [p for p in r["problems"] if p.get("rule") == "panel"]


@pytest.mark.parametrize("package", PACKAGES)
def test_panel_rule_measured_against_the_readme_features(package):
    panel, problems = measured_panel(package)
    assert panel["kind"] == "single_board"
    assert [p["code"] for p in problems] == [
        "NO_RAILS", "NO_RAILS", "NO_TOOLING_HOLES"] + FIDUCIAL_CODES[package]
    assert {p["severity"] for p in problems} == {"warning"}
    assert len(panel["fiducials"]) == FIDUCIAL_COUNT[package]


def test_the_mataric_fiducials_are_measured_as_the_readme_says():
    panel, _ = measured_panel("barkour-mataric")
    # 1 mm dots; the clear ring is the 3.3 mm keep-out of the pour (or no pour near at all),
    # wider than the 1.1 mm mask opening ("1MM COPPER CIRCLE 3MM MASK PULLBACK")
    assert {(f["side"], f["diameter_mm"]) for f in panel["fiducials"]} == {
        ("top", 1.0), ("bottom", 1.0)}
    assert min(f["clear_mm"] for f in panel["fiducials"]) == pytest.approx(3.3, abs=0.05)
    assert panel["values"]["fiducials_asymmetric"] is True  # one corner at 1300 mil, not 1400
    assert panel["size_mm"] == pytest.approx([76.2, 76.2], abs=0.5)
