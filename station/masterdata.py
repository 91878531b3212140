"""Master data: customers, products and their routes, lines, stations, orders and board serials."""

import re
from decimal import Decimal, InvalidOperation

from sqlmodel import Session, func, select

from station import events, people
from station.errors import Conflict, InvalidInput, NotFound
from station.models import Board, Customer, Line, Product, Station, User, WorkOrder

CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,31}$")
STEP = re.compile(r"^[A-Z][A-Z0-9_]{0,15}$")
TERMS = ("prepaid", "monthly")
MAX_BOARDS_PER_REQUEST = 10_000


def valid_code(value, what: str) -> str:
    """A code as master data allows it: letters, digits and . _ / -, at most 32."""
    if not isinstance(value, str) or not CODE.match(value):
        raise InvalidInput(detail=f"{what} must be 1 to 32 letters, digits, '.', '_', '/' or '-'")
    return value


def _text(value, what: str, limit: int = 128) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInput(detail=f"{what} must be a text of 1 to {limit} characters")
    return value.strip()


def money(value, what: str = "amount") -> Decimal:
    """An exact amount from a decimal string or a JSON number; never a float's rounding."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float, Decimal)):
        raise InvalidInput(detail=f"{what} must be a decimal such as \"7.50\"")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(detail=f"{what} must be a decimal such as \"7.50\"") from None
    if not amount.is_finite() or amount.as_tuple().exponent < -4 or abs(amount) >= 10**10:
        raise InvalidInput(detail=f"{what} must be a decimal with at most 4 places")
    return amount


def create_customer(session: Session, by: User, code, name, terms="prepaid") -> Customer:
    """Register a customer; monthly terms wait for a finance user's approval."""
    people.require(by, "master_data")
    code, name = valid_code(code, "code"), _text(name, "name")
    if terms not in TERMS:
        raise InvalidInput(detail="terms must be 'prepaid' or 'monthly'")
    if session.exec(select(Customer).where(Customer.code == code)).first():
        raise Conflict(what="customer", key=code)
    customer = Customer(code=code, name=name, terms="prepaid", requested_terms=terms)
    session.add(customer)
    events.record(session, "customer.created", f"customer:{code}",
                  {"name": name, "requested_terms": terms}, by)
    session.commit()
    return customer


def create_product(session: Session, by: User, code, revision, route) -> Product:
    """Register a product revision with its route of station types (FCT is required)."""
    people.require(by, "master_data")
    code, revision = valid_code(code, "code"), valid_code(revision, "revision")
    if not isinstance(route, list) or not route or len(route) > 30:
        raise InvalidInput(detail="route must be a list of 1 to 30 station types")
    if not all(isinstance(s, str) and STEP.match(s) for s in route):
        raise InvalidInput(detail="each route step is a station type in capitals, such as AOI")
    if "FCT" not in route:
        raise InvalidInput(detail="a route must contain FCT: every board is tested")
    if len(set(route)) != len(route):
        raise InvalidInput(detail="a route names each station type once")
    if find_product(session, code, revision, missing_ok=True):
        raise Conflict(what="product", key=f"{code} rev {revision}")
    product = Product(code=code, revision=revision, route=list(route))
    session.add(product)
    events.record(session, "product.created", f"product:{code}/{revision}", {"route": route}, by)
    session.commit()
    return product


def find_product(session: Session, code, revision, missing_ok=False) -> Product | None:
    """The product revision, or NOT_FOUND."""
    product = session.exec(select(Product).where(Product.code == code,
                                                 Product.revision == revision)).first()
    if product is None and not missing_ok:
        raise NotFound(what="product", key=f"{code} rev {revision}")
    return product


def create_station(session: Session, by: User | None, id, type, line) -> Station:
    """Register a station of a type (a route step) on a line."""
    if by is not None:
        people.require(by, "master_data")
    id, line = valid_code(id, "id"), valid_code(line, "line")
    if not isinstance(type, str) or not STEP.match(type):
        raise InvalidInput(detail="type is a station type in capitals, such as AOI")
    if session.get(Station, id):
        raise Conflict(what="station", key=id)
    if session.get(Line, line) is None:
        session.add(Line(id=line, name=line))
    station = Station(id=id, type=type, line=line)
    session.add(station)
    events.record(session, "station.created", f"station:{id}", {"type": type, "line": line}, by,
                  station_id=id)
    session.commit()
    return station


def sync_config(session: Session, settings) -> None:
    """Create the lines and stations that config/station.toml (station.config.Settings) names
    and the database lacks."""
    for spec in settings.lines:
        line = session.get(Line, spec.id) or Line(id=spec.id)
        line.name = spec.name or line.name or spec.id
        if spec.hourly_target is not None:
            line.hourly_target = spec.hourly_target
        session.add(line)
    session.commit()
    for spec in settings.stations:
        if session.get(Station, spec.id) is None:
            create_station(session, None, spec.id, spec.type, spec.line)


def create_order(session: Session, by: User, number, customer, product, revision, quantity,
                 unit_price, paste="SAC305", currency="USD") -> WorkOrder:
    """Open a work order for a quantity of a product revision at an agreed unit price."""
    people.require(by, "master_data")
    number = valid_code(number, "number")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not 0 < quantity <= 10**6:
        raise InvalidInput(detail="quantity must be a whole number from 1 to 1000000")
    price = money(unit_price, "unit_price")
    if price < 0:
        raise InvalidInput(detail="unit_price cannot be negative")
    paste = valid_code(paste or "SAC305", "paste")
    cust = session.exec(select(Customer).where(Customer.code == customer)).first()
    if cust is None:
        raise NotFound(what="customer", key=customer)
    prod = find_product(session, product, revision)
    if session.exec(select(WorkOrder).where(WorkOrder.number == number)).first():
        raise Conflict(what="order", key=number)
    order = WorkOrder(number=number, customer_id=cust.id, product_id=prod.id, quantity=quantity,
                      unit_price=price, paste=paste, currency=currency)
    session.add(order)
    events.record(session, "order.created", f"order:{number}",
                  {"customer": cust.code, "product": prod.code, "revision": prod.revision,
                   "quantity": quantity, "unit_price": str(price), "paste": paste}, by)
    session.commit()
    return order


def find_order(session: Session, number, lock: bool = False) -> WorkOrder:
    """The work order (locked for the transaction when asked), or NOT_FOUND."""
    query = select(WorkOrder).where(WorkOrder.number == number)
    order = session.exec(query.with_for_update() if lock else query).first()
    if order is None:
        raise NotFound(what="order", key=number)
    return order


def add_boards(session: Session, by: User, number, count=None, serials=None,
               panel_size: int | None = None) -> list[str]:
    """Generate `count` serials for an order, or register the customer's own `serials`."""
    people.require(by, "master_data")
    order = find_order(session, number)
    if (count is None) == (serials is None):
        raise InvalidInput(detail="send either count or serials")
    existing = session.exec(select(func.count()).select_from(Board)
                            .where(Board.order_id == order.id)).one()
    if serials is None:
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise InvalidInput(detail="count must be a whole number of at least 1")
        serials = [f"{order.number}-{existing + i:05d}" for i in range(1, count + 1)]
    if not isinstance(serials, list) or not serials:
        raise InvalidInput(detail="serials must be a non-empty list")
    if len(serials) > MAX_BOARDS_PER_REQUEST:
        raise InvalidInput(detail=f"at most {MAX_BOARDS_PER_REQUEST} boards per request")
    for s in serials:
        _serial(s)
    if len(set(serials)) != len(serials):
        raise InvalidInput(detail="serials repeat within the request")
    taken = session.exec(select(Board.serial).where(Board.serial.in_(serials))).first()
    if taken:
        raise Conflict(what="board", key=taken)
    for i, serial in enumerate(serials):
        panel = None
        if panel_size:
            panel = f"{order.number}-P{(existing + i) // panel_size + 1:04d}"
        session.add(Board(serial=serial, order_id=order.id, panel_id=panel,
                          panel_position=(existing + i) % panel_size + 1 if panel_size else None))
    events.record(session, "boards.registered", f"order:{order.number}",
                  {"count": len(serials), "first": serials[0], "last": serials[-1]}, by)
    session.commit()
    return serials


def _serial(value) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._/-]{2,63}$", value):
        raise InvalidInput(detail="a serial is 3 to 64 letters, digits, '.', '_', '/' or '-'")
    return value


def find_customer(session: Session, code) -> Customer:
    """The customer, or NOT_FOUND."""
    customer = session.exec(select(Customer).where(Customer.code == code)).first()
    if customer is None:
        raise NotFound(what="customer", key=code)
    return customer
