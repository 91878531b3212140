"""Errors named for the floor; each has a code, an HTTP status, a message and what to do.

Texts for people are message ids with parameters, said in the reader's language at the edge
(routes, templates, JSON); the rules here stay free of Flask.
"""


def N_(text: str) -> str:
    """Mark a text for translation; it is translated where it is shown."""
    return text


class Text(str):
    """A sentence for a person: the English text as a str, keeping its message id and
    parameters so the edge can say it in the reader's language."""

    def __new__(cls, msgid: str, **params):
        text = super().__new__(cls, _fill(msgid, params))
        text.msgid, text.params = msgid, params
        return text

    def __reduce__(self):
        return _text, (self.msgid, self.params)

    def say(self, translate=lambda s: s) -> str:
        """The text translated by `translate`, its parameters too."""
        return _fill(translate(self.msgid), self.params, translate)


def _text(msgid: str, params: dict) -> Text:
    return Text(msgid, **params)


# Translators: joins two sentences of a list (Chinese sentences need no space between them).
SENTENCES = N_("{sentence} {next}")


def say(value, translate=lambda s: s):
    """A parameter as the reader sees it: a Text translated, a list of them joined, others as
    they are (numbers keep their format specs)."""
    if isinstance(value, Text):
        return value.say(translate)
    if isinstance(value, list | tuple):
        said = [str(say(v, translate)) for v in value]
        joined = said[0] if said else ""
        for sentence in said[1:]:
            joined = _fill(translate(SENTENCES), {"sentence": joined, "next": sentence})
        return joined
    return value


class StationError(Exception):
    """A rule of the floor said no. Subclasses set code, status, message and todo."""

    code = "STATION_ERROR"
    status = 409
    message = N_("The station refused this.")
    todo = ""
    severity = "error"

    def __init__(self, message: str | None = None, **params):
        if message is not None:
            self.message = message
        self.params = params
        super().__init__(self.text())

    def text(self, translate=lambda s: s) -> str:
        """The message, translated by `translate` and filled in with the parameters."""
        return _fill(translate(self.message), self.params, translate)

    def advice(self, translate=lambda s: s) -> str:
        """What the person should do next, translated and filled in."""
        return _fill(translate(self.todo), self.params, translate) if self.todo else ""

    def reasons(self) -> list:
        """The sentences a screen lists one per line under its headline (none by default)."""
        return []

    def headline(self, translate=lambda s: s) -> str:
        """The message a screen shows above its reasons."""
        return self.text(translate)

    def body(self, translate=lambda s: s) -> dict:
        """The JSON error body of the API."""
        err = {"code": self.code, "message": self.text(translate)}
        if self.todo:
            err["todo"] = self.advice(translate)
        err.update(self.extra())
        return {"error": err}

    def extra(self) -> dict:
        """More fields for the JSON error body."""
        return {}


def _fill(template: str, params: dict, translate=lambda s: s) -> str:
    try:
        return template.format(**{k: say(v, translate) for k, v in params.items()})
    except (KeyError, IndexError, ValueError):
        return template


class InvalidInput(StationError):
    code, status = "INVALID_INPUT", 400
    message = N_("{detail}")


class InvalidCode(StationError):
    code, status = "INVALID_CODE", 400
    message = N_("This is not a code the station accepts: {reason}.")
    todo = N_("Scan the board's label again; if it keeps failing, call the line leader.")


class Unauthenticated(StationError):
    code, status = "UNAUTHENTICATED", 401
    message = N_("Sign in first.")


class BadCredentials(StationError):
    code, status = "BAD_CREDENTIALS", 401
    message = N_("Badge or PIN is wrong.")
    todo = N_("Try again; after {limit} failures the badge locks.")


class BadgeLocked(StationError):
    code, status = "BADGE_LOCKED", 401
    message = N_("Badge {badge} is locked after too many wrong PINs.")
    todo = N_("Ask a supervisor to unlock it.")


class DatabaseBusy(StationError):
    code, status = "DATABASE_BUSY", 503
    message = N_("The database is busy: nothing was stored.")
    todo = N_("Try again in a moment; if it stays busy, call the line leader.")


class Forbidden(StationError):
    code, status = "FORBIDDEN", 403
    message = N_("Your role ({role}) may not do this.")
    todo = N_("Ask someone with the right role.")


class NotFound(StationError):
    code, status = "NOT_FOUND", 404
    message = N_("No {what} {key}.")


class UnknownBoard(StationError):
    code, status = "UNKNOWN_BOARD", 404
    message = N_("No board or panel is registered as {serial}.")
    todo = N_("Check the label; a new board must be registered to its order first.")


class UnknownStation(StationError):
    code, status = "UNKNOWN_STATION", 404
    message = N_("No station {station}.")


class Conflict(StationError):
    code, status = "ALREADY_EXISTS", 409
    message = N_("{what} {key} exists already.")


class NotReady(StationError):
    """The order's readiness is not green: its red items, each with its own sentence."""

    code = "NOT_READY"
    message = N_("Order {order} is not ready: {items}")
    todo = N_("Open the order's readiness screen and make every item green.")

    def __init__(self, order: str, red: list[dict]):
        super().__init__(order=order, items=[i["message"] for i in red],
                         item_codes=[i["item"] for i in red], codes=[i["code"] for i in red])

    def extra(self):
        return {"items": self.params["item_codes"], "codes": self.params["codes"]}

    def reasons(self) -> list:
        return self.params["items"]

    def headline(self, translate=lambda s: s) -> str:
        return _fill(translate(N_("Order {order} is not ready:")), self.params)


class OutOfSequence(StationError):
    code = "OUT_OF_SEQUENCE"
    message = N_("Board {serial} must pass {needed} before {step}.")
    todo = N_("Take the board to {needed}.")

    def extra(self):
        return {"needed_step": self.params.get("needed")}


class AlreadyDone(StationError):
    code = "ALREADY_DONE"
    message = N_("Board {serial} has already passed {step}.")
    todo = N_("Send it on to {next_step}.")

    def extra(self):
        return {"next_step": self.params.get("next_step")}


class WrongStation(StationError):
    code = "WRONG_STATION"
    message = N_("Board {serial} does not come to {step}: its route is {route}.")
    todo = N_("Take the board to {needed}.")

    def extra(self):
        return {"needed_step": self.params.get("needed")}


class OnHold(StationError):
    code = "ON_HOLD"
    message = N_("Board {serial} is on hold: {reason}.")
    todo = N_("Put the board aside and call QA.")


class NeedsRepair(StationError):
    code = "NEEDS_REPAIR"
    message = N_("Board {serial} failed its test and needs repair.")
    todo = N_("Send the board to repair.")


class NeedsTest(StationError):
    code = "NEEDS_TEST"
    message = N_("Board {serial} passes FCT only by a passing test result, not by a scan.")
    todo = N_("Run the board on the tester.")


class RouteComplete(StationError):
    code = "ALREADY_DONE"
    message = N_("Board {serial} has completed its route.")
    todo = N_("Nothing more to do on the line.")
