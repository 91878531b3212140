"""The demo line a newcomer clicks through: made once, left alone after."""

import io
import zipfile

from sqlmodel import Session, select

from station import masterdata, people
from station.material import feeders, reels, setups
from station.models import Product, Station, User
from station.readiness import packages, pcb_lots, profiles, stencils
from station.readiness.reflow import load_windows

DEMO_USERS = [  # name, role, full name, badge, PIN, password
    ("admin", "admin", "Ada Admin", None, None, "admin-demo"),
    ("op1", "operator", "Li Wei", "100001", "1234", None),
    ("op2", "operator", "Wang Fang", "100002", "2345", None),
    ("qa1", "qa", "Zhang Min", "200001", "3456", "qa-demo"),
    ("fin1", "finance", "Chen Jing", None, None, "finance-demo"),
    ("sup1", "supervisor", "Liu Yang", "400001", "4567", "supervisor-demo"),
]
ROUTE = ["PRINT", "SPI", "PLACE", "REFLOW", "AOI", "FCT", "QA", "PACK"]
DEMO_SETUP = [  # CTRL-100 B at PLACE: the demo data package's two SMT parts of the top
    {"slot": "F01", "part": "RC0603-10K", "alternates": ["ERJ-3EKF1002V"], "designators": ["R1"]},
    {"slot": "F02", "part": "CC0603-100N", "alternates": [], "designators": ["C1"]},
]
DEMO_REELS = [  # id, part, quantity, lot, date code, MSL; the first two are loaded at PLACE
    ("RL-10K-0001", "RC0603-10K", 5000, "L2611-A", "2611", None),
    ("RL-100N-0001", "CC0603-100N", 4000, "L2609-C", "2609", None),
    ("RL-10K-0002", "ERJ-3EKF1002V", 5000, "P2612-07", "2612", None),  # the approved alternate
    ("RL-1K-0001", "RC0603-1K", 5000, "L2610-B", "2610", None),  # a wrong part, to try
]
DEMO_PLACE = "L1-PLACE-1"


def seed(session: Session, pepper: str) -> str:
    """Create the demo data unless it is there already; say what was done."""
    if session.exec(select(User).where(User.name == "admin")).first():
        return "demo data present"
    for name, role, full, badge, pin, password in DEMO_USERS:
        people.create_user(session, name, role, pepper=pepper, badge=badge, pin=pin,
                           password=password, full_name=full,
                           language="zh_CN" if name == "op2" else None)
    admin = session.exec(select(User).where(User.name == "admin")).one()
    masterdata.create_customer(session, admin, "ACME", "Acme Instruments Ltd.", "prepaid")
    masterdata.create_product(session, admin, "CTRL-100", "B", ROUTE)
    masterdata.create_order(session, admin, "WO-1001", "ACME", "CTRL-100", "B", 20, "7.50",
                            "SAC305")
    masterdata.add_boards(session, admin, "WO-1001", count=20, panel_size=4)
    op = session.exec(select(User).where(User.name == "op1")).one()
    make_ready(session, admin, op, "WO-1001")
    load_feeders(session, admin, op, "WO-1001")
    masterdata.create_order(session, admin, "WO-1002", "ACME", "CTRL-100", "B", 10, "7.50",
                            "SAC305")
    masterdata.add_boards(session, admin, "WO-1002", count=10)
    stencils.register_stencil(session, admin, "ST-CTRL-100-B-2", "CTRL-100", "B", "top",
                              80_000, 10)
    pcb_lots.register_lot(session, admin, "LOT-2026-1102", "CTRL-100", "B", 50, 72)
    return "demo data created"


def load_feeders(session: Session, admin: User, operator: User, number: str) -> None:
    """The demo product's PLACE setup, its reels, and the right ones loaded at the placement
    station (when the configured line has it), so the order runs end to end."""
    setups.create_setup(session, admin, "CTRL-100", "B", "PLACE", DEMO_SETUP)
    for reel, part, quantity, lot, date_code, msl in DEMO_REELS:
        reels.register_reel(session, operator, id=reel, part=part, quantity=quantity, lot=lot,
                            date_code=date_code, msl=msl)
    if session.get(Station, DEMO_PLACE) is None:
        return
    for slot, (reel, *_) in zip(DEMO_SETUP, DEMO_REELS, strict=False):
        feeders.load(session, operator, DEMO_PLACE, number, slot["slot"], reel)


def profile_csv() -> str:
    """A generated SAC305 profile well inside the window (a PASS): 1 s samples, 2 TCs."""
    rows = ["Time (s),TC1,TC2"]
    for t in range(0, 400):
        if t <= 60:
            temp = 25 + t * 125 / 60             # ramp about 2 °C/s to 150 °C
        elif t <= 150:
            temp = 150 + (t - 60) * 50 / 90      # soak 150 -> 200 °C in 90 s
        elif t <= 200:
            temp = 200 + (t - 150) * 0.8         # to the 240 °C peak
        elif t <= 221.25:
            temp = 240.0
        else:
            temp = max(240 - (t - 221.25) * 2.0, 30)  # cool at 2 °C/s
        rows.append(f"{t},{temp:.2f},{temp - 0.5:.2f}")
    return "\n".join(rows) + "\n"


def data_package() -> dict:
    """A small but complete data package: four Gerber layers with X2 attributes, BOM, centroid."""
    layers = {"board-F_Cu.gbr": "Copper,L1,Top", "board-F_Mask.gbs": "Soldermask,Top",
              "board-F_Silkscreen.gto": "Legend,Top", "board-F_Paste.gtp": "Paste,Top",
              "board-Edge_Cuts.gm1": "Profile,NP"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, function in layers.items():
            z.writestr(name, f"%TF.FileFunction,{function}*%\n%FSLAX46Y46*%\n%MOMM*%\n"
                             "X0Y0D02*\nX50000000Y0D01*\nX50000000Y30000000D01*\nM02*\n")
        z.writestr("board-PTH.drl", "M48\n; DRILL file\nMETRIC\nT1C1.000\n%\nT1\nX10.0Y10.0\nM30\n")
    bom = ("Reference,Value,Footprint,Qty\nR1,10k,R_0603,1\nC1,100n,C_0603,1\n"
           "J1,CONN,PinHeader_1x02_THT,1\n")
    cpl = ("Designator,Mid X,Mid Y,Layer,Rotation\nR1,10,10,Top,0\nC1,20,10,Top,90\n"
           "J1,30,10,Top,0\n")
    return {"gerber": buf.getvalue(), "bom": bom.encode(), "centroid": cpl.encode()}


def make_ready(session: Session, admin: User, operator: User, number: str) -> None:
    """Make every readiness item of an order green, through the floor's own functions."""
    order = masterdata.find_order(session, number)
    product = session.get(Product, order.product_id)
    tag = f"{product.code}-{product.revision}-{number}"
    pkg = data_package()
    packages.upload(session, admin, product.code, product.revision, pkg["gerber"],
                        pkg["bom"], "bom.csv", pkg["centroid"], "cpl.csv")
    stencils.register_stencil(session, admin, f"ST-{tag}", product.code, product.revision,
                              order.side, 100_000, 10_000)
    stencils.record_tension(session, operator, f"ST-{tag}", [40.0, 41.0, 39.5, 40.5])
    stencils.mount(session, operator, number, f"ST-{tag}")
    profiles.register_profile_board(session, admin, f"PB-{tag}", product.code, product.revision,
                                    2)
    profiles.record_run(session, operator, profile_csv(), order.paste, load_windows(),
                        profile_board=f"PB-{tag}", oven="OVEN-1")
    pcb_lots.register_lot(session, admin, f"LOT-{tag}", product.code, product.revision,
                          order.quantity)
    pcb_lots.allocate(session, operator, number, f"LOT-{tag}")
