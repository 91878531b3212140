"""People and access: station.people over a real SQLite file."""

import pytest
from conftest import PEPPER
from sqlmodel import Session, select

from station import events, people
from station.errors import (
    BadCredentials,
    BadgeLocked,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
)
from station.models import ApiToken, User

PIN = "98765432"  # long enough that a hash's hex digits cannot hold it by chance


def add(session, name, role="operator", badge=None, pin=None, password=None, **kw) -> User:
    return people.create_user(session, name, role, pepper=PEPPER, badge=badge, pin=pin,
                              password=password, **kw)


@pytest.fixture
def operator(session):
    return add(session, "wang", badge="B-100", pin=PIN, full_name="Wang Wei")


@pytest.fixture
def supervisor(session):
    return add(session, "li", "supervisor", badge="B-200", pin="4321")


def reload(app, name) -> User:
    """The user as another connection reads it from the file."""
    with Session(app.extensions["engine"]) as s:
        return s.exec(select(User).where(User.name == name)).one()


# --- create_user --------------------------------------------------------------------------


def test_create_user_stores_a_floor_user_with_a_badge(app, session, operator):
    stored = reload(app, "wang")
    assert (stored.role, stored.badge, stored.full_name) == ("operator", "B-100", "Wang Wei")
    assert (stored.failed_pins, stored.locked, stored.session_epoch) == (0, False, 0)
    assert stored.password_hash is None
    assert [e.kind for e in events.history(session, "user:wang")] == ["user.created"]


def test_create_user_stores_an_office_user_with_a_password(app, session):
    add(session, "zhao", "finance", password="s3cret-pw", full_name="Zhao Min")
    stored = reload(app, "zhao")
    assert stored.badge is None and stored.pin_hash is None
    assert stored.password_hash and "s3cret-pw" not in stored.password_hash


def test_create_user_records_who_registered_the_person(session):
    admin = add(session, "root", "admin", password="admin-pw")
    add(session, "wang", badge="B-1", pin="1234", by=admin)
    ev = events.history(session, "user:wang")[-1]
    assert ev.user_id == admin.id and ev.actor == "root"
    assert ev.payload == {"role": "operator", "badge": "B-1"}


BAD_INPUT = [
    ({"role": "boss", "password": "pw"}, "role must be one of"),
    ({"name": "", "password": "pw"}, "name"),
    ({"name": "x" * 65, "password": "pw"}, "at most 64"),
    ({"badge": "B-1"}, "a badge needs a PIN"),
    ({"pin": "1234"}, "a PIN needs a badge"),
    ({"badge": "B-1", "pin": "123"}, "4 to 12 digits"),
    ({"badge": "B-1", "pin": "1234567890123"}, "4 to 12 digits"),
    ({"badge": "B-1", "pin": "12a4"}, "4 to 12 digits"),
    ({"badge": "B-1", "pin": "12 34"}, "4 to 12 digits"),
    ({"badge": "B-1", "pin": "\u0661\u0662\u0663\u0664"}, "4 to 12 digits"),  # Arabic-Indic
    ({"badge": "B-1", "pin": "\uff11\uff12\uff13\uff14"}, "4 to 12 digits"),  # full-width
    ({"badge": "B-1", "pin": "\u00b2\u00b3\u00b9\u00b2"}, "4 to 12 digits"),  # superscripts
    ({}, "a badge and PIN, or a password"),
    ({"password": ""}, "a badge and PIN, or a password"),
    # values that are not text (JSON numbers, lists, nulls)
    ({"name": 42, "password": "pw"}, "must be text"),
    ({"name": None, "password": "pw"}, "must be text"),
    ({"badge": "B-1", "pin": 1234}, "must be text"),
    ({"badge": 1001, "pin": "1234"}, "must be text"),
    ({"password": 12345678}, "must be text"),
    ({"password": ["pw"]}, "must be text"),
]


def test_create_user_refuses_bad_input(app, session):
    for kwargs, message in BAD_INPUT:
        args = {"name": "wang", "role": "operator", **kwargs}
        with pytest.raises(InvalidInput, match=message):
            add(session, **args)
        session.rollback()
    with Session(app.extensions["engine"]) as s:
        assert s.exec(select(User)).all() == []


def test_names_and_badges_are_unique(session, operator):
    with pytest.raises(Conflict, match="wang"):
        add(session, "wang", password="pw")
    session.rollback()
    with pytest.raises(Conflict, match="B-100"):
        add(session, "wang2", badge="B-100", pin="1111")
    session.rollback()
    assert [u.name for u in session.exec(select(User))] == ["wang"]


def test_the_pin_is_not_stored_in_clear_and_needs_the_pepper(app, session, operator):
    stored = reload(app, "wang")
    assert stored.pin_hash and PIN not in stored.pin_hash
    assert stored.pin_hash.split(":")[0] in ("scrypt", "pbkdf2")
    other = add(session, "chen", badge="B-101", pin=PIN)
    assert other.pin_hash != stored.pin_hash  # salted: equal PINs hash differently
    with pytest.raises(BadCredentials):
        people.check_badge(session, "B-100", PIN, pepper="another station's pepper")
    assert people.check_badge(session, "B-100", PIN, pepper=PEPPER).name == "wang"


# --- badge + PIN --------------------------------------------------------------------------


def test_the_right_pin_signs_in(session, operator):
    assert people.check_badge(session, "B-100", PIN, pepper=PEPPER).id == operator.id


def test_a_wrong_badge_or_pin_is_bad_credentials(app, session, operator):
    for badge, pin in (("B-100", "00000000"), ("B-100", ""), ("B-100", None), ("B-999", PIN),
                       ("", PIN), ("B-100", PIN + "0"), ("B-100", PIN[:-1]),
                       ("b-100", PIN), (" B-100", PIN)):
        with pytest.raises(BadCredentials) as err:
            people.check_badge(session, badge, pin, pepper=PEPPER, lock_after=100)
        assert err.value.code == "BAD_CREDENTIALS"
    session.rollback()  # a refused look-up leaves its (write-locking) transaction open
    assert reload(app, "wang").failed_pins == 5  # the unknown badges counted nowhere


def test_a_badge_or_pin_that_is_not_text_is_bad_credentials(session, operator):
    for badge, pin in (("B-100", 98765432), ("B-100", ["x"]), (None, PIN), (100, PIN)):
        with pytest.raises(BadCredentials):
            people.check_badge(session, badge, pin, pepper=PEPPER)


def test_a_user_without_a_badge_cannot_use_one(session):
    add(session, "zhao", "finance", password="pw")
    for badge in (None, ""):
        with pytest.raises(BadCredentials):
            people.check_badge(session, badge, "", pepper=PEPPER)


def test_wrong_pins_are_counted_and_a_right_one_resets_the_count(app, session, operator):
    for n in range(1, 5):
        with pytest.raises(BadCredentials):
            people.check_badge(session, "B-100", "11111111", pepper=PEPPER)
        assert reload(app, "wang").failed_pins == n
    people.check_badge(session, "B-100", PIN, pepper=PEPPER)
    assert reload(app, "wang").failed_pins == 0
    for _ in range(4):
        with pytest.raises(BadCredentials):
            people.check_badge(session, "B-100", "11111111", pepper=PEPPER)
    assert not reload(app, "wang").locked


def test_five_wrong_pins_lock_the_badge_until_a_supervisor_unlocks_it(
        app, session, operator, supervisor):
    for _ in range(4):
        with pytest.raises(BadCredentials):
            people.check_badge(session, "B-100", "11111111", pepper=PEPPER)
    with pytest.raises(BadgeLocked) as err:
        people.check_badge(session, "B-100", "11111111", pepper=PEPPER)
    assert err.value.code == "BADGE_LOCKED" and "B-100" in str(err.value)
    stored = reload(app, "wang")
    assert stored.locked and stored.failed_pins == 5
    assert "badge.locked" in [e.kind for e in events.history(session, "user:wang")]

    with pytest.raises(BadgeLocked):  # even the right PIN
        people.check_badge(session, "B-100", PIN, pepper=PEPPER)

    for role, name in (("operator", "zhang"), ("qa", "sun"), ("finance", "qian")):
        someone = add(session, name, role, password="pw")
        with pytest.raises(Forbidden):
            people.unlock_badge(session, "wang", someone)
        session.rollback()
    with pytest.raises(Forbidden):  # nor may the locked operator unlock themself
        people.unlock_badge(session, "wang", operator)
    session.rollback()
    assert reload(app, "wang").locked
    with pytest.raises(BadgeLocked):
        people.check_badge(session, "B-100", PIN, pepper=PEPPER)

    unlocked = people.unlock_badge(session, "wang", supervisor)
    assert not unlocked.locked and unlocked.failed_pins == 0
    assert people.check_badge(session, "B-100", PIN, pepper=PEPPER).name == "wang"
    ev = events.history(session, "user:wang")[-1]
    assert ev.kind == "badge.unlocked" and ev.user_id == supervisor.id


def test_the_lock_threshold_is_configurable(session, operator):
    for _ in range(2):
        with pytest.raises(BadCredentials):
            people.check_badge(session, "B-100", "0000", pepper=PEPPER, lock_after=3)
    with pytest.raises(BadgeLocked):
        people.check_badge(session, "B-100", "0000", pepper=PEPPER, lock_after=3)


def test_unlocking_an_unknown_user_is_not_found(session, supervisor):
    with pytest.raises(NotFound):
        people.unlock_badge(session, "nobody", supervisor)


# --- passwords ----------------------------------------------------------------------------


def test_check_password(session, operator):
    zhao = add(session, "zhao", "finance", password="s3cret-pw")
    assert people.check_password(session, "zhao", "s3cret-pw").id == zhao.id
    for name, password in (("zhao", "S3cret-pw"), ("zhao", ""), ("zhao", None),
                           ("nobody", "s3cret-pw"), ("wang", ""), ("wang", PIN),
                           ("zhao", 12345), ("zhao", ["s3cret-pw"]), (None, "s3cret-pw")):
        with pytest.raises(BadCredentials):
            people.check_password(session, name, password)


# --- tokens and sessions ------------------------------------------------------------------


def test_a_token_belongs_to_its_user_and_only_its_hash_is_kept(session, operator):
    token = people.create_token(session, "wang")
    assert isinstance(token, str) and len(token) >= 32
    assert people.user_for_token(session, token).id == operator.id
    row = session.exec(select(ApiToken)).one()
    assert row.user_id == operator.id and token not in row.token_hash
    assert "token.created" in [e.kind for e in events.history(session, "user:wang")]

    second = people.create_token(session, "wang")
    assert second != token
    assert people.user_for_token(session, second).id == operator.id
    assert people.user_for_token(session, token).id == operator.id


def test_an_unknown_or_revoked_token_is_nobody(session, operator):
    token = people.create_token(session, "wang")
    for wrong in ("", "nope", token[:-1], token + "x", token.upper()):
        assert people.user_for_token(session, wrong) is None
    row = session.exec(select(ApiToken)).one()
    row.revoked_at = row.created_at
    session.add(row)
    session.commit()
    assert people.user_for_token(session, token) is None


def test_a_token_for_an_unknown_user_is_not_found(session):
    with pytest.raises(NotFound):
        people.create_token(session, "nobody")


def test_end_sessions_moves_the_epoch_on(app, session, operator):
    people.end_sessions(session, operator)
    assert reload(app, "wang").session_epoch == 1
    people.end_sessions(session, operator)
    assert reload(app, "wang").session_epoch == 2


# --- who may do what ----------------------------------------------------------------------

MAY = {  # API.md: deny by default; admin does not sign off, hold, pay or ship
    "admin": {"read", "master_data"},
    "operator": {"read", "floor", "ship"},
    "qa": {"read", "floor", "ship", "hold", "signoff", "scrap"},
    "finance": {"read", "payment", "terms"},
    "supervisor": {"read", "floor", "ship", "unlock_badge", "release_shipment"},
}
ACTIONS = sorted({"read", "master_data", "floor", "hold", "signoff", "scrap", "payment", "terms",
                  "unlock_badge", "release_shipment", "ship", "delete_everything"})


@pytest.mark.parametrize("role", people.ROLES)
def test_the_permission_table(role):
    user = User(name=role, role=role)
    assert {a for a in ACTIONS if people.may(user, a)} == MAY[role]
    for action in ACTIONS:
        if action in MAY[role]:
            people.require(user, action)
        else:
            with pytest.raises(Forbidden) as err:
                people.require(user, action)
            assert err.value.code == "FORBIDDEN" and role in str(err.value)


def test_the_roles_are_the_five_of_the_api():
    assert set(people.ROLES) == set(MAY)


@pytest.mark.parametrize(("role", "action"), [
    ("admin", "floor"), ("admin", "hold"), ("admin", "payment"), ("admin", "ship"),
    ("admin", "signoff"), ("finance", "floor"), ("finance", "ship"), ("finance", "hold"),
    ("operator", "hold"), ("operator", "payment"), ("operator", "master_data"),
    ("qa", "payment"), ("qa", "release_shipment"), ("supervisor", "hold"),
    ("supervisor", "signoff"), ("supervisor", "payment"), ("guest", "read"),
])
def test_who_may_not(role, action):
    assert not people.may(User(name="x", role=role), action)


def test_nobody_may_do_anything():
    assert not any(people.may(None, a) for a in ACTIONS)
    with pytest.raises(Forbidden, match="none"):
        people.require(None, "read")
