"""The demo line a newcomer clicks through: made once, left alone after."""

from sqlmodel import Session, select

from station import masterdata, people
from station.models import User

DEMO_USERS = [  # name, role, full name, badge, PIN, password
    ("admin", "admin", "Ada Admin", None, None, "admin-demo"),
    ("op1", "operator", "Li Wei", "100001", "1234", None),
    ("op2", "operator", "Wang Fang", "100002", "2345", None),
    ("qa1", "qa", "Zhang Min", "200001", "3456", "qa-demo"),
    ("fin1", "finance", "Chen Jing", None, None, "finance-demo"),
    ("sup1", "supervisor", "Liu Yang", "400001", "4567", "supervisor-demo"),
]
ROUTE = ["PRINT", "SPI", "PLACE", "REFLOW", "AOI", "FCT", "QA", "PACK"]


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
    return "demo data created"
