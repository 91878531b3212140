"""People and access: roles, badge + PIN, passwords, lockout, API tokens, who may do what."""

import hashlib
import hmac
import secrets

from sqlmodel import Session, select
from werkzeug.security import check_password_hash, generate_password_hash

from station import events
from station.errors import BadCredentials, BadgeLocked, Conflict, Forbidden, InvalidInput, NotFound
from station.models import ApiToken, User

HASH_METHOD = "scrypt"  # werkzeug's default; tests may choose a cheaper one
ROLES = ("operator", "qa", "finance", "supervisor", "admin")
FLOOR = {"operator", "qa", "supervisor"}

# Who may do what: deny by default (API.md's table).
PERMISSIONS = {
    "read": set(ROLES),
    "master_data": {"admin"},
    "floor": FLOOR,
    "hold": {"qa"},
    "signoff": {"qa"},
    "scrap": {"qa"},
    "payment": {"finance"},
    "quote": {"admin", "finance"},
    "terms": {"finance"},
    "audit": {"admin", "qa"},
    "unlock_badge": {"supervisor"},
    "release_shipment": {"supervisor"},
    "ship": FLOOR,
}


# What each API endpoint that changes something asks of the role, checked when its token is
# read and before its body is (a role that may not do it hears so, not that its input is
# wrong). The rules check again; an endpoint not listed here needs "read" at the door.
API_ACTIONS = {
    "scans_api.create_scan": "floor",
    "orders_api.create_order": "master_data",
    "orders_api.add_boards": "master_data",
    "orders_api.hold_order": "hold",
    "orders_api.release_order": "hold",
    "masterdata_api.create_customer": "master_data",
    "masterdata_api.create_product": "master_data",
    "masterdata_api.create_station": "master_data",
    "profiles_api.create_profile_board": "master_data",
    "profiles_api.create_profile": "floor",
    "readiness_api.create_stencil": "master_data",
    "readiness_api.measure_tension": "floor",
    "readiness_api.clean_stencil": "floor",
    "readiness_api.inspect_stencil": "floor",
    "readiness_api.retire_stencil": "floor",
    "readiness_api.mount_stencil": "floor",
    "readiness_api.create_lot": "master_data",
    "readiness_api.open_lot": "floor",
    "readiness_api.bake_lot": "floor",
    "readiness_api.allocate_lot": "floor",
    "readiness_api.upload_data_package": "master_data",
    "readiness_api.override_panel": "master_data",
    "fct_api.create_test": "floor",
    "fct_api.import_openhtf": "floor",
    "fct_api.import_csv": "floor",
    "fct_api.repair_board": "floor",
    "fct_api.scrap_board": "scrap",
    "fct_api.sign_off": "signoff",
    "labels_api.create_print_job": "floor",
    "shipping_api.create_shipment": "ship",
    "shipping_api.record_payment": "payment",
    "shipping_api.reverse_payment": "payment",
    "shipping_api.issue_invoice": "payment",
    "shipping_api.write_quotation": "quote",
    "shipping_api.confirm_quotation": "quote",
    "shipping_api.set_terms": "terms",
    "enquiries_api.create_enquiry": "quote",
    "enquiries_api.draft_quotation": "quote",
    "enquiries_api.edit_line": "quote",
    "enquiries_api.send_quotation": "quote",
    "enquiries_api.confirm_quotation": "quote",
    "enquiries_api.record_audit": "audit",
    "enquiries_api.close_finding": "audit",
    "enquiries_api.set_audit_required": "quote",
    "line_api.set_station_state": "floor",
    "material_api.create_setup": "master_data",
    "material_api.register_reel": "floor",
    "material_api.bake_reel": "floor",
    "material_api.dry_store_reel": "floor",
    "material_api.load_feeder": "floor",
    "material_api.unload_feeder": "floor",
}


def may(user: User | None, action: str) -> bool:
    """True when the user's role may do the action."""
    return user is not None and user.role in PERMISSIONS.get(action, set())


def require(user: User, action: str) -> None:
    """Refuse with FORBIDDEN unless the user's role may do the action."""
    if not may(user, action):
        raise Forbidden(role=user.role if user else "none", action=action)


def _pin_digest(pin: str, pepper: str) -> str:
    # A PIN has few combinations: a server-side pepper keeps a stolen database from being
    # brute-forced offline without the station's secret.
    return hmac.new(pepper.encode(), pin.encode(), hashlib.sha256).hexdigest()


def create_user(session: Session, name: str, role: str, *, pepper: str, badge: str | None = None,
                pin: str | None = None, password: str | None = None, full_name: str = "",
                language: str | None = None, by: User | None = None) -> User:
    """Register a person with a role and a badge + PIN and/or a password."""
    if role not in ROLES:
        raise InvalidInput(detail=f"role must be one of {', '.join(ROLES)}")
    if not isinstance(name, str) or not all(v is None or isinstance(v, str)
                                            for v in (badge, pin, password)):
        raise InvalidInput(detail="name, badge, PIN and password must be text")
    if not name or len(name) > 64:
        raise InvalidInput(detail="a user needs a name of at most 64 characters")
    if bool(badge) != bool(pin):
        raise InvalidInput(detail="a badge needs a PIN and a PIN needs a badge")
    if pin and not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 12):
        raise InvalidInput(detail="a PIN is 4 to 12 digits")
    if not badge and not password:
        raise InvalidInput(detail="a user needs a badge and PIN, or a password")
    if session.exec(select(User).where(User.name == name)).first():
        raise Conflict(what="user", key=name)
    if badge and session.exec(select(User).where(User.badge == badge)).first():
        raise Conflict(what="badge", key=badge)
    user = User(name=name, full_name=full_name or name, role=role, badge=badge or None,
                language=language,
                pin_hash=_hash(_pin_digest(pin, pepper)) if pin else None,
                password_hash=_hash(password) if password else None)
    session.add(user)
    session.flush()
    events.record(session, "user.created", f"user:{name}", {"role": role, "badge": badge}, by)
    session.commit()
    return user


def check_badge(session: Session, badge: str, pin: str, *, pepper: str,
                lock_after: int = 5) -> User:
    """The user of a badge whose PIN is right; wrong PINs count towards locking the badge."""
    if not isinstance(badge, str) or not isinstance(pin, str | None):
        raise BadCredentials(limit=lock_after)
    user = session.exec(select(User).where(User.badge == badge)).first()
    if user is None or user.pin_hash is None:
        raise BadCredentials(limit=lock_after)
    if user.locked:
        raise BadgeLocked(badge=badge)
    if check_password_hash(user.pin_hash, _pin_digest(pin or "", pepper)):
        if user.failed_pins:
            user.failed_pins = 0
            session.add(user)
            session.commit()
        return user
    user.failed_pins += 1
    if user.failed_pins >= lock_after:
        user.locked = True
        events.record(session, "badge.locked", f"user:{user.name}",
                      {"failures": user.failed_pins}, user)
    session.add(user)
    session.commit()
    if user.locked:
        raise BadgeLocked(badge=badge)
    raise BadCredentials(limit=lock_after)


def check_password(session: Session, name: str, password: str) -> User:
    """The user whose name and password match."""
    if not isinstance(name, str) or not isinstance(password, str | None):
        raise BadCredentials(limit="-")
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None or not user.password_hash or not check_password_hash(user.password_hash,
                                                                        password or ""):
        raise BadCredentials(limit="-")
    return user


def unlock_badge(session: Session, name: str, by: User) -> User:
    """A supervisor unlocks a locked badge."""
    require(by, "unlock_badge")
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(what="user", key=name)
    user.locked, user.failed_pins = False, 0
    session.add(user)
    events.record(session, "badge.unlocked", f"user:{name}", {}, by)
    session.commit()
    return user


def create_token(session: Session, name: str) -> str:
    """A new API token for the user; only its hash is stored, so it is shown once."""
    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        raise NotFound(what="user", key=name)
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token)))
    events.record(session, "token.created", f"user:{name}", {}, user)
    session.commit()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The user a bearer token belongs to, or None."""
    return session.exec(select(User).join(ApiToken, ApiToken.user_id == User.id).where(
        ApiToken.token_hash == _token_hash(token), ApiToken.revoked_at.is_(None))).first()


def end_sessions(session: Session, user: User) -> None:
    """Sign the user out everywhere: older session cookies stop being accepted."""
    user.session_epoch += 1
    session.add(user)
    session.commit()


def _hash(secret: str) -> str:
    return generate_password_hash(secret, method=HASH_METHOD)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

