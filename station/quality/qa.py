"""QA: the review of an order's results and the electronic signature that a change voids."""

import hashlib
import json
from collections import Counter

from sqlmodel import Session, select

from station import events, people
from station.errors import N_, BadCredentials, InvalidInput, StationError, Text
from station.masterdata import find_order
from station.models import Board, Repair, Signoff, User, WorkOrder, iso
from station.quality import fct

MEANINGS = ("Approved: functional test results", "Reviewed: functional test results")


class NotAllPassed(StationError):
    code = "NOT_ALL_PASSED"
    message = N_("Order {order}: {why}")
    todo = N_("Test, repair and retest until every board of the order has a final pass.")


def board_results(session: Session, order: WorkOrder) -> list[dict]:
    """Every board of the order with its attempts, repairs and scrap: what a signature covers."""
    out = []
    for board in session.exec(select(Board).where(Board.order_id == order.id)
                              .order_by(Board.serial)):
        state = fct.test_state(session, board)
        out.append({
            "serial": board.serial, "state": state["state"],
            "scrapped": state["scrap"].reason if state["scrap"] else None,
            "attempts": [{"id": a.id, "outcome": a.outcome, "program": a.program,
                          "program_version": a.program_version, "fixture": a.fixture,
                          "started_at": iso(a.started_at), "ended_at": iso(a.ended_at),
                          "measurements": a.measurements, "defect_code": a.defect_code,
                          "sha256": a.file_sha256, "station": a.station_id, "user": a.user_id,
                          "recorded_at": iso(a.at)} for a in fct.attempts(session, board)],
            "repairs": [{"id": r.id, "defect_code": r.defect_code, "location": r.location,
                         "action": r.action, "user": r.user_id, "at": iso(r.at)}
                        for r in fct.repairs(session, board)]})
    return out


def results_hash(results: list[dict]) -> str:
    """SHA-256 over the canonical JSON of the order's results."""
    return hashlib.sha256(json.dumps(results, sort_keys=True, separators=(",", ":"))
                          .encode()).hexdigest()


def passed_check(order: WorkOrder, results: list[dict]) -> Text | None:
    """Why not every board of the order has a final pass, or None when all have."""
    live = [b for b in results if not b["scrapped"]]
    passed = sum(1 for b in live if b["state"] == "passed")
    waiting = [b["serial"] for b in live if b["state"] != "passed"]
    if waiting:
        return Text(N_("{count} board(s) without a final pass: {serials}."), count=len(waiting),
                    serials=", ".join(waiting[:5]) + ("…" if len(waiting) > 5 else ""))
    if passed < order.quantity:
        return Text(N_("Only {passed} of {quantity} boards have passed."), passed=passed,
                    quantity=order.quantity)
    return None


class ResultsChanged(StationError):
    code = "RESULTS_CHANGED"
    message = N_("The results of order {order} changed since the review was opened.")
    todo = N_("Review the results again, then sign.")


def sign(session: Session, by: User, number, badge, pin, meaning, *, pepper: str,
         lock_after: int = 5, reviewed_hash: str | None = None) -> Signoff:
    """QA signs the order's results with badge and PIN again; stored with their hash.

    With `reviewed_hash` (the hash of the results the signer was shown) a change in between
    is refused, so a signature never covers results nobody reviewed.
    """
    people.require(by, "signoff")
    order = find_order(session, number)
    if not isinstance(meaning, str) or not meaning.strip() or len(meaning) > 200:
        raise InvalidInput(N_("a signature needs its meaning, such as \"{meaning}\""),
                           meaning=MEANINGS[0])
    signer = people.check_badge(session, badge, pin, pepper=pepper, lock_after=lock_after)
    if signer.id != by.id:
        raise BadCredentials(limit=lock_after)  # one may only sign as oneself
    results = board_results(session, order)
    why = passed_check(order, results)
    if why:
        raise NotAllPassed(order=order.number, why=why)
    if reviewed_hash and reviewed_hash != results_hash(results):
        raise ResultsChanged(order=order.number)
    row = Signoff(order_id=order.id, user_id=signer.id, printed_name=signer.full_name,
                  meaning=meaning.strip(), results_hash=results_hash(results))
    session.add(row)
    events.record(session, "order.signed_off", f"order:{order.number}",
                  {"printed_name": row.printed_name, "meaning": row.meaning,
                   "results_hash": row.results_hash}, signer)
    session.commit()
    return row


def signoff_view(session: Session, order: WorkOrder, results: list[dict] | None = None) -> dict:
    """The newest signature of the order with whether it still covers the results, or None."""
    row = session.exec(select(Signoff).where(Signoff.order_id == order.id)
                       .order_by(Signoff.id.desc())).first()
    if row is None:
        return None
    current = results_hash(board_results(session, order) if results is None else results)
    return {"signed_by": row.printed_name, "signed_at": iso(row.signed_at),
            "meaning": row.meaning, "results_hash": row.results_hash,
            "valid": row.results_hash == current}


def review(session: Session, order: WorkOrder) -> dict:
    """The QA review: boards by state, first-pass and final yield, failures, retests."""
    results = board_results(session, order)
    tested = [b for b in results if b["attempts"]]
    first_pass = sum(1 for b in tested if b["attempts"][0]["outcome"] == "pass")
    final = sum(1 for b in tested if b["state"] == "passed")
    defects, measurements = Counter(), Counter()
    # A failure counts once: under the repair's finding when it was repaired, else the tester's.
    repaired = set(session.exec(select(Repair.attempt_id).join(Board, Repair.board_id == Board.id)
                                .where(Board.order_id == order.id)))
    for b in results:
        for a in b["attempts"]:
            if a["outcome"] != "pass":
                if a["defect_code"] and a["id"] not in repaired:
                    defects[a["defect_code"]] += 1
                for m in a["measurements"]:
                    if m.get("outcome") in ("fail", "error"):
                        measurements[m["name"]] += 1
        for r in b["repairs"]:
            defects[r["defect_code"]] += 1
    return {"boards": results, "by_state": dict(Counter(b["state"] for b in results)),
            "first_pass_yield": first_pass / len(tested) if tested else None,
            "final_yield": final / len(tested) if tested else None,
            "retests": sum(max(len(b["attempts"]) - 1, 0) for b in results),
            "defects": defects.most_common(), "failed_measurements": measurements.most_common(),
            "not_passed": passed_check(order, results), "results_hash": results_hash(results),
            "signoff": signoff_view(session, order, results)}
