"""The OpenAPI 3 document of /api/v1: every endpoint, its body and its answers."""

from station.devices.profiler import ROLES
from station.readiness.datapackage.panel import VALUES as PANEL_VALUES

ERROR = {"$ref": "#/components/schemas/Error"}
STR, INT, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
NUM = {"type": "number"}
MONEY = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "a decimal, never a float"}


def _obj(required: list[str] | None = None, **props) -> dict:
    schema = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return schema


def _arr(items: dict) -> dict:
    return {"type": "array", "items": items}


def op(summary: str, roles: str, body: dict | None = None, ok: int = 200,
       answer: dict | None = None, errors: tuple = (400, 401, 403, 404, 409), params=()) -> dict:
    """One operation: its summary, who may call it, its JSON body and answers."""
    doc = {"summary": summary, "description": f"Roles: {roles}.",
           "responses": {str(ok): {"description": "done", "content": {
               "application/json": {"schema": answer or {"type": "object"}}}}}}
    for code in errors:
        doc["responses"][str(code)] = {"$ref": f"#/components/responses/E{code}"}
    if body is not None:
        doc["requestBody"] = {"required": True,
                              "content": {"application/json": {"schema": body}}}
    if params:
        doc["parameters"] = [{"name": p, "in": "path", "required": True, "schema": STR}
                             for p in params]
    return doc


def _svg(doc: dict) -> dict:
    """An operation that answers an SVG picture instead of JSON."""
    doc["responses"]["200"]["content"] = {"image/svg+xml": {"schema": STR}}
    return doc


def _multipart(doc: dict, schema: dict) -> dict:
    """An operation whose body is a multipart form."""
    doc["requestBody"] = {"required": True, "content": {"multipart/form-data": {"schema": schema}}}
    return doc


ORDER = _obj(number=STR, customer=STR, product=STR, revision=STR, quantity=INT, unit_price=MONEY,
             currency=STR, paste=STR, status=STR, boards_passed=INT, balance_due=MONEY,
             steps={"type": "object", "additionalProperties": INT},
             readiness=_obj(ready=BOOL,
                            items=_arr(_obj(item=STR, ready=BOOL, code=STR, message=STR))),
             signoff={"type": "object", "nullable": True},
             shipment_blockers=_arr(_obj(code=STR, message=STR)))
SCAN_ANSWER = _obj(accepted=BOOL, serial=STR, order=STR, step=STR,
                   next_step={"type": "string", "nullable": True}, serials=_arr(STR), panel=STR,
                   station=STR)
STATS = _obj(**{k: NUM for k in ("peak_C", "tal_s", "soak_s", "max_rise_Cps", "max_fall_Cps",
                                  "t_within5_s", "cool_rate_Cps", "t25_to_peak_s")})
PROFILE = _obj(id=INT, verdict={"enum": ["PASS", "WARN", "FAIL", "INVALID"]},
               pwi={"type": "number", "nullable": True}, format=STR, paste=STR, sha256=STR,
               algorithm_version=STR,
               channels=_arr(_obj(name=STR, valid=BOOL, stats=STATS, role={"enum": list(ROLES)})),
               delta_t_peak_C=NUM,
               problems=_arr(_obj(code=STR, message=STR,
                                  severity={"enum": ["error", "warning", "info"]},
                                  channel={"type": "string", "nullable": True},
                                  stat={"type": "string", "nullable": True})))
READINESS = _obj(order=STR, ready=BOOL, items=_arr(_obj(
    item={"enum": ["data_package", "stencil", "profile_board", "blank_pcbs"]}, ready=BOOL,
    code={"type": "string", "nullable": True}, message=STR, todo=STR, warning=STR)))
STENCIL = _obj(id=STR, side=STR, life_prints=INT, prints=INT, clean_interval_prints=INT,
               prints_since_cleaning=INT, damaged=BOOL, retired=BOOL)
LOT = _obj(lot=STR, quantity=INT, left=INT, opened_at=STR, baked_at=STR, floor_life_hours=NUM,
           floor_life_ends=STR)
BINARY = {"type": "string", "format": "binary"}
PANEL_VALUE = {"description": "a length in mm, or true/false for fiducials_asymmetric"}
PANEL = {**_obj(
    size_mm=_arr(NUM), rails_mm={**_obj(top=NUM, bottom=NUM), "nullable": True},
    tooling_holes=_arr(_obj(x_mm=NUM, y_mm=NUM, diameter_mm=NUM,
                            edge={"enum": ["left", "right"]}, edge_mm=NUM)),
    fiducials=_arr(_obj(x_mm=NUM, y_mm=NUM, diameter_mm=NUM, clear_mm=NUM,
                        side={"enum": ["top", "bottom"]})),
    kind={"enum": ["panel", "single_board"], "nullable": True}, fiducials_in_rails=BOOL,
    values={"type": "object", "additionalProperties": PANEL_VALUE},
    overrides=_arr(_obj(value=STR, measured=PANEL_VALUE, entered=PANEL_VALUE, reason=STR,
                        by=STR, at=STR))),
    "nullable": True,
    "description": "Measured from the Gerber and drill files (null when they cannot be read); "
                   "an engineer's overrides beside the values they replace."}
PANEL_PROBLEM = _obj(code=STR, message=STR, severity=STR, rule=STR, field=STR,
                     overridden=BOOL, text=_obj(id=STR, params={"type": "object"}))
PACKAGE = _obj(complete=BOOL, ready=BOOL, layers={"type": "object"},
               parts=_obj(smt_top=INT, smt_bottom=INT, dip=INT),
               problems=_arr(_obj(code=STR, message=STR, severity=STR)), panel=PANEL)
MEASUREMENT = _obj(["name"], name=STR, value={}, unit=STR, low=NUM, high=NUM,
                   outcome={"enum": ["pass", "fail", "error"]})
ATTEMPT = _obj(id=INT, serial=STR, station=STR, outcome=STR, program=STR, program_version=STR,
               fixture=STR, started_at=STR, ended_at=STR, measurements=_arr(MEASUREMENT),
               sha256=STR, state=STR)

STATION_STATE = _obj(
    station=STR, line=STR, type=STR, node=STR,
    state={"enum": ["running", "idle", "blocked", "setup", "down"]}, state_code=INT,
    state_since=STR, state_reason=STR, state_source={"enum": ["derived", "operator"]}, job=STR,
    recipe=STR, job_done=INT, job_total=INT, boards_scanned=INT, passed_this_hour=INT,
    tests_passed=INT, tests_failed=INT, ready=BOOL, red_item=STR, red_message=STR, hold=BOOL,
    hold_reason=STR, data_package_ready=BOOL, stencil_ready=BOOL, profile_board_ready=BOOL,
    blank_pcbs_ready=BOOL, defect_1=STR, defect_1_count=INT, last_activity=STR, last_seq=INT,
    hourly_target=INT, ts=STR)

LINE_BOARD = _obj(line=STR, name=STR, live=BOOL, stations=_arr(STATION_STATE),
                  summary=_obj(target=INT, actual=INT, expected_by_now=INT, behind=INT,
                               last_station=STR, hour=STR,
                               defects=_arr(_obj(code=STR, count=INT))))

PATHS = {
    "/api/v1/openapi.json": {"get": op("This document", "anyone", errors=())},
    "/api/v1/customers": {"post": op(
        "Register a customer", "admin", _obj(["code", "name"], code=STR, name=STR,
                                             terms={"enum": ["prepaid", "monthly"]}), 201)},
    "/api/v1/customers/{code}": {"get": op("One customer", "any signed-in role",
                                           params=("code",))},
    "/api/v1/products": {"post": op(
        "Register a product revision and its route (must contain FCT)", "admin",
        _obj(["code", "revision", "route"], code=STR, revision=STR, route=_arr(STR)), 201)},
    "/api/v1/products/{code}/{revision}": {"get": op("One product revision", "any signed-in role",
                                                     params=("code", "revision"))},
    "/api/v1/stations": {
        "post": op("Register a station", "admin", _obj(["id", "type", "line"], id=STR, type=STR,
                                                         line=STR), 201),
        "get": op("Every station", "any signed-in role")},
    "/api/v1/orders": {"post": op(
        "Open a work order", "admin",
        _obj(["number", "customer", "product", "revision", "quantity", "unit_price"], number=STR,
             customer=STR, product=STR, revision=STR, quantity=INT, unit_price=MONEY, paste=STR,
             currency=STR), 201, ORDER)},
    "/api/v1/orders/{number}": {"get": op("The order with readiness, sign-off and blockers",
                                          "any signed-in role", answer=ORDER,
                                          params=("number",))},
    "/api/v1/orders/{number}/boards": {"post": op(
        "Generate `count` serials or register the customer's `serials`", "admin",
        _obj(count=INT, serials=_arr(STR), panel_size=INT), 201, _obj(serials=_arr(STR)),
        params=("number",))},
    "/api/v1/orders/{number}/holds": {
        "post": op("Hold the order, or one board of it (`serial`)", "qa",
                   _obj(["reason"], reason=STR, serial=STR), 201, params=("number",)),
        "delete": op("Release the order's holds (or a board's, with ?serial=)", "qa",
                     params=("number",))},
    "/api/v1/scans": {"post": op(
        "Scan a board or panel at a station. Codes: INVALID_CODE 400, UNKNOWN_BOARD 404, "
        "NOT_READY, OUT_OF_SEQUENCE, ALREADY_DONE, ON_HOLD, NEEDS_REPAIR, WRONG_STATION, "
        "NEEDS_TEST 409. The same scan_id again returns the first answer.",
        "operator, qa, supervisor", _obj(["station", "code"], station=STR, code=STR, scan_id=STR),
        201, SCAN_ANSWER)},
    "/api/v1/profile-boards": {"post": op(
        "Register a profile board of a product revision", "admin",
        _obj(["id", "product", "revision", "thermocouples"], id=STR, product=STR, revision=STR,
             thermocouples=INT), 201)},
    "/api/v1/profiles": {"post": _multipart(op(
        "Upload a profiler recording (T-962, pfrapp or CSV); analysed against the paste's "
        "window. Unknown data: 400 UNKNOWN_FORMAT.", "operator, qa, supervisor", ok=201,
        answer=PROFILE), _obj(["file", "paste"], file={"type": "string", "format": "binary"},
                              paste=STR, profile_board=STR, oven=STR, recipe=STR,
                              slope_window_s=NUM, columns=STR))},
    "/api/v1/profiles/{run_id}": {"get": op("One profile run", "any signed-in role",
                                            answer=PROFILE, params=("run_id",))},
    "/api/v1/profiles/{run_id}/chart.svg": {"get": {
        **op("The run's chart", "any signed-in role", params=("run_id",)),
        "responses": {"200": {"description": "SVG", "content": {"image/svg+xml": {}}},
                      "404": {"$ref": "#/components/responses/E404"}}}},
    "/api/v1/orders/{number}/readiness": {"get": op(
        "The order's four readiness items; every scan of its boards is NOT_READY while one is "
        "red", "any signed-in role", answer=READINESS, params=("number",))},
    "/api/v1/stencils": {"post": op(
        "Register a stencil", "admin",
        _obj(["id", "product", "revision", "side", "life_prints", "clean_interval_prints"],
             id=STR, product=STR, revision=STR, side={"enum": ["top", "bottom"]},
             life_prints=INT, clean_interval_prints=INT, thickness_um=INT), 201, STENCIL)},
    "/api/v1/stencils/{stencil_id}": {"get": op("One stencil and its counters",
                                                "any signed-in role", answer=STENCIL,
                                                params=("stencil_id",))},
    "/api/v1/stencils/{stencil_id}/tension": {"post": op(
        "Tension readings at several points (N/cm); they pass when all meet the limit "
        "(new or in service)", "operator, qa, supervisor", _obj(["readings_Ncm"],
                                                                 readings_Ncm=_arr(NUM)),
        201, params=("stencil_id",))},
    "/api/v1/stencils/{stencil_id}/cleanings": {"post": op(
        "Record a cleaning", "operator, qa, supervisor", _obj(), 201, STENCIL,
        params=("stencil_id",))},
    "/api/v1/stencils/{stencil_id}/inspections": {"post": op(
        "Record a damage inspection", "operator, qa, supervisor",
        _obj(["damaged"], damaged=BOOL, note=STR), 201, params=("stencil_id",))},
    "/api/v1/stencils/{stencil_id}/retirement": {"post": op(
        "Retire a stencil", "operator, qa, supervisor", _obj(["reason"], reason=STR), 201,
        STENCIL, params=("stencil_id",))},
    "/api/v1/orders/{number}/stencil": {"post": op(
        "Mount a stencil for the order (WRONG_STENCIL for another product, revision or side)",
        "operator, qa, supervisor", _obj(["stencil"], stencil=STR), 201, params=("number",))},
    "/api/v1/pcb-lots": {"post": op(
        "Register a lot of blank PCBs", "admin",
        _obj(["lot", "product", "revision", "quantity"], lot=STR, product=STR, revision=STR,
             quantity=INT, floor_life_hours=NUM), 201, LOT)},
    "/api/v1/pcb-lots/{lot}": {"get": op("One PCB lot", "any signed-in role", answer=LOT,
                                         params=("lot",))},
    "/api/v1/pcb-lots/{lot}/opened": {"post": op(
        "The lot's bag was opened: its floor life starts", "operator, qa, supervisor", ok=201,
        answer=LOT, params=("lot",))},
    "/api/v1/pcb-lots/{lot}/bakes": {"post": op(
        "A bake of the lot: its floor life starts again", "operator, qa, supervisor",
        _obj(["hours", "temperature_C"], hours=NUM, temperature_C=NUM), 201, LOT,
        params=("lot",))},
    "/api/v1/orders/{number}/pcb-lots": {"post": op(
        "Allocate boards of a lot to the order (all it still needs without quantity)",
        "operator, qa, supervisor", _obj(["lot"], lot=STR, quantity=INT), 201,
        params=("number",))},
    "/api/v1/products/{code}/{revision}/data-package": {
        "post": _multipart(op(
            "Check a data package: Gerber zip, BOM and centroid", "admin", ok=201,
            answer=PACKAGE, params=("code", "revision")),
            _obj(["gerber", "bom", "centroid"], gerber=BINARY, bom=BINARY, centroid=BINARY)),
        "get": op("The newest data package report", "any signed-in role", answer=PACKAGE,
                  params=("code", "revision"))},
    **{f"/api/v1/products/{{code}}/{{revision}}/data-package/{side}.svg": {"get": _svg(op(
        seen + ": layers drawn, each part's centroid marked SMT / DIP (data-ref, title), "
        "fiducials and tooling holes ringed, rails shaded. NOT_FOUND without a package or its "
        "files", "any signed-in role", params=("code", "revision")))}
       for side, seen in (("top", "The newest data package's board seen from the top"),
                          ("bottom", "The newest data package's board seen from the bottom "
                                     "(mirrored, as seen from below)"))},
    "/api/v1/products/{code}/{revision}/panel": {"post": op(
        "Override one measured panel value of the newest data package, with the reason (kept "
        "as an event; the panel problems and readiness are judged again)", "admin",
        _obj(["value", "entered", "reason"], value={"enum": list(PANEL_VALUES)},
             entered=PANEL_VALUE, reason=STR), 201,
        _obj(panel=PANEL, ready=BOOL, problems=_arr(PANEL_PROBLEM)),
        params=("code", "revision"))},
    "/api/v1/tests": {"post": op(
        "A tester's result for one attempt (every attempt is kept). OUT_OF_SEQUENCE before "
        "FCT, UNKNOWN_BOARD, ON_HOLD, NEEDS_REPAIR after too many failed retests",
        "operator, qa, supervisor",
        _obj(["serial", "station", "outcome"], serial=STR, station=STR,
             outcome={"enum": ["pass", "fail", "error"]}, program=STR, program_version=STR,
             fixture=STR, started_at=STR, ended_at=STR, defect_code=STR,
             measurements=_arr(MEASUREMENT)), 201, ATTEMPT)},
    "/api/v1/tests/openhtf": {"post": _multipart(op(
        "Import an OpenHTF JSON test record as one attempt", "operator, qa, supervisor",
        ok=201, answer=ATTEMPT), _obj(["file", "station"], file=BINARY, station=STR))},
    "/api/v1/tests/csv": {"post": _multipart(op(
        "Import a CSV of results (serial, outcome, ...): all rows or none",
        "operator, qa, supervisor", ok=201), _obj(["file", "station"], file=BINARY,
                                                  station=STR))},
    "/api/v1/boards/{serial}/tests": {"get": op(
        "A board's test state, attempts and repairs", "any signed-in role",
        params=("serial",))},
    "/api/v1/boards/{serial}/repairs": {"post": op(
        "Record a repair of a failed board; it goes back to FCT", "operator, qa, supervisor",
        _obj(["defect_code", "action"], defect_code=STR, location=STR, action=STR), 201,
        params=("serial",))},
    "/api/v1/boards/{serial}/scrap": {"post": op(
        "Scrap a board with a reason", "qa", _obj(["reason"], reason=STR), 201,
        params=("serial",))},
    "/api/v1/orders/{number}/signoff": {"post": op(
        "QA signs the results off with badge and PIN again. NOT_ALL_PASSED 409, "
        "BAD_CREDENTIALS 401; with results_hash (the results reviewed) RESULTS_CHANGED 409",
        "qa", _obj(["badge", "pin", "meaning"], badge=STR, pin=STR, meaning=STR,
                   results_hash=STR), 201,
        _obj(signed_by=STR, signed_at=STR, meaning=STR, results_hash=STR),
        params=("number",))},
    "/api/v1/orders/{number}/review": {"get": op(
        "The QA review: boards by state, yields, failures, retests, signature",
        "any signed-in role", params=("number",))},
    "/api/v1/printers": {"get": op(
        "The label printers with their state (idle, busy, failing) and recent jobs",
        "any signed-in role", answer=_obj(printers=_arr(_obj(
            name=STR, host=STR, port=INT, dpmm=INT, stations=_arr(STR), state=STR,
            last_error={"type": "string", "nullable": True},
            jobs=_arr(_obj(id=INT, label=STR, state=STR, attempts=INT, error=STR))))))},
    "/api/v1/print-jobs": {"post": op(
        "Queue a label as ZPL on a printer (the station's, or `printer`); answers at once, the "
        "job goes queued -> sending -> sent or failed (with `error`) by itself. label: board "
        "(key = serial), boards (key = order, every board), panel (key = panel id), box (key = "
        "order, `box` number of a box packed at PACK, with the SSCC it got then). "
        "NOT_ENCODABLE, TOO_LONG_FOR_LABEL 400, NO_PRINTER 404", "operator, qa, supervisor",
        _obj(["label", "key"], label={"enum": ["board", "boards", "panel", "box"]}, key=STR,
             box=INT, symbology={"enum": ["code128", "datamatrix"]}, copies=INT,
             station=STR, printer=STR), 202,
        _obj(id=INT, printer=STR, label=STR,
             state={"enum": ["queued", "sending", "sent", "failed"]}, attempts=INT,
             error={"type": "string", "nullable": True}, by=STR,
             station={"type": "string", "nullable": True}, bytes=INT, created_at=STR,
             finished_at={"type": "string", "nullable": True}),
        errors=(400, 401, 403, 404))},
    "/api/v1/print-jobs/{job_id}": {"get": op(
        "One recent print job (kept in memory: the last 200 per printer)", "any signed-in role",
        params=("job_id",))},
    "/api/v1/orders/{number}/shipments": {"post": op(
        "Release the order for shipment with badge and PIN again. 409 SHIPMENT_BLOCKED lists "
        "every blocker at once: NOT_ALL_PASSED, NOT_SIGNED_OFF, SIGNOFF_VOID, ON_HOLD, "
        "NOT_PAID, NOT_READY, ALREADY_SHIPPED", "operator, qa, supervisor",
        _obj(["badge", "pin"], badge=STR, pin=STR), 201,
        _obj(shipped_at=STR, boards=INT, boxes=INT), params=("number",))},
    "/api/v1/orders/{number}/shipment": {"get": op(
        "May the order ship, its blockers, its boxes and their serials", "any signed-in role",
        params=("number",))},
    "/api/v1/orders/{number}/payments": {"post": op(
        "Record a payment (above zero, in the order's currency)", "finance",
        _obj(["amount", "reference"], amount=MONEY, reference=STR, paid_on=STR, currency=STR),
        201, _obj(payment=INT, amount=MONEY, balance_due=MONEY), params=("number",))},
    "/api/v1/orders/{number}/payments/{payment_id}/reversal": {"post": op(
        "Reverse a payment by a new record pointing at it", "finance",
        _obj(["reason"], reason=STR), 201, params=("number", "payment_id"))},
    "/api/v1/orders/{number}/invoices": {"post": op(
        "Issue an invoice (the balance due unless an amount is given)", "finance",
        _obj(amount=MONEY), 201, params=("number",))},
    "/api/v1/orders/{number}/quotations": {"post": op(
        "Write a quotation: unit price, quantity, one-off charges, currency", "admin, finance",
        _obj(["unit_price"], unit_price=MONEY, quantity=INT, currency=STR,
             charges=_arr(_obj(name=STR, amount=MONEY))), 201, params=("number",))},
    "/api/v1/orders/{number}/quotations/confirm": {"post": op(
        "Confirm the newest (or a given) quotation: its total becomes the order's amount",
        "admin, finance", _obj(quotation=INT), params=("number",))},
    "/api/v1/customers/{code}/terms": {"post": op(
        "Approve monthly terms (who, when) or return the customer to prepaid", "finance",
        _obj(["terms"], terms={"enum": ["prepaid", "monthly"]}), params=("code",))},
    "/api/v1/lines/{line_id}": {"get": op(
        "The line dashboard as JSON: every station's state snapshot (from the broker's retained "
        "state when connected, else this database), its online flag, target against actual this "
        "hour and the top defects", "any signed-in role", params=("line_id",),
        answer=LINE_BOARD)},
    "/api/v1/plant": {"get": op(
        "The plant board as JSON: every line of this database and every line the broker holds "
        "retained states for, each as /api/v1/lines/{line_id} answers it, with the line's "
        "online flag (its line node's retained status, else its stations'; null without one)",
        "any signed-in role",
        answer=_obj(live=BOOL, configured=BOOL, lines=_arr({**LINE_BOARD, "properties": {
            **LINE_BOARD["properties"], "online": {"type": "boolean", "nullable": True}}})))},
    "/api/v1/stations/{station_id}/state": {
        "get": op("The station's state snapshot (running, idle, blocked, setup, down; SEMI E10 "
                  "code), as its retained MQTT state carries it", "any signed-in role",
                  answer=STATION_STATE, params=("station_id",)),
        "post": op("Set the station's state with a reason (event station.state_set); it holds "
                   "until another is set or a board passes the station; \"auto\" hands back to "
                   "the derived state", "operator, qa, supervisor",
                   _obj(["state", "reason"], state={"enum": ["running", "idle", "blocked",
                                                             "setup", "down", "auto"]},
                        reason=STR), 201, STATION_STATE, params=("station_id",))},
    "/api/v1/outbox": {"get": op(
        "The MQTT outbox: broker configured and connected, events waiting to be published, "
        "the relay's cursor", "any signed-in role",
        answer=_obj(configured=BOOL, connected=BOOL, waiting=INT, last_error=STR,
                    relay={"type": "object", "nullable": True}), errors=(401,))},
}


def _query(doc: dict, *names: str) -> dict:
    """An operation that takes these query parameters (strings, optional)."""
    doc.setdefault("parameters", []).extend({"name": n, "in": "query", "required": False,
                                             "schema": STR} for n in names)
    return doc


SLOT = _obj(["slot", "part", "designators"], slot=STR, part=STR, alternates=_arr(STR),
            designators=_arr(STR))
REEL = _obj(id=STR, part=STR, quantity=INT, initial_quantity=INT, lot=STR, date_code=STR,
            msl={"type": "string", "nullable": True, "enum": ["1", "2", "2a", "3", "4", "5",
                                                               "5a", "6", None]},
            opened_at=STR, baked_at=STR, dry_stored=BOOL,
            floor_left_h={"type": "number", "nullable": True})
SLOT_STATE = _obj(slot=STR, part=STR, alternates=_arr(STR), designators=_arr(STR), reel=STR,
                  reel_part=STR, state={"enum": ["verified", "alternate", "wrong", "empty",
                                                 "unloaded"]},
                  problem={"type": "string", "nullable": True}, quantity=INT,
                  floor_left_h={"type": "number", "nullable": True})
MATERIAL_PATHS = {
    "/api/v1/feeder-setups": {"post": op(
        "Create (or replace) the feeder setup of a placement step (PLACE...) of a product "
        "revision; every SMT designator of the step's side (PLACE top, PLACE-B or -BOT bottom) "
        "in the newest data package must be fed by exactly one slot, else 400 SETUP_INVALID "
        "with `designators` (and `problems`: doubled, missing, unknown)", "admin",
        _obj(["product", "revision", "step", "slots"], product=STR, revision=STR, step=STR,
             slots=_arr(SLOT)), 201, _obj(id=INT, slots=INT, step=STR, setup=_arr(SLOT)))},
    "/api/v1/products/{code}/{revision}/feeder-setups/{step}": {"get": _query(op(
        "The feeder setup of a placement step; `?draft=1`: one slot per distinct part of the "
        "side, drafted from the data package, slot names to fill in", "any signed-in role",
        answer=_obj(id=INT, step=STR, slots=_arr(SLOT)), params=("code", "revision", "step")),
        "draft")},
    "/api/v1/reels": {"post": op(
        "Register a reel from its scanned label (ECIA EIGP-114 / ISO 15434: P or 1P part, Q "
        "quantity, 1T lot, 9D/10D date code, S or 3S reel id; or GS1) or typed fields; typed "
        "fields fill what the label lacks (msl); a reel id is unique (409 ALREADY_EXISTS)",
        "operator, qa, supervisor",
        _obj(label=STR, id=STR, part=STR, quantity=INT, lot=STR, date_code=STR, msl=STR), 201,
        REEL)},
    "/api/v1/reels/{reel_id}": {"get": op("One reel with what is left and its floor life",
                                          "any signed-in role", answer=REEL,
                                          params=("reel_id",))},
    "/api/v1/reels/{reel_id}/bakes": {"post": op(
        "Record a bake: the floor life (J-STD-033) starts again", "operator, qa, supervisor",
        _obj(), 201, REEL, params=("reel_id",))},
    "/api/v1/reels/{reel_id}/dry-storage": {"post": op(
        "Record the reel put into dry storage (its floor life pauses) or, with stored false, "
        "taken out", "operator, qa, supervisor", _obj(stored=BOOL), 201, REEL,
        params=("reel_id",))},
    "/api/v1/stations/{station_id}/feeders": {
        "post": op("Load a reel on a slot of a placement station (a load on a loaded slot is a "
                   "splice): PASS or ALTERNATE, or 409 WRONG_PART (with part_needed), "
                   "MSD_EXPIRED, REEL_EMPTY, REEL_IN_USE, 404 UNKNOWN_REEL, UNKNOWN_SLOT; every "
                   "attempt is an event, a refused known reel turns the slot red",
                   "operator, qa, supervisor",
                   _obj(["order", "slot", "reel"], order=STR, slot=STR, reel=STR), 201,
                   _obj(verdict={"enum": ["PASS", "ALTERNATE"]}, slot=STR, part=STR,
                        slot_part=STR, reel=STR, spliced=BOOL), params=("station_id",)),
        "get": _query(op("The station's slots for the order's setup, each with its reel and "
                         "state; verified when every slot is verified or alternate (no setup: "
                         "setup null, not interlocked)", "any signed-in role",
                         answer=_obj(verified=BOOL, station=STR, order=STR, step=STR,
                                     setup={"type": "integer", "nullable": True},
                                     slots=_arr(SLOT_STATE)),
                         params=("station_id",)), "order")},
    "/api/v1/stations/{station_id}/feeders/{slot}": {"delete": _query(op(
        "Unload a slot: it is free and not verified again", "operator, qa, supervisor",
        answer=_obj(slot=STR, reel=STR, quantity_left=INT), params=("station_id", "slot")),
        "order")},
    "/api/v1/boards/{serial}/materials": {"get": op(
        "The board's materials per designator group, as fed at its placement scan",
        "any signed-in role",
        answer=_obj(serial=STR, materials=_arr(_obj(step=STR, slot=STR, part=STR, reel=STR,
                                                    lot=STR, date_code=STR,
                                                    designators=_arr(STR)))),
        params=("serial",))},
    "/api/v1/trace": {"get": _query(op(
        "The boards, orders and customers that got a lot, reel or part (IPC-1782 M2); "
        "`format=csv`: one row per board and designator group", "any signed-in role",
        answer=_obj(boards=_arr(STR), orders=_arr(STR), customers=_arr(STR))),
        "lot", "reel", "part", "format")},
}
PATHS.update(MATERIAL_PATHS)

# Issue 17: enquiries, quotations drafted from the data package, the customers' audits.
LINE = _obj(code=STR, text=STR, count=INT, rate=MONEY, amount=MONEY)
QUANTITY = _obj(quantity=INT, lines=_arr(LINE), total=MONEY, per_board=MONEY)
DRAFT = _obj(id=INT, enquiry=INT, rates_version=INT, currency=STR, package=INT,
             package_sha256=_obj(gerber=STR, bom=STR, centroid=STR), quantities=_arr(QUANTITY),
             created_at=STR, sent_at=STR, confirmed_quantity=INT, order=STR,
             stale=_arr({"enum": ["rates", "data_package"]}))
ENQUIRY = _obj(id=INT, customer=STR, customer_name=STR, product=STR, revision=STR,
               quantities=_arr(INT), due=STR, received_at=STR, quoted_at=STR, hours=NUM,
               colour={"enum": ["green", "yellow", "red"]}, hours_to_quote=NUM,
               quotations=_arr(INT), order=STR)
ENQUIRY_BODY = _obj(["customer", "product", "revision", "quantities"], customer=STR,
                    product=STR, revision=STR, quantities=_arr(INT), due=STR)
FINDING = _obj(id=INT, text=STR, due=STR, closed_at=STR, note=STR)
AUDIT = _obj(id=INT, date=STR, auditor=STR, company=STR, scope=STR,
             result={"enum": ["passed", "passed_with_findings", "failed"]}, report_name=STR,
             report_sha256=STR, created_at=STR, findings=_arr(FINDING))
AUDIT_BODY = _obj(["date", "auditor", "company", "result"], date=STR, auditor=STR, company=STR,
                  scope=STR, result={"enum": ["passed", "passed_with_findings", "failed"]},
                  findings=_arr({"oneOf": [STR, _obj(["text"], text=STR, due=STR)]}))


def _also_multipart(doc: dict, schema: dict) -> dict:
    """An operation whose body is JSON or a multipart form."""
    doc["requestBody"]["content"]["multipart/form-data"] = {"schema": schema}
    return doc


ENQUIRY_PATHS = {
    "/api/v1/enquiries": {
        "post": _also_multipart(op(
            "Record a customer's enquiry; multipart with `gerber` (zip), `bom`, `centroid` "
            "checks and stores the data package for the product revision (quantities as "
            "\"100, 500\" or a JSON list)", "admin, finance", ENQUIRY_BODY, 201,
            _obj(id=INT, received_at=STR)),
            {**ENQUIRY_BODY, "properties": {**ENQUIRY_BODY["properties"], "quantities": STR,
                                            "gerber": BINARY, "bom": BINARY,
                                            "centroid": BINARY}}),
        "get": op("The open enquiries (no quotation sent), oldest first, with the hours since "
                  "received against the 24 h promise: green, yellow past 16 h, red past 24 h",
                  "any signed-in role", answer=_obj(enquiries=_arr(ENQUIRY)))},
    "/api/v1/enquiries/{enquiry_id}": {"get": op(
        "One enquiry, its quotations and its order", "any signed-in role", answer=ENQUIRY,
        params=("enquiry_id",))},
    "/api/v1/enquiries/{enquiry_id}/quotation": {"post": op(
        "Draft the enquiry's quotation per quantity from its product revision's newest data "
        "package and config/quoting.toml (keeps the rates' version and the package's hashes); "
        "409 NO_DATA_PACKAGE", "admin, finance", _obj(), 201, DRAFT, params=("enquiry_id",))},
    "/api/v1/quotations/{quotation_id}": {"get": op(
        "A drafted quotation; `stale` lists what changed since (rates, data_package)",
        "any signed-in role", answer=DRAFT, params=("quotation_id",))},
    "/api/v1/quotations/{quotation_id}/lines": {"post": op(
        "Change one line's count or rate for one quantity (a new code adds a line with both "
        "and its text); "
        "409 QUOTATION_SENT once sent", "admin, finance",
        _obj(["quantity", "code"], quantity=INT, code=STR, count=INT, rate=MONEY, text=STR),
        200, DRAFT,
        params=("quotation_id",))},
    "/api/v1/quotations/{quotation_id}/send": {"post": op(
        "Send the quotation: its lines freeze, the enquiry keeps its hours to quote",
        "admin, finance", None, 200, DRAFT, params=("quotation_id",))},
    "/api/v1/quotations/{quotation_id}/confirm": {"post": op(
        "Confirm one quantity of a sent quotation: the enquiry's order (new: `number`, default "
        "ENQ-<enquiry>) gets that quantity and amount as today's confirm does; 409 "
        "QUOTATION_NOT_SENT, AUDIT_REQUIRED (the customer requires a passed audit before its "
        "first order)", "admin, finance", _obj(["quantity"], quantity=INT, number=STR), 200,
        _obj(order=STR, quantity=INT, unit_price=MONEY, currency=STR, total=MONEY,
             balance_due=MONEY), params=("quotation_id",))},
    "/api/v1/customers/{code}/audits": {
        "post": _also_multipart(op(
            "Record the customer's audit of the factory; multipart may attach its `report` "
            "(kept with its SHA-256)", "admin, qa", AUDIT_BODY, 201, AUDIT, params=("code",)),
            {**AUDIT_BODY, "properties": {**AUDIT_BODY["properties"], "findings": STR,
                                          "report": BINARY}}),
        "get": op("The customer's latest audit, every open finding, and whether a passed audit "
                  "is required", "any signed-in role",
                  answer=_obj(customer=STR, audit_required=BOOL, passed=BOOL, latest=AUDIT,
                              open_findings=_arr(FINDING)), params=("code",))},
    "/api/v1/audit-findings/{finding_id}/close": {"post": op(
        "Close an audit finding (note: how)", "admin, qa", _obj(note=STR), 200, FINDING,
        params=("finding_id",))},
    "/api/v1/customers/{code}/audit-required": {"post": op(
        "Whether the customer requires a passed audit before its first order is confirmed",
        "admin, finance", _obj(["audit_required"], audit_required=BOOL), 200,
        _obj(code=STR, audit_required=BOOL), params=("code",))},
}
PATHS.update(ENQUIRY_PATHS)


def openapi_document() -> dict:
    """The whole document."""
    responses = {f"E{code}": {"description": text, "content": {
        "application/json": {"schema": ERROR}}} for code, text in (
        (400, "malformed input"), (401, "no or bad token, or bad credentials"),
        (403, "the role may not do this"), (404, "unknown thing"),
        (409, "a rule of the floor says no"))}
    responses["E503"] = {
        "description": "DATABASE_BUSY: the database could not be had in time (another write "
                       "holds its lock); nothing was stored. Try again after Retry-After.",
        "headers": {"Retry-After": {"description": "seconds to wait before trying again",
                                    "schema": INT}},
        "content": {"application/json": {"schema": ERROR}}}
    busy = {"503": {"$ref": "#/components/responses/E503"}}  # every endpoint on the database
    paths = {path: ops if path == "/api/v1/openapi.json" else
             {method: {**doc, "responses": {**doc["responses"], **busy}}
              for method, doc in ops.items()} for path, ops in PATHS.items()}
    return {
        "openapi": "3.0.3",
        "info": {"title": "SMT line station API", "version": "1",
                 "description": "JSON in and out; times in UTC with Z; money as decimal strings."},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Error": _obj(["error"], error=_obj(["code", "message"], code=STR,
                                                             message=STR, todo=STR))},
            "responses": responses,
        },
    }
