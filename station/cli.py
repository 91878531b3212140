"""Admin commands: flask --app station user create / token create / demo seed."""

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlmodel import Session

from station import people
from station.errors import StationError


def _session() -> Session:
    return Session(current_app.extensions["engine"], expire_on_commit=False)


# AppGroup and with_appcontext push the app context themselves: `flask` does it anyway, but
# app.test_cli_runner() (and any other caller of app.cli) does not.
@click.group("user", cls=AppGroup)
def user_cli():
    """Manage users."""


@user_cli.command("create")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(people.ROLES))
@click.option("--badge")
@click.option("--pin")
@click.option("--password")
@click.option("--full-name", default="")
@click.option("--language", type=click.Choice(["en", "zh_CN"]))
def create_user(name, role, badge, pin, password, full_name, language):
    """Create a user with a role and a badge + PIN and/or a password."""
    with _session() as session:
        try:
            people.create_user(session, name, role, pepper=current_app.config["PIN_PEPPER"],
                               badge=badge, pin=pin, password=password, full_name=full_name,
                               language=language)
        except StationError as err:
            raise click.ClickException(str(err)) from None
    click.echo(f"created {role} {name}")


@click.group("token", cls=AppGroup)
def token_cli():
    """Manage API tokens."""


@token_cli.command("create")
@click.argument("name")
def create_token(name):
    """Print a new API token for the user, alone on its last line."""
    with _session() as session:
        try:
            token = people.create_token(session, name)
        except StationError as err:
            raise click.ClickException(str(err)) from None
    click.echo(f"API token for {name} (shown once; keep it secret):")
    click.echo(token)


@click.command("demo")
@with_appcontext
def seed_demo():
    """Seed the demo line: a customer, a product and its route, an order with 20 boards, users."""
    from station.demo import seed

    with _session() as session:
        click.echo(seed(session, current_app.config["PIN_PEPPER"]))


def init_app(app) -> None:
    """Register the commands."""
    app.cli.add_command(user_cli)
    app.cli.add_command(token_cli)
    app.cli.add_command(seed_demo)
