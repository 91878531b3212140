"""Bench: check a data package of 2,000 parts on both sides with 1,500 drill hits, and draw it.

Targets on this machine: check_package under 2 s, each side's picture under 1 s. Beside them, in
the same run, the bare gerbonara parse of the same Gerber and Excellon files (GerberFile /
ExcellonFile.from_string of every layer file, nothing else): the floor any reading of the files
costs, and the ratios to it. The package is generated here as text: a panel with 10 mm rails,
4 mm tooling holes and 1 mm fiducials; SMT parts (two pads, or a 16-pin SOIC) on top and bottom;
through-hole parts (8 plated pins) on top; vias to make up the drill hits; a BOM and a centroid.
Run: .venv/bin/python bench/data_package.py [--runs N] [--profile]
"""

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
import warnings
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gerbonara import ExcellonFile, GerberFile  # noqa: E402

from station.readiness.datapackage import check_package  # noqa: E402
from station.readiness.datapackage.picture import board_picture  # noqa: E402

PARTS, HOLES = 2000, 1500
DIP_PARTS, DIP_PINS = 100, 8  # 800 plated pins
TOOLING = [(5.0, 5.0), (215.0, 5.0), (5.0, 155.0), (215.0, 155.0)]  # 4 mm, 5 mm from the edges
FIDUCIALS = [(12.0, 15.0), (205.0, 145.0), (200.0, 15.0)]  # asymmetric on the diagonal
WIDTH, HEIGHT, RAIL = 220.0, 160.0, 10.0
CHECK_TARGET_S, PICTURE_TARGET_S = 2.0, 1.0


def _coord(mm: float) -> str:
    """A Gerber coordinate in format 4.6, mm."""
    return str(round(mm * 1_000_000))


def _gerber(function: str, apertures: dict[int, str], body: list[str]) -> str:
    """One Gerber file: X2 file function, format, apertures, the objects, the end code."""
    head = [f"%TF.FileFunction,{function}*%", "%FSLAX46Y46*%", "%MOMM*%", "%LPD*%"]
    head += [f"%ADD{n}{shape}*%" for n, shape in apertures.items()]
    return "\n".join(head + body + ["M02*", ""])


def _layout() -> tuple[list[dict], list[tuple[float, float]]]:
    """The parts (ref, kind, side, x, y, footprint, pads) and the vias, on a grid in the board."""
    parts = []
    smt = PARTS - DIP_PARTS
    columns, rows = 52, 22  # per side: 1,144 places in the 200 x 140 mm between the rails
    spots = [(12.0 + 3.7 * (i % columns), 14.0 + 6.0 * (i // columns))
             for i in range(columns * rows)]
    top_smt = smt // 2 + 50
    for i in range(smt):
        side = "top" if i < top_smt else "bottom"
        x, y = spots[i if side == "top" else i - top_smt]
        if i % 10 == 9:  # every tenth an IC: 16 pins
            ref, fp = f"U{i + 1}", "SOIC-16_3.9x9.9mm_P1.27mm"
            pads = [(x - 1.4 + 2.8 * (p // 8), y - 2.0 + 0.5 * (p % 8), 12) for p in range(16)]
        else:
            ref, fp = (f"R{i + 1}", "R_0603_1608Metric") if i % 2 else (f"C{i + 1}",
                                                                           "C_0603_1608Metric")
            pads = [(x - 0.8, y, 10), (x + 0.8, y, 10)]
        parts.append({"ref": ref, "kind": "smt", "side": side, "x": x, "y": y, "fp": fp,
                      "pads": pads})
    taken = top_smt
    for j in range(DIP_PARTS):
        x, y = spots[taken + j]
        pads = [(x - 1.27 + 2.54 * (p // 4), y - 1.9 + 1.27 * (p % 4), 11) for p in range(DIP_PINS)]
        parts.append({"ref": f"J{j + 1}", "kind": "dip", "side": "top", "x": x, "y": y,
                      "fp": "DIP-8_W7.62mm", "pads": pads})
    vias_needed = HOLES - DIP_PARTS * DIP_PINS - len(TOOLING)
    vias = [(spots[i][0] + 1.85, spots[i][1] + 3.0) for i in range(vias_needed)]
    return parts, vias


def generate() -> dict:
    """The package: Gerber zip (copper, mask, silk, paste per side, outline, PTH and NPTH), BOM,
    centroid."""
    parts, vias = _layout()
    files = {}
    for side, letter, x2 in (("top", "F", "Top"), ("bottom", "B", "Bot")):
        here = [p for p in parts if p["side"] == side or p["kind"] == "dip"]
        smt_here = [p for p in here if p["kind"] == "smt"]
        flashes = [f"D{ap}*\nX{_coord(px)}Y{_coord(py)}D03*"
                   for p in here for (px, py, ap) in p["pads"]]
        fid = [f"D13*\nX{_coord(x)}Y{_coord(y)}D03*" for x, y in FIDUCIALS] if side == "top" else []
        via_pads = [f"D14*\nX{_coord(x)}Y{_coord(y)}D03*" for x, y in vias]
        copper = _gerber(f"Copper,L{1 if side == 'top' else 2},{x2}",
                         {10: "R,0.9X0.95", 11: "C,1.6", 12: "R,1.5X0.6", 13: "C,1.0", 14: "C,0.6"},
                         flashes + fid + via_pads)
        mask_fid = [f"D13*\nX{_coord(x)}Y{_coord(y)}D03*" for x, y in FIDUCIALS] \
            if side == "top" else []
        mask = _gerber(f"Soldermask,{x2}",
                       {10: "R,1.0X1.05", 11: "C,1.7", 12: "R,1.6X0.7", 13: "C,3.0"},
                       flashes + mask_fid)
        paste = _gerber(f"Paste,{x2}", {10: "R,0.9X0.95", 11: "C,0.1", 12: "R,1.5X0.6"},
                        [f"D{ap}*\nX{_coord(px)}Y{_coord(py)}D03*"
                         for p in smt_here for (px, py, ap) in p["pads"]])
        silk = []
        for p in [p for p in parts if p["side"] == side]:
            x0, y0 = p["x"] - 1.5, p["y"] - 1.0
            silk.append(f"X{_coord(x0)}Y{_coord(y0)}D02*\nX{_coord(x0 + 3.0)}Y{_coord(y0)}D01*\n"
                        f"X{_coord(x0 + 3.0)}Y{_coord(y0 + 2.0)}D01*\nX{_coord(x0)}"
                        f"Y{_coord(y0 + 2.0)}D01*\nX{_coord(x0)}Y{_coord(y0)}D01*")
        files[f"bench-{letter}_Cu.gbr"] = copper
        files[f"bench-{letter}_Mask.gbr"] = mask
        files[f"bench-{letter}_Paste.gbr"] = paste
        files[f"bench-{letter}_Silkscreen.gbr"] = _gerber(f"Legend,{x2}", {10: "C,0.15"},
                                                          ["D10*"] + silk)
    corners = [(0, 0), (WIDTH, 0), (WIDTH, HEIGHT), (0, HEIGHT), (0, 0)]
    files["bench-Edge_Cuts.gbr"] = _gerber(
        "Profile,NP", {10: "C,0.1"},
        ["D10*", "X0Y0D02*"] + [f"X{_coord(x)}Y{_coord(y)}D01*" for x, y in corners[1:]])
    plated = [(px, py) for p in parts if p["kind"] == "dip" for (px, py, _) in p["pads"]]
    files["bench-PTH.drl"] = "\n".join(
        ["M48", "; #@! TF.FileFunction,Plated,1,2,PTH", "METRIC", "T1C1.000", "T2C0.300", "%",
         "G90", "G05", "T1"] + [f"X{x:.3f}Y{y:.3f}" for x, y in plated]
        + ["T2"] + [f"X{x:.3f}Y{y:.3f}" for x, y in vias] + ["M30", ""])
    files["bench-NPTH.drl"] = "\n".join(
        ["M48", "; #@! TF.FileFunction,NonPlated,1,2,NPTH", "METRIC", "T1C4.000", "%", "G90",
         "G05", "T1"] + [f"X{x:.3f}Y{y:.3f}" for x, y in TOOLING] + ["M30", ""])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    bom = ["Reference,Value,Footprint,Qty"] + [
        f"{p['ref']},{'10k' if p['ref'][0] == 'R' else 'X'},{p['fp']},1" for p in parts]
    cpl = ["Designator,Mid X,Mid Y,Layer,Rotation"] + [
        f"{p['ref']},{p['x']:.3f},{p['y']:.3f},{'Top' if p['side'] == 'top' else 'Bottom'},0"
        for p in parts]
    return {"gerber": buf.getvalue(), "files": files, "bom": "\n".join(bom).encode(),
            "centroid": "\n".join(cpl).encode(), "holes": len(plated) + len(vias) + len(TOOLING),
            "parts": len(parts)}


def bare_parse(files: dict[str, str]) -> None:
    """Every layer file read by gerbonara and nothing else."""
    for name, text in files.items():
        if name.endswith(".drl"):
            ExcellonFile.from_string(text, filename=name)
        else:
            GerberFile.from_string(text, filename=name)


def timed(fn, runs: int) -> float:
    """The median wall time of `runs` calls, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Generate the package, time each step, print the figures and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile each step once")
    args = parser.parse_args()
    pkg = generate()
    print(f"package: {pkg['parts']} parts, {pkg['holes']} drill hits, "
          f"{len(pkg['gerber']) / 1e6:.2f} MB zip, {len(pkg['files'])} layer files")
    report = check_package(pkg["gerber"], pkg["bom"], "bom.csv", pkg["centroid"], "cpl.csv")
    print(f"report: parts {report['parts']}, {len(report['problems'])} problems "
          f"({', '.join(sorted({p['code'] for p in report['problems']})) or 'none'})")
    steps = {
        "bare gerbonara parse": lambda: bare_parse(pkg["files"]),
        "check_package": lambda: check_package(pkg["gerber"], pkg["bom"], "bom.csv",
                                               pkg["centroid"], "cpl.csv"),
        "picture top": lambda: board_picture(pkg["gerber"], report, "top"),
        "picture bottom": lambda: board_picture(pkg["gerber"], report, "bottom"),
    }
    warnings.simplefilter("ignore")  # gerbonara warns per odd line; not what is measured here
    figures = {name: timed(fn, args.runs) for name, fn in steps.items()}
    floor = figures["bare gerbonara parse"]
    targets = {"check_package": CHECK_TARGET_S, "picture top": PICTURE_TARGET_S,
               "picture bottom": PICTURE_TARGET_S}
    print(f"median of {args.runs} runs:")
    for name, seconds in figures.items():
        target = targets.get(name)
        verdict = "" if target is None else (
            f"  target {target:.1f} s: {'met' if seconds < target else 'MISSED'}")
        print(f"  {name:22s} {seconds:7.3f} s  {seconds / floor:5.2f} x bare parse{verdict}")
    if args.profile:
        for name, fn in steps.items():
            print(f"\n--- profile: {name}")
            prof = cProfile.Profile()
            prof.runcall(fn)
            pstats.Stats(prof).sort_stats("cumulative").print_stats(14)


if __name__ == "__main__":
    main()
