"""The floor's tables: customers, products and routes, stations, orders, boards, people, events."""

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    LargeBinary,
    Numeric,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    """A time as ISO 8601 in UTC with a Z, as the API speaks it."""
    if dt is None:
        return None
    if dt.tzinfo is None:  # SQLite hands back what SQL functions computed without a zone: UTC
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class User(SQLModel, table=True):
    """A person: operators sign in with badge + PIN, office roles with a password."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    full_name: str = Field(default="", max_length=128)
    role: str = Field(max_length=16)
    badge: str | None = Field(default=None, unique=True, max_length=64)
    pin_hash: str | None = None
    password_hash: str | None = None
    failed_pins: int = 0
    locked: bool = False
    language: str | None = Field(default=None, max_length=8)
    session_epoch: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    """A bearer token for the JSON API; only its SHA-256 is kept."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str = Field(unique=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class Customer(SQLModel, table=True):
    """A company we build boards for, with its payment terms."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=32)
    name: str = Field(max_length=128)
    terms: str = Field(default="prepaid", max_length=16)  # in force
    requested_terms: str = Field(default="prepaid", max_length=16)
    terms_approved_by_id: int | None = Field(default=None, foreign_key="user.id")
    terms_approved_at: datetime | None = None
    audit_required: bool = False  # a passed audit before its first order is confirmed
    created_at: datetime = Field(default_factory=utcnow)


class Product(SQLModel, table=True):
    """A product revision and its route: the ordered station types every board passes."""

    __table_args__ = (UniqueConstraint("code", "revision"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32)
    revision: str = Field(max_length=16)
    route: list[str] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)


class Line(SQLModel, table=True):
    """An SMT line: a row of stations."""

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(default="", max_length=128)
    hourly_target: int = 0


class Station(SQLModel, table=True):
    """A place on the line where boards are scanned; its type is a route step."""

    id: str = Field(primary_key=True, max_length=32)
    type: str = Field(max_length=16)
    line: str = Field(max_length=32, index=True)
    language: str | None = Field(default=None, max_length=8)


class WorkOrder(SQLModel, table=True):
    """A customer's order (work order) for a quantity of one product revision."""

    __tablename__ = "work_order"
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, max_length=32)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    quantity: int
    unit_price: Decimal = Field(sa_column=Column(Numeric(14, 4), nullable=False))
    currency: str = Field(default="USD", max_length=3)
    paste: str = Field(default="SAC305", max_length=32)
    side: str = Field(default="top", max_length=6)  # the side its PRINT step prints
    stencil_id: str | None = Field(default=None, foreign_key="stencil.id")
    due_date: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Board(SQLModel, table=True):
    """One board, by serial; boards made together share a panel id and have a position on it."""

    id: int | None = Field(default=None, primary_key=True)
    serial: str = Field(unique=True, max_length=64)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    panel_id: str | None = Field(default=None, index=True, max_length=64)
    panel_position: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class BoardStep(SQLModel, table=True):
    """A route step a board has passed; the unique key lets exactly one station win it."""

    __tablename__ = "board_step"
    # A station's latest steps and its shift's count read one station's recent rows, however
    # long the table has grown.
    __table_args__ = (UniqueConstraint("board_id", "step_index"),
                      Index("ix_board_step_station_id_at", "station_id", "at"))
    id: int | None = Field(default=None, primary_key=True)
    board_id: int = Field(foreign_key="board.id")  # the unique key's first column: indexed
    step_index: int
    step: str = Field(max_length=16)
    station_id: str = Field(foreign_key="station.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(default_factory=utcnow, index=True)


class Hold(SQLModel, table=True):
    """A QA hold on a whole order or on one board, open until released."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    board_id: int | None = Field(default=None, foreign_key="board.id", index=True)
    reason: str = Field(max_length=500)
    placed_by_id: int = Field(foreign_key="user.id")
    placed_at: datetime = Field(default_factory=utcnow)
    released_by_id: int | None = Field(default=None, foreign_key="user.id")
    released_at: datetime | None = None


class ScanReceipt(SQLModel, table=True):
    """The first answer to a client's scan id, returned again when the scan is replayed."""

    __tablename__ = "scan_receipt"
    scan_id: str = Field(primary_key=True, max_length=64)
    station_id: str = Field(foreign_key="station.id")
    answer: dict = Field(sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow)


STATE_SET = "kind = 'station.state_set'"  # a literal: only then can a partial index serve it


class Event(SQLModel, table=True):
    """One change on the floor: the audit trail, a board's history and the MQTT outbox."""

    # A station's newest event, and its operator's latest state, however long the log has
    # grown; the second only over the few state events (a partial index: no cost per scan).
    __table_args__ = (Index("ix_event_station_id_id", "station_id", "id"),
                      Index("ix_event_state_set", "station_id", "id",
                            sqlite_where=text(STATE_SET), postgresql_where=text(STATE_SET)))
    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(unique=True, max_length=36)
    at: datetime = Field(default_factory=utcnow, index=True)
    kind: str = Field(max_length=48)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    actor: str = Field(default="", max_length=64)
    station_id: str | None = Field(default=None, max_length=32)
    subject: str = Field(max_length=96, index=True)
    payload: dict = Field(sa_column=Column(JSON, nullable=False))


class ProfileBoard(SQLModel, table=True):
    """A scrap board of a product revision with thermocouples on its important parts."""

    __tablename__ = "profile_board"
    id: str = Field(primary_key=True, max_length=32)
    product_id: int = Field(foreign_key="product.id", index=True)
    thermocouples: int
    created_at: datetime = Field(default_factory=utcnow)


class ProfileRun(SQLModel, table=True):
    """One recording through the oven, as received, with its analysis against a paste window."""

    __tablename__ = "profile_run"
    id: int | None = Field(default=None, primary_key=True)
    profile_board_id: str | None = Field(default=None, foreign_key="profile_board.id",
                                         index=True)
    paste: str = Field(max_length=32)
    window_version: str = Field(max_length=32)
    oven: str | None = Field(default=None, max_length=64, index=True)
    recipe: str | None = Field(default=None, max_length=64)
    source: str = Field(max_length=64)  # "upload" or the serial device's name
    format: str = Field(max_length=16)
    raw: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64)
    verdict: str = Field(max_length=8, index=True)
    pwi: float | None = None
    result: dict = Field(sa_column=Column(JSON, nullable=False))
    user_id: int | None = Field(default=None, foreign_key="user.id")
    recorded_at: datetime = Field(default_factory=utcnow, index=True)


class DataPackage(SQLModel, table=True):
    """A customer's data package for a product revision, checked: the newest one counts."""

    __tablename__ = "data_package"
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    report: dict = Field(sa_column=Column(JSON, nullable=False))
    complete: bool
    ready: bool
    files: dict = Field(sa_column=Column(JSON, nullable=False))  # name -> sha256
    panel: dict | None = Field(default=None, sa_column=Column(JSON))
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(default_factory=utcnow)


class DataPackageFile(SQLModel, table=True):
    """One uploaded file of a data package, kept so its board can be drawn again later."""

    __tablename__ = "data_package_file"
    __table_args__ = (UniqueConstraint("package_id", "role"),)
    id: int | None = Field(default=None, primary_key=True)
    package_id: int = Field(foreign_key="data_package.id", index=True)
    role: str = Field(max_length=16)  # gerber, bom, centroid
    name: str = Field(max_length=255)  # the uploaded file's name (tells CSV from XLSX, the side)
    sha256: str = Field(max_length=64)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Stencil(SQLModel, table=True):
    """A stencil ("printed steel plate") for one side of a product revision, with its counters."""

    id: str = Field(primary_key=True, max_length=32)
    product_id: int = Field(foreign_key="product.id", index=True)
    side: str = Field(max_length=6)
    thickness_um: int | None = None
    life_prints: int
    clean_interval_prints: int
    prints: int = 0
    prints_at_clean: int = 0
    damaged: bool = False
    retired_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class StencilCheck(SQLModel, table=True):
    """A tension measurement, a cleaning, a damage inspection or a retirement of a stencil."""

    __tablename__ = "stencil_check"
    id: int | None = Field(default=None, primary_key=True)
    stencil_id: str = Field(foreign_key="stencil.id", index=True)
    kind: str = Field(max_length=12)  # tension | cleaning | inspection | retirement
    readings: list | None = Field(default=None, sa_column=Column(JSON))
    passed: bool = True
    note: str = Field(default="", max_length=500)
    prints: int = 0
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(default_factory=utcnow)


class PcbLot(SQLModel, table=True):
    """A lot of blank PCBs of a product revision, with its floor life once opened."""

    __tablename__ = "pcb_lot"
    lot: str = Field(primary_key=True, max_length=64)
    product_id: int = Field(foreign_key="product.id", index=True)
    quantity: int
    opened_at: datetime | None = None
    floor_life_hours: float | None = None
    baked_at: datetime | None = None  # the latest bake restarts the floor life
    created_at: datetime = Field(default_factory=utcnow)


class PcbAllocation(SQLModel, table=True):
    """Boards of a PCB lot set aside for an order."""

    __tablename__ = "pcb_allocation"
    id: int | None = Field(default=None, primary_key=True)
    lot: str = Field(foreign_key="pcb_lot.lot", index=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    quantity: int
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(default_factory=utcnow)


class TestAttempt(SQLModel, table=True):
    """One functional test of a board, kept whatever its outcome: every attempt counts."""

    __tablename__ = "test_attempt"
    __table_args__ = (Index("ix_test_attempt_station_id_at", "station_id", "at"),)
    __test__ = False  # not a pytest class
    id: int | None = Field(default=None, primary_key=True)
    board_id: int = Field(foreign_key="board.id", index=True)
    station_id: str = Field(foreign_key="station.id")
    outcome: str = Field(max_length=8)  # pass | fail | error
    program: str = Field(default="", max_length=64)
    program_version: str = Field(default="", max_length=32)
    fixture: str = Field(default="", max_length=64)
    started_at: datetime | None = None
    ended_at: datetime | None = None
    measurements: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    defect_code: str | None = Field(default=None, max_length=32)
    source: str = Field(default="api", max_length=16)  # api | openhtf | csv | manual
    file_sha256: str | None = Field(default=None, max_length=64)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    at: datetime = Field(default_factory=utcnow, index=True)


class Repair(SQLModel, table=True):
    """A repair of a failed board: what was wrong, where, what was done, by whom."""

    id: int | None = Field(default=None, primary_key=True)
    board_id: int = Field(foreign_key="board.id", index=True)
    attempt_id: int | None = Field(default=None, foreign_key="test_attempt.id")
    defect_code: str = Field(max_length=32)
    location: str = Field(default="", max_length=64)  # reference designator or place
    action: str = Field(max_length=200)
    user_id: int = Field(foreign_key="user.id")
    at: datetime = Field(default_factory=utcnow)


class Scrap(SQLModel, table=True):
    """A board scrapped by QA, with the reason."""

    board_id: int = Field(foreign_key="board.id", primary_key=True)
    reason: str = Field(max_length=500)
    user_id: int = Field(foreign_key="user.id")
    at: datetime = Field(default_factory=utcnow)


class Signoff(SQLModel, table=True):
    """QA's electronic signature over an order's results, bound to them by their hash."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    user_id: int = Field(foreign_key="user.id")
    printed_name: str = Field(max_length=128)
    meaning: str = Field(max_length=200)
    results_hash: str = Field(max_length=64)
    signed_at: datetime = Field(default_factory=utcnow)


class Quotation(SQLModel, table=True):
    """The price agreed for an order: unit price, quantity, one-off charges, currency."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    unit_price: Decimal = Field(sa_column=Column(Numeric(14, 4), nullable=False))
    quantity: int
    charges: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    currency: str = Field(max_length=3)
    total: Decimal = Field(sa_column=Column(Numeric(16, 2), nullable=False))
    user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    confirmed_by_id: int | None = Field(default=None, foreign_key="user.id")
    confirmed_at: datetime | None = None


class Invoice(SQLModel, table=True):
    """An invoice sent to the customer for an order."""

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(unique=True, max_length=32)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    amount: Decimal = Field(sa_column=Column(Numeric(16, 2), nullable=False))
    currency: str = Field(max_length=3)
    user_id: int = Field(foreign_key="user.id")
    issued_at: datetime = Field(default_factory=utcnow)


class Payment(SQLModel, table=True):
    """Money received for an order; a reversal is a new negative row pointing at the payment."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    amount: Decimal = Field(sa_column=Column(Numeric(16, 2), nullable=False))
    currency: str = Field(max_length=3)
    reference: str = Field(max_length=64)
    paid_on: date
    reverses_id: int | None = Field(default=None, foreign_key="payment.id", unique=True)
    user_id: int = Field(foreign_key="user.id")
    at: datetime = Field(default_factory=utcnow)


class Box(SQLModel, table=True):
    """A shipping box of an order, filled at the PACK station."""

    __table_args__ = (UniqueConstraint("order_id", "number"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    number: int
    capacity: int
    # Its SSCC (GS1 AI 00), given when the box opens; boxes packed before migration 0008 have none.
    sscc: str | None = Field(default=None, max_length=18, unique=True, index=True)
    closed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class SsccCounter(SQLModel, table=True):
    """The last SSCC serial reference given under one extension digit and company prefix."""

    __tablename__ = "sscc_counter"
    prefix: str = Field(primary_key=True, max_length=13)  # the extension digit, then the prefix
    last_reference: int = Field(sa_type=BigInteger)  # a 6-digit prefix leaves 10 digits


class BoxBoard(SQLModel, table=True):
    """A board packed into a box (a board is in one box only)."""

    __tablename__ = "box_board"
    board_id: int = Field(foreign_key="board.id", primary_key=True)
    box_id: int = Field(foreign_key="box.id", index=True)
    at: datetime = Field(default_factory=utcnow)


class Shipment(SQLModel, table=True):
    """An order released and shipped: who, when, how many boxes and boards (once per order)."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="work_order.id", unique=True)
    user_id: int = Field(foreign_key="user.id")
    boxes: int
    boards: int
    shipped_at: datetime = Field(default_factory=utcnow)


class RelayCursor(SQLModel, table=True):
    """How far an MQTT relay got: the last event id the broker acknowledged, per relay name."""

    __tablename__ = "relay_cursor"
    name: str = Field(primary_key=True, max_length=64)
    last_event_id: int = 0
    connects: int = 0  # sessions so far: the `session` of its retained status
    updated_at: datetime = Field(default_factory=utcnow)


class FeederSetup(SQLModel, table=True):
    """The feeder setup of one placement step of a product revision: which slot holds what."""

    __tablename__ = "feeder_setup"
    __table_args__ = (UniqueConstraint("product_id", "step"),)
    id: int | None = Field(default=None, primary_key=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    step: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow)
    user_id: int | None = Field(default=None, foreign_key="user.id")


class FeederSlot(SQLModel, table=True):
    """One slot of a feeder setup: the part it must hold, approved alternates, what it feeds."""

    __tablename__ = "feeder_slot"
    __table_args__ = (UniqueConstraint("setup_id", "slot"),)
    id: int | None = Field(default=None, primary_key=True)
    setup_id: int = Field(foreign_key="feeder_setup.id", index=True)
    slot: str = Field(max_length=32)
    part: str = Field(max_length=64)
    alternates: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    designators: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))


class Reel(SQLModel, table=True):
    """A reel (or tray, tube) of components: its part, what is left, its lot and floor life."""

    id: str = Field(primary_key=True, max_length=64)
    part: str = Field(max_length=64, index=True)
    quantity: int  # left on the reel
    initial_quantity: int
    lot: str | None = Field(default=None, max_length=64, index=True)
    date_code: str | None = Field(default=None, max_length=16)
    msl: str | None = Field(default=None, max_length=4)  # J-STD-020 level; None: not sensitive
    opened_at: datetime | None = None
    floor_used_s: float = 0.0  # floor life used before the current exposure
    exposed_since: datetime | None = None  # in room air since; None while in dry storage
    baked_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class FeederLoad(SQLModel, table=True):
    """A reel put on a slot of a placement station (or tried: a refused verdict), until unloaded."""

    __tablename__ = "feeder_load"
    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(foreign_key="station.id", index=True)
    order_id: int = Field(foreign_key="work_order.id", index=True)
    slot: str = Field(max_length=32)
    reel_id: str = Field(foreign_key="reel.id", index=True)
    verdict: str = Field(max_length=16)  # PASS, ALTERNATE, or the refusal's code
    loaded_at: datetime = Field(default_factory=utcnow)
    unloaded_at: datetime | None = None
    user_id: int | None = Field(default=None, foreign_key="user.id")


class BoardMaterial(SQLModel, table=True):
    """The reel that fed one slot's designators of a board at its placement scan."""

    __tablename__ = "board_material"
    id: int | None = Field(default=None, primary_key=True)
    board_id: int = Field(foreign_key="board.id", index=True)
    step: str = Field(max_length=16)
    slot: str = Field(max_length=32)
    part: str = Field(max_length=64, index=True)
    reel_id: str = Field(foreign_key="reel.id", index=True)
    lot: str | None = Field(default=None, max_length=64, index=True)
    date_code: str | None = Field(default=None, max_length=16)
    designators: list = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow)


class Enquiry(SQLModel, table=True):
    """A customer's request for a quotation: product revision, quantities, due date."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    product_id: int = Field(foreign_key="product.id", index=True)
    quantities: list = Field(sa_column=Column(JSON, nullable=False))  # [int]
    due: date | None = None
    received_at: datetime = Field(default_factory=utcnow, index=True)
    quoted_at: datetime | None = None  # when its quotation went out
    hours_to_quote: float | None = None  # received to sent, kept when the quotation goes out
    order_id: int | None = Field(default=None, foreign_key="work_order.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")


class QuotationDraft(SQLModel, table=True):
    """A quotation drafted from a data package, per quantity asked; edited, sent, confirmed."""

    __tablename__ = "quotation_draft"
    id: int | None = Field(default=None, primary_key=True)
    enquiry_id: int = Field(foreign_key="enquiry.id", index=True)
    rates_version: int
    currency: str = Field(max_length=3)
    package_id: int = Field(foreign_key="data_package.id")
    package_sha256: dict = Field(sa_column=Column(JSON, nullable=False))  # role -> sha256
    lines: list = Field(sa_column=Column(JSON, nullable=False))  # per quantity, money as text
    sent_at: datetime | None = None
    confirmed_quantity: int | None = None
    quotation_id: int | None = Field(default=None, foreign_key="quotation.id")  # the order's
    user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class Audit(SQLModel, table=True):
    """A customer's audit of the factory: who, when, scope, result, the report's hash."""

    id: int | None = Field(default=None, primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    date: date
    auditor: str = Field(max_length=128)
    company: str = Field(max_length=128)
    scope: str = Field(default="", max_length=500)
    result: str = Field(max_length=24)  # passed, passed_with_findings, failed
    report_name: str | None = Field(default=None, max_length=255)
    report_sha256: str | None = Field(default=None, max_length=64)
    report: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class AuditFinding(SQLModel, table=True):
    """One finding of an audit, open until closed."""

    __tablename__ = "audit_finding"
    id: int | None = Field(default=None, primary_key=True)
    audit_id: int = Field(foreign_key="audit.id", index=True)
    text: str = Field(max_length=1000)
    due: date | None = None
    closed_at: datetime | None = None
    closed_by_id: int | None = Field(default=None, foreign_key="user.id")
    note: str = Field(default="", max_length=500)
