"""The panel rule measured from geometry built here: a compliant panel and one wrong in each way."""

from dataclasses import replace

import pytest
from sqlmodel import select

from station import demo
from station.errors import InvalidInput
from station.models import Event
from station.readiness import packages
from station.readiness.datapackage import report as report_module
from station.readiness.datapackage.geometry import Geometry, Hole, Pad
from station.readiness.datapackage.panel import (
    PANEL_TOLERANCE_MM,
    apply_overrides,
    judge_panel,
    measure_panel,
)


def rect(x, y, w=1.0, h=1.0) -> Pad:
    """A rectangular SMD pad."""
    return Pad(x, y, "rect", w, h)


def dot(x, y, d=1.0) -> Pad:
    """A round copper flash (a fiducial's dot, or its mask opening)."""
    return Pad(x, y, "circle", d, d)


FIDUCIALS = ((15, 5), (185, 95), (15, 95))  # three corners: no turn or mirror maps them onto

BOARD_PADS = (rect(30, 10.5), rect(170, 89.5), rect(100, 50, 2, 1))  # boards span y 10..90


def panel_geometry(*, pads=BOARD_PADS, holes=((5, 5, 4.0), (195, 95, 4.0)), fiducials=FIDUCIALS,
                   fiducial_mm=1.0, clear_mm=3.0, outline=(0, 0, 200, 100),
                   plated=((60, 50, 1.0),), bottom=True) -> Geometry:
    """A 200 x 100 mm panel: 10 mm rails, 4 mm tooling holes 5 mm in, 1 mm / 3 mm fiducials."""
    fid = tuple(dot(x, y, fiducial_mm) for x, y in fiducials)
    mask = tuple(dot(x, y, clear_mm) for x, y in fiducials)
    copper = {"top": tuple(pads) + fid + tuple(dot(x, y, 1.8) for x, y, _ in plated)}
    masks = {"top": mask}
    if bottom:
        copper["bottom"], masks["bottom"] = fid, mask
    return Geometry(
        outline_mm=outline,
        holes=tuple(Hole(x, y, d, False) for x, y, d in holes)
        + tuple(Hole(x, y, d, True) for x, y, d in plated),
        copper=copper, mask=masks, copper_extent_mm={})


PARTS = [{"ref": "R1", "x_mm": 40, "y_mm": 20}, {"ref": "U1", "x_mm": 150, "y_mm": 80}]


def measured(geometry=None, parts=PARTS):
    """measure_panel of the compliant panel, or of the geometry given."""
    return measure_panel(geometry or panel_geometry(), parts)


def found(problems, severity=None):
    """(code, field) of each problem, optionally of one severity."""
    return [(p["code"], p["field"]) for p in problems
            if severity is None or p["severity"] == severity]


def test_a_compliant_panel_has_no_problems():
    panel, problems = measured()
    assert problems == []
    assert panel["kind"] == "panel"
    assert panel["size_mm"] == [200, 100]
    assert panel["rails_mm"] == {"top": 10.0, "bottom": 10.0}
    assert [(h["x_mm"], h["y_mm"], h["diameter_mm"], h["edge"], h["edge_mm"])
            for h in panel["tooling_holes"]] == [(5, 5, 4.0, "left", 5), (195, 95, 4.0, "right", 5)]
    assert len(panel["fiducials"]) == 6
    assert {(f["side"], f["diameter_mm"], f["clear_mm"]) for f in panel["fiducials"]} == {
        ("top", 1.0, 3.0), ("bottom", 1.0, 3.0)}
    assert panel["values"]["fiducials_asymmetric"] is True


@pytest.mark.parametrize("geometry,code,field", [
    (panel_geometry(pads=(rect(30, 10.5), rect(170, 91.5))), "RAIL_TOO_NARROW", "rails_top_mm"),
    (panel_geometry(pads=(rect(30, 8.5), rect(170, 89.5))), "RAIL_TOO_NARROW",
     "rails_bottom_mm"),
    (panel_geometry(pads=(rect(30, 10.5), rect(170, 98)), holes=((5, 5, 4.0), (195, 5, 4.0))),
     "NO_RAILS", "rails_top_mm"),
    (panel_geometry(holes=((5, 5, 3.2), (195, 95, 4.0))), "TOOLING_HOLE_SIZE",
     "tooling_hole_diameter_mm"),
    (panel_geometry(holes=((7, 5, 4.0), (195, 95, 4.0))), "TOOLING_HOLE_POSITION",
     "tooling_hole_edge_offset_left_mm"),
    (panel_geometry(holes=((5, 5, 4.0), (193, 95, 4.0))), "TOOLING_HOLE_POSITION",
     "tooling_hole_edge_offset_right_mm"),
    (panel_geometry(holes=((5, 5, 4.0),)), "NO_TOOLING_HOLES",
     "tooling_hole_edge_offset_right_mm"),
    (panel_geometry(holes=()), "NO_TOOLING_HOLES", "tooling_hole_diameter_mm"),
    (panel_geometry(fiducial_mm=1.5, clear_mm=3.5), "FIDUCIAL_SIZE", "fiducial_diameter_mm"),
    (panel_geometry(clear_mm=2.0), "FIDUCIAL_CLEARANCE", "fiducial_clear_ring_mm"),
    (panel_geometry(fiducials=((15, 5), (185, 95))), "FIDUCIALS_SYMMETRIC",  # turned 180°
     "fiducials_asymmetric"),
    (panel_geometry(fiducials=((15, 5), (185, 5), (15, 95), (185, 95))), "FIDUCIALS_SYMMETRIC",
     "fiducials_asymmetric"),  # all four corners
    (panel_geometry(fiducials=((15, 5), (185, 5))), "FIDUCIALS_SYMMETRIC",  # mirrored
     "fiducials_asymmetric"),
    (panel_geometry(fiducials=()), "NO_FIDUCIALS", "fiducial_diameter_mm"),
], ids=["rail 8 mm top", "rail 8 mm bottom", "no top rail", "3.2 mm tooling hole",
        "tooling hole 7 mm in", "right tooling hole 7 mm in", "no right tooling hole",
        "no tooling holes", "1.5 mm fiducials", "2 mm clear ring", "diagonal pair",
        "four corners", "mirrored pair", "no fiducials"])
def test_a_panel_wrong_in_one_way_gets_that_error(geometry, code, field):
    panel, problems = measured(geometry)
    assert panel["kind"] == "panel"
    assert found(problems) == [(code, field)]
    (p,) = problems
    assert p["severity"] == "error" and p["rule"] == "panel" and p["message"]
    assert p["text"]["id"] == p["message"].msgid and p["text"]["params"] == p["message"].params


def test_a_hole_among_the_board_features_is_not_a_tooling_hole():
    # Pads reach 1.5 mm from the top edge: the hole 5 mm below it is the board's, not the rail's.
    panel, problems = measured(panel_geometry(pads=(rect(30, 10.5), rect(170, 98))))
    assert [h["y_mm"] for h in panel["tooling_holes"]] == [5]
    assert found(problems) == [("NO_RAILS", "rails_top_mm"),
                               ("NO_TOOLING_HOLES", "tooling_hole_edge_offset_right_mm")]


def test_the_messages_say_what_was_measured_and_what_is_required():
    _, (rail,) = measured(panel_geometry(pads=(rect(30, 10.5), rect(170, 91.5))))
    assert rail["text"]["params"] == {"edge": "top edge", "measured": 8.0, "required": 10.0}
    assert rail["message"] == "The rail along the top edge is 8 mm: it must be 10 mm."
    _, (hole,) = measured(panel_geometry(holes=((5, 5, 3.2), (195, 95, 4.0))))
    assert "3.2 mm" in hole["message"] and "4 ± 0.1 mm" in hole["message"]
    _, (ring,) = measured(panel_geometry(clear_mm=2.0))
    assert ring["text"]["params"]["measured"] == 2.0 and ring["text"]["params"]["required"] == 3


def test_a_single_board_without_panel_features_gets_warnings():
    board = Geometry(outline_mm=(0, 0, 50, 30), holes=(Hole(25, 15, 1.0, True),),
                     copper={"top": (rect(5, 1.5), rect(45, 28.5), dot(25, 15, 1.8))},
                     mask={"top": (rect(5, 1.5, 1.1, 1.1),)}, copper_extent_mm={})
    panel, problems = measure_panel(board, [{"x_mm": 10, "y_mm": 10}])
    assert panel["kind"] == "single_board"
    assert panel["rails_mm"] == {"top": 1.0, "bottom": 1.0}
    assert found(problems) == [("NO_RAILS", "rails_top_mm"), ("NO_RAILS", "rails_bottom_mm"),
                               ("NO_TOOLING_HOLES", "tooling_hole_diameter_mm"),
                               ("NO_FIDUCIALS", "fiducial_diameter_mm")]
    assert {p["severity"] for p in problems} == {"warning"}


def test_a_single_board_with_small_fiducials_warns_the_factory_panelises_it():
    # Board fiducials of 0.5 mm in a 1.5 mm opening, as on many boards made for a panel later.
    board = Geometry(outline_mm=(0, 0, 85, 56), holes=(),
                     copper={"top": (rect(10, 2), rect(75, 54), dot(3, 3, 0.5), dot(82, 3, 0.5),
                                     dot(78, 53, 0.5))},
                     mask={"top": (dot(3, 3, 1.5), dot(82, 3, 1.5), dot(78, 53, 1.5))},
                     copper_extent_mm={})
    panel, problems = measure_panel(board, [])
    assert panel["kind"] == "single_board"
    assert len(panel["fiducials"]) == 3
    assert found(problems, "warning") == [
        ("NO_RAILS", "rails_top_mm"), ("NO_RAILS", "rails_bottom_mm"),
        ("NO_TOOLING_HOLES", "tooling_hole_diameter_mm"), ("FIDUCIAL_SIZE", "fiducial_diameter_mm"),
        ("FIDUCIAL_CLEARANCE", "fiducial_clear_ring_mm")]
    assert found(problems, "error") == []


def test_a_panel_drawn_upright_is_measured_along_its_long_edges():
    def turn(x, y):  # the compliant panel turned a quarter: its bottom edge is the file's left
        return y, x
    upright = Geometry(
        outline_mm=(0, 0, 100, 200),
        holes=tuple(Hole(*turn(x, y), d, False) for x, y, d in ((5, 5, 4.0), (195, 95, 4.0))),
        copper={"top": tuple(Pad(*turn(p.x_mm, p.y_mm), p.shape, p.height_mm, p.width_mm)
                             for p in BOARD_PADS) + tuple(dot(*turn(x, y)) for x, y in FIDUCIALS)},
        mask={"top": tuple(dot(*turn(x, y), 3.0) for x, y in FIDUCIALS)}, copper_extent_mm={})
    panel, problems = measure_panel(upright, [])
    assert problems == []
    assert panel["size_mm"] == [100, 200] and panel["rails_mm"] == {"top": 10, "bottom": 10}


def test_lengths_within_the_tolerance_pass():
    assert PANEL_TOLERANCE_MM == 0.1
    inch_hole = 0.157 * 25.4  # a 0.157 in drill is 3.99 mm
    geometry = panel_geometry(holes=((5.05, 5, inch_hole), (194.95, 95, 4.05)),
                              pads=(rect(30, 10.45), rect(170, 89.55)), fiducial_mm=0.95,
                              clear_mm=2.95)
    assert measured(geometry)[1] == []


def test_a_wider_rail_is_only_info():
    _, problems = measured(panel_geometry(pads=(rect(30, 15.5), rect(170, 89.5))))
    assert found(problems) == [("RAIL_WIDER", "rails_bottom_mm")]
    assert problems[0]["severity"] == "info"


def test_a_part_beyond_the_pads_is_a_board_feature_but_a_fiducial_part_is_not():
    parts = PARTS + [{"ref": "J1", "x_mm": 100, "y_mm": 93}]  # a connector body reaching out
    panel, problems = measured(parts=parts)
    assert panel["rails_mm"]["top"] == 7
    assert found(problems) == [("RAIL_TOO_NARROW", "rails_top_mm")]
    parts = PARTS + [{"ref": "FID2", "x_mm": 185, "y_mm": 95},
                     {"ref": "TH1", "x_mm": 5, "y_mm": 5}]  # placed at a fiducial, a tooling hole
    assert measured(parts=parts)[1] == []


def test_what_is_not_a_fiducial():
    # A round pad with an ordinary mask expansion, and a dot with a hole in it (a mounting hole).
    pads = BOARD_PADS + (dot(50, 30, 1.0), dot(120, 30, 1.0))
    geometry = panel_geometry(pads=pads, plated=((60, 50, 1.0), (120, 30, 0.4)))
    geometry = replace(geometry, mask={**geometry.mask, "top": geometry.mask["top"] + (
        dot(50, 30, 1.1), dot(120, 30, 3.0))})
    panel, problems = measured(geometry)
    assert problems == [] and len(panel["fiducials"]) == 6


def test_a_hole_the_drill_file_does_not_call_plated_or_not():
    # Unsaid plating: a copper land around it makes it plated (a board feature), none a bare hole.
    geometry = panel_geometry()
    holes = tuple(replace(h, plated=None) for h in geometry.holes)
    panel, problems = measured(replace(geometry, holes=holes))
    assert problems == [] and len(panel["tooling_holes"]) == 2


def test_board_holes_without_plating_are_not_tooling_holes():
    geometry = panel_geometry(holes=((5, 5, 4.0), (195, 95, 4.0), (100, 40, 0.65)))
    panel, problems = measured(geometry)
    assert problems == [] and len(panel["tooling_holes"]) == 2


def test_without_an_outline_the_panel_is_not_measured():
    panel, problems = measured(replace(panel_geometry(), outline_mm=None))
    assert found(problems) == [("PANEL_NOT_MEASURED", None)]
    assert problems[0]["severity"] == "warning" and panel["size_mm"] is None
    assert len(panel["fiducials"]) == 6


def test_overrides_replace_the_measured_values_in_the_judgement():
    panel, _ = measured(panel_geometry(pads=(rect(30, 10.5), rect(170, 91.5))))
    override = {"rails_top_mm": {"measured": 8.0, "entered": 10.0, "reason": "copper logo"}}
    assert apply_overrides(panel, override) == []
    wrong = apply_overrides(panel, {"fiducials_asymmetric": {"entered": False}})
    assert [(p["code"], p.get("overridden")) for p in wrong] == [
        ("RAIL_TOO_NARROW", None), ("FIDUCIALS_SYMMETRIC", True)]
    # Nothing measured (no geometry): only what was entered is judged.
    assert found(apply_overrides(None, {"rails_top_mm": {"entered": 6}})) == [
        ("RAIL_TOO_NARROW", "rails_top_mm")]


def test_judge_panel_says_single_boards_warn_and_panels_err():
    values = {"rails_top_mm": 2, "rails_bottom_mm": 2, "tooling_hole_diameter_mm": 0,
              "fiducial_diameter_mm": 0}
    assert {p["severity"] for p in judge_panel(values, "single_board")} == {"warning"}
    assert {p["severity"] for p in judge_panel(values, "panel")} == {"error"}


# --- the override recorded on the stored package -------------------------------------------------


@pytest.fixture
def narrow_rail(monkeypatch):
    """The report reads a panel whose top rail is 8 mm (the gerbonara reading stubbed)."""
    geometry = panel_geometry(pads=(rect(30, 10.5), rect(170, 91.5)))
    monkeypatch.setattr(report_module, "read_geometry", lambda files: (geometry, []))


def upload(session, admin):
    """The demo data package uploaded for product PCB rev A."""
    pkg = demo.data_package()
    return packages.upload(session, admin, "PCB", "A", pkg["gerber"], pkg["bom"], "bom.csv",
                           pkg["centroid"], "cpl.csv")


def test_an_override_is_recorded_as_an_event_and_shown_beside_the_measurement(
        session, line, narrow_rail):
    admin = line.users["admin"]
    pkg = upload(session, admin)
    assert pkg.ready is False
    assert [p["code"] for p in pkg.report["problems"] if p.get("rule") == "panel"] == [
        "RAIL_TOO_NARROW"]

    pkg = packages.override_panel(session, admin, "PCB", "A", {
        "value": "rails_top_mm", "entered": "10,0", "reason": "the rail logo is copper, not a pad"})
    assert pkg.ready is True
    assert not [p for p in pkg.report["problems"] if p.get("rule") == "panel"]
    (event,) = session.exec(select(Event).where(Event.kind == "data_package.panel_overridden"))
    assert event.actor == admin.name and event.subject == "product:PCB/A"
    assert event.payload | {} == {"package": pkg.id, "value": "rails_top_mm", "measured": 8.0,
                                  "entered": 10.0, "reason": "the rail logo is copper, not a pad",
                                  "ready": True, "problems": []}
    view = packages.package_view(pkg)
    assert view["panel"]["rails_mm"]["top"] == 8.0 and view["panel"]["values"]["rails_top_mm"] == 8
    (shown,) = view["panel"]["overrides"]
    assert shown["value"] == "rails_top_mm" and shown["measured"] == 8.0
    assert shown["entered"] == 10.0 and shown["by"] == admin.name and shown["at"]


def test_an_override_that_breaks_the_rule_makes_an_error(session, line, narrow_rail):
    admin = line.users["admin"]
    upload(session, admin)
    pkg = packages.override_panel(session, admin, "PCB", "A", {
        "value": "fiducials_asymmetric", "entered": "no", "reason": "the third one is DNP"})
    codes = [(p["code"], p.get("overridden")) for p in pkg.report["problems"]
             if p.get("rule") == "panel"]
    assert codes == [("RAIL_TOO_NARROW", None), ("FIDUCIALS_SYMMETRIC", True)]
    assert pkg.ready is False


@pytest.mark.parametrize("body", [
    {"value": "rails_top_mm", "entered": 10},  # no reason
    {"value": "rails_top_mm", "entered": 10, "reason": "  "},
    {"value": "rail_mm", "entered": 10, "reason": "why"},
    {"value": "rails_top_mm", "entered": "ten", "reason": "why"},
    {"value": "rails_top_mm", "entered": -1, "reason": "why"},
    {"value": "rails_top_mm", "entered": float("nan"), "reason": "why"},
    {"value": "rails_top_mm", "entered": True, "reason": "why"},
    {"value": "fiducials_asymmetric", "entered": "maybe", "reason": "why"},
    [1, 2],
])
def test_an_override_must_name_a_value_a_number_and_a_reason(session, line, narrow_rail, body):
    upload(session, line.users["admin"])
    with pytest.raises(InvalidInput):
        packages.override_panel(session, line.users["admin"], "PCB", "A", body)


def test_the_page_shows_the_panel_and_an_admin_overrides_a_value(client, session, line,
                                                                  narrow_rail):
    client.post("/login", data={"name": "admin", "password": "admin-pw"})
    upload(session, line.users["admin"])
    html = client.get("/products/PCB/A/data-package").get_data(as_text=True)
    assert 'id="panel"' in html and "RAIL_TOO_NARROW" in html
    assert "The rail along the top edge is 8 mm: it must be 10 mm." in html
    r = client.post("/products/PCB/A/data-package/panel", data={
        "value": "rails_top_mm", "entered": "10", "reason": "the rail logo is copper"})
    assert r.status_code == 302
    html = client.get("/products/PCB/A/data-package").get_data(as_text=True)
    assert "RAIL_TOO_NARROW" not in html and "the rail logo is copper" in html
    row = html[html.index('data-value="rails_top_mm"'):]
    assert "<td>8.0</td>" in row[:300] and "<td>10.0</td>" in row[:300]
    r = client.post("/products/PCB/A/data-package/panel", data={
        "value": "rails_top_mm", "entered": "10", "reason": ""})
    assert "say why the measurement is overridden" in r.get_data(as_text=True)


def test_the_panel_problems_are_said_in_chinese(client, session, line, narrow_rail):
    client.post("/login", data={"name": "admin", "password": "admin-pw"})
    upload(session, line.users["admin"])
    html = client.get("/products/PCB/A/data-package?lang=zh_CN").get_data(as_text=True)
    assert "上板边工艺边宽 8 mm：须为 10 mm。" in html
