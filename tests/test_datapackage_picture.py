"""The picture of the board: each side drawn from its layers, parts marked SMT / DIP, safe to
inline; the SVG endpoints; clicking a problem on the report page highlights its parts."""

import io
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import test_datapackage_realdata as realdata
from conftest import build_line, make_app, serving
from playwright.sync_api import Page, expect
from sqlmodel import Session

from station.readiness import packages
from station.readiness.datapackage import check_package
from station.readiness.datapackage.picture import (
    board_picture,
    problem_designators,
)

SVG = "{http://www.w3.org/2000/svg}"
REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata" / "pcb"


def _gerber(function: str, apertures: str, body: str) -> str:
    return (f"%TF.FileFunction,{function}*%\n%FSLAX46Y46*%\n%MOMM*%\n{apertures}\n{body}\nM02*\n")


def fixture_package(offset: tuple[float, float] = (0.0, 0.0), bottom_part: bool = True) -> dict:
    """A 40 x 30 mm board: R1 (SMT top), J1 (2-pin through-hole), C2 (SMT bottom), two
    fiducials (1 mm copper, 3 mm mask opening), a 4 mm tooling hole; BOM and centroid."""
    def c(mm):
        return str(round(mm * 1e6))

    def flash(ap, x, y):
        return f"D{ap}*\nX{c(x)}Y{c(y)}D03*"

    fids = [flash(13, 3, 3), flash(13, 36, 27)]
    top_pads = [flash(10, 9.2, 15), flash(10, 10.8, 15), flash(11, 20, 15), flash(11, 22.54, 15)]
    bottom_pads = [flash(11, 20, 15), flash(11, 22.54, 15)]
    if bottom_part:
        bottom_pads += [flash(10, 29.2, 10), flash(10, 30.8, 10)]
    aps = "%ADD10R,0.9X0.95*%\n%ADD11C,1.7*%\n%ADD13C,1.0*%"
    mask_aps = "%ADD10R,1.0X1.05*%\n%ADD11C,1.8*%\n%ADD13C,3.0*%"
    outline = "%ADD10C,0.1*%\nD10*\nX0Y0D02*\n" + "\n".join(
        f"X{c(x)}Y{c(y)}D01*" for x, y in ((40, 0), (40, 30), (0, 30), (0, 0)))
    silk = "%ADD10C,0.15*%\nD10*\nX8000000Y14000000D02*\nX12000000Y14000000D01*"
    files = {
        "fix-F_Cu.gbr": _gerber("Copper,L1,Top", aps, "\n".join(top_pads + fids)),
        "fix-B_Cu.gbr": _gerber("Copper,L2,Bot", aps, "\n".join(bottom_pads)),
        "fix-F_Mask.gbr": _gerber("Soldermask,Top", mask_aps, "\n".join(top_pads + fids)),
        "fix-B_Mask.gbr": _gerber("Soldermask,Bot", mask_aps, "\n".join(bottom_pads)),
        "fix-F_SilkS.gbr": _gerber("Legend,Top", "", silk),
        "fix-Edge_Cuts.gbr": _gerber("Profile,NP", "", outline),
        "fix-PTH.drl": "M48\nMETRIC\nT1C1.000\n%\nT1\nX20.0Y15.0\nX22.54Y15.0\nM30\n",
        "fix-NPTH.drl": "M48\nMETRIC\nT1C4.000\n%\nT1\nX5.0Y25.0\nM30\n",
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    dx, dy = offset
    bom = "Reference,Value,Footprint,Qty\nR1,10k,R_0603,1\nJ1,CONN,PinHeader_1x02_THT,1\n"
    cpl = (f"Designator,Mid X,Mid Y,Layer,Rotation\nR1,{10 - dx},{15 - dy},Top,0\n"
           f"J1,{21.27 - dx},{15 - dy},Top,0\n")
    if bottom_part:
        bom += "C2,100n,C_0603,1\n"
        cpl += f"C2,{30 - dx},{10 - dy},Bottom,0\n"
    return {"gerber": buf.getvalue(), "bom": bom.encode(), "centroid": cpl.encode()}


PANEL = {"size_mm": [40, 30], "rails_mm": {"top": 5.0, "bottom": 5.0},
         "tooling_holes": [{"x_mm": 5.0, "y_mm": 25.0, "diameter_mm": 4.0}],
         "fiducials": [{"x_mm": 3.0, "y_mm": 3.0, "diameter_mm": 1.0, "clear_mm": 3.0,
                        "side": "top"},
                       {"x_mm": 36.0, "y_mm": 27.0, "diameter_mm": 1.0, "clear_mm": 3.0,
                        "side": "top"}]}


def report_of(pkg: dict, **extra) -> dict:
    report = check_package(pkg["gerber"], pkg["bom"], "bom.csv", pkg["centroid"], "cpl.csv")
    return {**report, **extra}


def marks(svg: str) -> dict[str, set[str]]:
    """Each marked designator and its classes."""
    root = ET.fromstring(svg)
    return {g.get("data-ref"): set(g.get("class").split()) for g in root.iter(f"{SVG}g")
            if g.get("data-ref")}


def test_both_sides_parse_as_svg_and_mark_each_part_with_its_kind():
    pkg = fixture_package()
    report = report_of(pkg)
    assert report["placement"] == {"smt_top": ["R1"], "smt_bottom": ["C2"], "dip": ["J1"]}
    top = board_picture(pkg["gerber"], report, "top")
    bottom = board_picture(pkg["gerber"], report, "bottom")
    for svg, side in ((top, "top"), (bottom, "bottom")):
        root = ET.fromstring(svg)
        assert root.tag == f"{SVG}svg" and root.get("data-side") == side
        assert root.find(f".//{SVG}g[@id='{side}-l-{side}-copper']") is not None
    assert marks(top) == {"R1": {"part", "smt"}, "J1": {"part", "dip"}}
    # Seen from below: the bottom part, and the through-hole part's leads (hollow, "far").
    assert marks(bottom) == {"C2": {"part", "smt"}, "J1": {"part", "dip", "far"}}
    titles = [t.text for t in ET.fromstring(top).iter(f"{SVG}title")]
    assert "R1 SMT" in titles and "J1 DIP" in titles


def test_the_bottom_is_mirrored_and_parts_sit_where_the_centroid_puts_them():
    pkg = fixture_package()
    svg = board_picture(pkg["gerber"], report_of(pkg), "bottom")
    root = ET.fromstring(svg)
    overlay = root.find(f"{SVG}g[@class='overlay']")
    assert overlay.get("transform").startswith("translate(40.0000 0) scale(-1 1)")
    c2 = root.find(f".//{SVG}g[@data-ref='C2']/{SVG}circle")
    assert (float(c2.get("cx")), float(c2.get("cy"))) == (30.0, 10.0)


def test_dip_parts_of_the_report_give_the_side_of_a_through_hole_part():
    pkg = fixture_package(bottom_part=False)
    report = report_of(pkg, dip_parts=[{"ref": "J1", "side": "bottom"}])
    top = board_picture(pkg["gerber"], report, "top")
    bottom = board_picture(pkg["gerber"], report, "bottom")
    assert marks(top)["J1"] == {"part", "dip", "far"}
    assert marks(bottom)["J1"] == {"part", "dip"}


def test_fiducials_tooling_holes_and_rails_of_the_panel_are_drawn():
    pkg = fixture_package()
    report = report_of(pkg, panel=PANEL)
    root = ET.fromstring(board_picture(pkg["gerber"], report, "top"))
    classes = [g.get("class") for g in root.iter(f"{SVG}g")]
    assert classes.count("fiducial") == 2 and classes.count("tooling") == 1
    rails = {g.get("data-edge"): g.find(f"{SVG}rect") for g in root.iter(f"{SVG}g")
             if g.get("class") == "rail"}
    # From the outline's drawn edge (its 0.1 mm line included).
    assert float(rails["top"].get("y")) == pytest.approx(25.0, abs=0.06)
    assert float(rails["bottom"].get("y")) == pytest.approx(0.0, abs=0.06)
    bottom = ET.fromstring(board_picture(pkg["gerber"], report, "bottom"))
    classes = [g.get("class") for g in bottom.iter(f"{SVG}g")]
    assert classes.count("fiducial") == 0 and classes.count("tooling") == 1  # a hole: both


def test_the_svg_holds_no_script_no_handler_and_no_outside_reference_and_text_is_escaped():
    pkg = fixture_package()
    evil = '<script>alert(1)</script>"&'
    report = report_of(pkg)
    report["placement"]["smt_top"].append(evil)
    report["positions_mm"][evil] = [12.0, 12.0]
    svg = board_picture(pkg["gerber"], report, "top")
    root = ET.fromstring(svg)  # escaped text parses back
    assert "<script" not in svg.lower()
    assert evil in {g.get("data-ref") for g in root.iter(f"{SVG}g")}
    for el in root.iter():
        assert el.tag.rpartition("}")[2] not in ("script", "foreignObject", "image", "a")
        for key, value in el.attrib.items():
            assert not key.rpartition("}")[2].lower().startswith("on")
            if key.rpartition("}")[2] == "href":
                assert value.startswith("#")
            assert "javascript:" not in value.lower() and "http" not in value.replace(
                "http://www.w3.org", "")
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert ids and all(i.startswith("top-") for i in ids)  # two pictures on a page: no clash


def test_a_problem_names_its_designators_for_the_highlight():
    assert problem_designators({"designators": ["R1", "C2"]}) == ["R1", "C2"]
    assert problem_designators({"designators": ["R1 (R_0603 / R_0805)"]}) == ["R1"]
    assert problem_designators({"bom_only": ["R9"], "centroid_only": ["C9"]}) == ["R9", "C9"]
    assert problem_designators({"groups": {"10k": ["R1"], "1k": ["R2"]}}) == ["R1", "R2"]
    assert problem_designators({"code": "NO_OUTLINE"}) == []


# --- the endpoints ------------------------------------------------------------------------


def upload_fixture(session, line, pkg=None):
    pkg = pkg or fixture_package()
    packages.upload(session, line.users["admin"], "PCB", "A", pkg["gerber"], pkg["bom"],
                    "bom.csv", pkg["centroid"], "cpl.csv")


def test_a_reader_gets_each_side_as_svg_and_without_a_package_404(client, session):
    line = build_line(session, ready=False)
    auth = {"Authorization": f"Bearer {line.tokens['operator']}"}
    for side in ("top", "bottom"):
        r = client.get(f"/api/v1/products/PCB/A/data-package/{side}.svg", headers=auth)
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "NOT_FOUND"
    upload_fixture(session, line)
    for side in ("top", "bottom"):
        r = client.get(f"/api/v1/products/PCB/A/data-package/{side}.svg", headers=auth)
        assert r.status_code == 200 and r.mimetype == "image/svg+xml"
        assert ET.fromstring(r.data).get("data-side") == side
        assert r.headers["Content-Security-Policy"] == "default-src 'none'"
    assert client.get("/api/v1/products/PCB/A/data-package/top.svg").status_code == 401


def test_the_picture_is_cached_per_package_hash(client, session, monkeypatch):
    line = build_line(session, ready=False)
    upload_fixture(session, line)
    packages._pictures.clear()
    drawn = []
    real = packages.board_picture
    monkeypatch.setattr(packages, "board_picture",
                        lambda *a: drawn.append(a[-1]) or real(*a))
    first = packages.picture(session, "PCB", "A", "top")
    assert packages.picture(session, "PCB", "A", "top") == first and drawn == ["top"]
    upload_fixture(session, line, fixture_package(bottom_part=False))  # other files: drawn anew
    packages.picture(session, "PCB", "A", "top")
    assert drawn == ["top", "top"]


def test_the_report_page_shows_both_pictures(client, session):
    line = build_line(session, ready=False)
    upload_fixture(session, line)
    client.post("/login", data={"name": "admin", "password": "admin-pw"})
    html = client.get("/products/PCB/A/data-package").get_data(as_text=True)
    assert 'class="board-picture top"' in html and 'class="board-picture bottom"' in html
    assert 'data-ref="R1"' in html and "data_package.js" in html


@pytest.mark.skipif(not REALDATA.is_dir(), reason="no real data packages in ../shared/realdata")
def test_real_packages_draw_their_parts_inside_the_board():
    for folder in ("barkour-mataric", "pslab-mini", "hail-revc"):
        zip_name = realdata.PACKAGES[folder][0]
        report = realdata.run(folder)
        root = ET.fromstring(board_picture(realdata.gerber_bytes(folder, zip_name), report,
                                           "top"))
        x, y, w, h = (float(v) for v in root.get("viewBox").split())
        circles = [c for c in root.iter(f"{SVG}circle") if c.get("r") == "0.600"]
        # The overlay flips y about the board's middle: y' = -y + 2 * y0 + h.
        inside = [c for c in circles if x <= float(c.get("cx")) <= x + w
                  and y <= -float(c.get("cy")) + 2 * y + h <= y + h]
        assert circles and len(inside) >= 0.9 * len(circles), folder


# --- the page in a real Chromium ----------------------------------------------------------


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """The station under waitress; product PCB/A with a package whose BOM leaves two values
    undecided (R1 on top, C2 on the bottom): a VALUE_UNDECIDED warning naming them."""
    app = make_app(tmp_path_factory.mktemp("picture_browser"), WTF_CSRF_ENABLED=True)
    with Session(app.extensions["engine"], expire_on_commit=False) as session:
        line = build_line(session, ready=False)
        pkg = fixture_package()
        pkg["bom"] = pkg["bom"].replace(b"R1,10k", b"R1,TBD").replace(b"C2,100n", b"C2,TBD")
        upload_fixture(session, line, pkg)
    with serving(app) as url:
        yield url
    app.extensions["engine"].dispose()


@pytest.mark.browser
def test_clicking_a_problem_highlights_its_designators(page: Page, station):
    page.set_default_timeout(5000)
    page.goto(f"{station}/login")
    page.fill("input[name=name]", "admin")
    page.fill("input[name=password]", "admin-pw")
    page.locator("input[name=password]").press("Enter")
    page.goto(f"{station}/products/PCB/A/data-package")
    mark = page.locator(".board-picture.top g.part[data-ref='R1']")
    expect(mark).to_have_count(1)
    expect(mark).to_have_class("part smt")
    problem = page.locator(".blocker[data-code=VALUE_UNDECIDED]")
    problem.click()
    expect(mark).to_have_class("part smt highlight")
    expect(page.locator(".board-picture.bottom g.part[data-ref='C2']")).to_have_class(
        "part smt highlight")
    expect(page.locator(".board-picture g.part.highlight")).to_have_count(2)
    expect(problem).to_have_attribute("aria-pressed", "true")
    problem.click()  # again: cleared
    expect(page.locator(".board-picture g.part.highlight")).to_have_count(0)
