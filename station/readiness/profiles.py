"""Profile boards and profile runs: a recording stored as received, analysed against a paste.

A run's analysis is stored with its texts as message ids and parameters, so each reader gets
the problems, reasons and notes in their own language (`run_view(run, translate)`).
"""

import hashlib

from sqlmodel import Session, select

from station import events, people
from station.devices.profiler import UnknownFormat, parse
from station.errors import N_, Conflict, InvalidInput, NotFound, StationError, Text
from station.masterdata import find_product, valid_code
from station.models import ProfileBoard, ProfileRun, User, iso
from station.readiness.reflow import Window, analyse

MAX_RECORDING = 20 * 1024 * 1024


class UnknownRecording(StationError):
    code, status = "UNKNOWN_FORMAT", 400
    message = N_("{detail}")
    todo = N_("Send a T-962 log, a pfrapp log, or a CSV of time and one column per thermocouple.")


def register_profile_board(session: Session, by: User, id, product, revision,
                           thermocouples) -> ProfileBoard:
    """Register a profile board of a product revision with its number of thermocouples (admin)."""
    people.require(by, "master_data")
    id = valid_code(id, "id")
    if isinstance(thermocouples, bool) or not isinstance(thermocouples, int) or \
            not 1 <= thermocouples <= 64:
        raise InvalidInput(N_("thermocouples must be a whole number from 1 to 64"))
    prod = find_product(session, product, revision)
    if session.get(ProfileBoard, id):
        raise Conflict(what=Text(N_("profile board")), key=id)
    board = ProfileBoard(id=id, product_id=prod.id, thermocouples=thermocouples)
    session.add(board)
    events.record(session, "profile_board.created", f"profile_board:{id}",
                  {"product": prod.code, "revision": prod.revision,
                   "thermocouples": thermocouples}, by)
    session.commit()
    return board


def record_run(session: Session, by: User | None, raw: bytes | str, paste: str,
               windows: dict[str, Window], *, profile_board: str | None = None,
               oven: str | None = None, recipe: str | None = None, source: str = "upload",
               columns: dict | None = None, slope_window_s: float | None = None,
               warn_pct: float | None = None) -> ProfileRun:
    """Parse, analyse and store one profiler recording with its SHA-256 and an event."""
    if by is not None:
        people.require(by, "floor")
    window = windows.get(paste)
    if window is None:
        raise InvalidInput(N_("unknown paste {paste}: one of {pastes}"), paste=repr(paste),
                           pastes=", ".join(sorted(windows)))
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
    if not data.strip():
        raise InvalidInput(N_("the recording is empty"))
    if len(data) > MAX_RECORDING:
        raise InvalidInput(N_("the recording is over {mb} MB"), mb=MAX_RECORDING // 2**20)
    text = data.decode("utf-8", errors="replace")
    if profile_board is not None and session.get(ProfileBoard, profile_board) is None:
        raise NotFound(what=Text(N_("profile board")), key=profile_board)
    for name, value in (("oven", oven), ("recipe", recipe)):
        if value is not None and (not isinstance(value, str) or len(value) > 64):
            raise InvalidInput(N_("{what} must be a text of at most {limit} characters"), what=name,
                               limit=64)
    try:
        recording = parse(text, columns=columns)
    except UnknownFormat as err:
        raise UnknownRecording(detail=str(err)) from None
    analysis = analyse(recording, window, slope_window_s=slope_window_s, warn_pct=warn_pct)
    result = storable(analysis.to_dict())
    if columns:
        result["columns"] = columns  # so the chart can read the recording again the same way
    run = ProfileRun(profile_board_id=profile_board, paste=paste,
                     window_version=str(window.version), oven=oven or None,
                     recipe=recipe or None, source=source, format=recording.format, raw=text,
                     sha256=hashlib.sha256(data).hexdigest(), verdict=result["verdict"],
                     pwi=result["pwi"], result=result, user_id=by.id if by else None)
    session.add(run)
    session.flush()
    events.record(session, "profile.recorded", f"profile_run:{run.id}",
                  {"profile_board": profile_board, "paste": paste, "oven": oven,
                   "verdict": run.verdict, "pwi": run.pwi, "sha256": run.sha256}, by)
    session.commit()
    return run


def find_run(session: Session, run_id) -> ProfileRun:
    """The profile run, or NOT_FOUND."""
    run = session.get(ProfileRun, run_id) if str(run_id).isdigit() else None
    if run is None:
        raise NotFound(what=Text(N_("profile run")), key=run_id)
    return run


def run_view(run: ProfileRun, translate=lambda s: s) -> dict:
    """A profile run as the API shows it, its texts said by `translate` (English by default)."""
    return {"id": run.id, "format": run.format, "paste": run.paste,
            "window_version": run.window_version, "profile_board": run.profile_board_id,
            "oven": run.oven, "recipe": run.recipe, "source": run.source, "sha256": run.sha256,
            "recorded_at": iso(run.recorded_at), "algorithm_version": "1",
            **said(run.result, translate)}


def storable(value):
    """A result with every Text as {"msgid", "params"}, so JSON keeps what to translate."""
    if isinstance(value, Text):
        return {"msgid": value.msgid, "params": storable(value.params)}
    if isinstance(value, dict):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def _revived(value):
    """The Text objects of a stored result back (a stored text is {"msgid", "params"})."""
    if isinstance(value, dict):
        if value.keys() == {"msgid", "params"}:
            return Text(value["msgid"], **_revived(value["params"]))
        return {k: _revived(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_revived(v) for v in value]
    return value


def said(value, translate=lambda s: s):
    """A stored result with its texts said by `translate`; runs stored before, as they are."""
    if isinstance(value, dict):
        if value.keys() == {"msgid", "params"}:
            return _revived(value).say(translate)
        return {k: said(v, translate) for k, v in value.items()}
    if isinstance(value, list):
        return [said(v, translate) for v in value]
    return value


def history(session: Session, profile_board: str | None = None, oven: str | None = None,
            limit: int = 200) -> list[ProfileRun]:
    """Recent runs of a profile board or an oven (or all), newest first."""
    query = select(ProfileRun).order_by(ProfileRun.id.desc()).limit(limit)
    if profile_board:
        query = query.where(ProfileRun.profile_board_id == profile_board)
    if oven:
        query = query.where(ProfileRun.oven == oven)
    return list(session.exec(query))
