"""The admin commands: flask user create and flask token create, through the CLI runner."""

import pytest
from sqlmodel import Session, func, select

from station.models import ApiToken, User


def users(app) -> dict[str, User]:
    with Session(app.extensions["engine"]) as s:
        return {u.name: u for u in s.exec(select(User))}


def invoke(runner, *args):
    return runner.invoke(args=list(args))


def assert_clean_failure(result, *words):
    """The command failed with a one-line error for a person, not a traceback."""
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output


def test_user_create_with_badge_and_pin(app, runner):
    result = invoke(runner, "user", "create", "ann", "--role", "operator", "--badge", "B-77",
                    "--pin", "1234", "--full-name", "Ann Lee")
    assert result.exit_code == 0, result.output
    assert "created operator ann" in result.output
    ann = users(app)["ann"]
    assert (ann.role, ann.badge, ann.full_name) == ("operator", "B-77", "Ann Lee")
    client = app.test_client()
    assert client.post("/login", data={"badge": "B-77", "pin": "4321"}).status_code == 401
    r = client.post("/login", data={"badge": "B-77", "pin": "1234"})
    assert r.status_code == 302
    assert client.get("/station/L1-PRINT-1").status_code == 200


def test_user_create_with_password(app, runner):
    result = invoke(runner, "user", "create", "fin", "--role", "finance", "--password", "s3cret!")
    assert result.exit_code == 0, result.output
    client = app.test_client()
    assert client.post("/login", data={"name": "fin", "password": "nope"}).status_code == 401
    assert client.post("/login", data={"name": "fin", "password": "s3cret!"}).status_code == 302
    assert "fin" in client.get("/orders").get_data(as_text=True)


def test_user_create_with_a_language(app, runner):
    result = invoke(runner, "user", "create", "li", "--role", "qa", "--badge", "B-88", "--pin",
                    "5678", "--language", "zh_CN")
    assert result.exit_code == 0, result.output
    assert users(app)["li"].language == "zh_CN"


def test_token_create_prints_a_working_token_on_its_last_line(app, runner):
    assert invoke(runner, "user", "create", "root", "--role", "admin",
                  "--password", "pw").exit_code == 0
    result = invoke(runner, "token", "create", "root")
    assert result.exit_code == 0, result.output
    token = result.output.splitlines()[-1]
    assert token and token == token.strip() and " " not in token
    client = app.test_client()
    r = client.post("/api/v1/customers", json={"code": "CLI", "name": "By CLI"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201
    assert client.get("/api/v1/customers/CLI",
                      headers={"Authorization": f"Bearer {token}x"}).status_code == 401
    second = invoke(runner, "token", "create", "root").output.splitlines()[-1]
    assert second != token
    for t in (token, second):
        assert client.get("/api/v1/customers/CLI",
                          headers={"Authorization": f"Bearer {t}"}).status_code == 200
    with Session(app.extensions["engine"]) as s:
        hashes = s.exec(select(ApiToken.token_hash)).all()
    assert token not in hashes and second not in hashes  # only the hash is kept


def test_a_token_acts_with_its_users_role(app, runner):
    invoke(runner, "user", "create", "op", "--role", "operator", "--badge", "B-1", "--pin", "1234")
    token = invoke(runner, "token", "create", "op").output.splitlines()[-1]
    r = app.test_client().post("/api/v1/customers", json={"code": "NO", "name": "No"},
                               headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize("role", ["wizard", "Admin", ""])
def test_a_bad_role_is_rejected(app, runner, role):
    result = invoke(runner, "user", "create", "bob", "--role", role, "--password", "pw")
    assert_clean_failure(result, "--role")
    assert result.exit_code == 2
    assert "bob" not in users(app)


def test_a_duplicate_user_is_a_clean_error(app, runner):
    assert invoke(runner, "user", "create", "ann", "--role", "operator", "--badge", "B-1",
                  "--pin", "1234").exit_code == 0
    result = invoke(runner, "user", "create", "ann", "--role", "qa", "--password", "pw")
    assert_clean_failure(result, "ann", "exists")
    assert result.exit_code == 1
    result = invoke(runner, "user", "create", "ben", "--role", "qa", "--badge", "B-1",
                    "--pin", "1234")
    assert_clean_failure(result, "B-1", "exists")
    assert users(app)["ann"].role == "operator" and "ben" not in users(app)


@pytest.mark.parametrize("args,words", [
    (["--badge", "B-9"], ["PIN"]),
    (["--pin", "1234"], ["badge"]),
    (["--badge", "B-9", "--pin", "12ab"], ["PIN"]),
    (["--badge", "B-9", "--pin", "12"], ["PIN"]),
    ([], ["password"]),
])
def test_incomplete_credentials_are_clean_errors(app, runner, args, words):
    result = invoke(runner, "user", "create", "cat", "--role", "operator", *args)
    assert_clean_failure(result, *words)
    with Session(app.extensions["engine"]) as s:
        assert s.exec(select(func.count()).select_from(User)).one() == 0


def test_a_token_for_nobody_is_a_clean_error(app, runner):
    result = invoke(runner, "token", "create", "nobody")
    assert_clean_failure(result, "nobody")
    with Session(app.extensions["engine"]) as s:
        assert s.exec(select(func.count()).select_from(ApiToken)).one() == 0
