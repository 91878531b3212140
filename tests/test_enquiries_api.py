"""The enquiry API: enquiry, drafted quotation, edits, sending, confirmation, audits, roles."""

import hashlib
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from station import demo, masterdata
from station.models import Enquiry, Event, Quotation, WorkOrder, utcnow
from station.shipping import enquiries

JSON_ENQUIRY = {"customer": "CUST", "product": "PCB", "revision": "A", "quantities": [500, 100],
                "due": "2027-01-15"}


@pytest.fixture
def fresh(session, line):
    """A product revision with no data package yet (an enquiry before the customer's files)."""
    masterdata.create_product(session, line.users["admin"], "NEWPCB", "B",
                              ["PRINT", "PLACE", "REFLOW", "FCT", "PACK"])
    return "NEWPCB", "B"


def enquire(api, body=None, role="finance"):
    return api.post("/api/v1/enquiries", {**JSON_ENQUIRY, **(body or {})}, role)


def enquire_with_files(api, product, revision, role="finance", quantities="100, 500"):
    pkg = demo.data_package()
    form = {"customer": "CUST", "product": product, "revision": revision,
            "quantities": quantities, "due": "2027-02-01"}
    for (name, blob), ext in zip(pkg.items(), ("zip", "csv", "csv"), strict=True):
        form[name] = (io.BytesIO(blob), f"{name}.{ext}")
    return api.client.post("/api/v1/enquiries", data=form, content_type="multipart/form-data",
                           headers=api._headers(role))


def drafted(api, enquiry_id, role="finance"):
    r = api.post(f"/api/v1/enquiries/{enquiry_id}/quotation", {}, role)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_enquiry_201_with_id_and_received_at(api, session):
    r = enquire(api)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert set(body) == {"id", "received_at"} and body["received_at"].endswith("Z")
    row = session.get(Enquiry, body["id"])
    assert row.quantities == [100, 500]  # sorted, each once
    assert session.exec(select(Event).where(Event.kind == "enquiry.received")).one()


def test_enquiry_with_its_data_package_checks_and_stores_it(api, fresh):
    r = enquire_with_files(api, *fresh)
    assert r.status_code == 201, r.get_json()
    package = api.get("/api/v1/products/NEWPCB/B/data-package").get_json()
    assert package["files_sha256"]["gerber"] == hashlib.sha256(
        demo.data_package()["gerber"]).hexdigest()
    q = drafted(api, r.get_json()["id"])
    assert [x["quantity"] for x in q["quantities"]] == [100, 500]
    assert q["package_sha256"] == package["files_sha256"]


@pytest.mark.parametrize("change, code, status", [
    ({"customer": "NOBODY"}, "NOT_FOUND", 404),
    ({"product": "NOPE"}, "NOT_FOUND", 404),
    ({"quantities": []}, "INVALID_INPUT", 400),
    ({"quantities": [0]}, "INVALID_INPUT", 400),
    ({"quantities": [1.5]}, "INVALID_INPUT", 400),
    ({"quantities": "100"}, "INVALID_INPUT", 400),
    ({"due": "next week"}, "INVALID_INPUT", 400),
])
def test_enquiry_refuses_bad_input(api, change, code, status):
    r = enquire(api, change)
    assert r.status_code == status
    assert r.get_json()["error"]["code"] == code


@pytest.mark.parametrize("role", ["operator", "qa", "supervisor"])
def test_enquiry_and_quotation_are_finance_or_admin(api, role):
    assert enquire(api, role=role).status_code == 403
    enquiry_id = enquire(api, role="admin").get_json()["id"]
    r = api.post(f"/api/v1/enquiries/{enquiry_id}/quotation", {}, role)
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "FORBIDDEN"


def test_no_token_is_401(api):
    r = api.client.post("/api/v1/enquiries", json=JSON_ENQUIRY)
    assert r.status_code == 401


def test_quotation_201_in_the_api_shape(api, app):
    enquiry_id = enquire(api).get_json()["id"]
    q = drafted(api, enquiry_id)
    assert {"id", "rates_version", "quantities"} <= set(q)
    assert q["rates_version"] == app.extensions["quoting"].version
    assert q["currency"] == "CNY" and q["stale"] == []
    for quantity in q["quantities"]:
        assert set(quantity) == {"quantity", "lines", "total", "per_board"}
        for line in quantity["lines"]:
            assert {"code", "text", "count", "rate", "amount"} <= set(line)
            assert isinstance(line["amount"], str) and isinstance(line["rate"], str)
        assert Decimal(quantity["total"]) == sum(Decimal(x["amount"]) for x in quantity["lines"])
    assert api.get(f"/api/v1/quotations/{q['id']}").get_json()["quantities"] == q["quantities"]


def test_quotation_lines_in_chinese(api):
    enquiry_id = enquire(api).get_json()["id"]
    r = api.client.post(f"/api/v1/enquiries/{enquiry_id}/quotation?lang=zh_CN", json={},
                        headers=api._headers("finance"))
    texts = {x["code"]: x["text"] for x in r.get_json()["quantities"][0]["lines"]}
    assert "钢网" in texts["STENCIL_TOP"]


def test_no_data_package_is_409(api, fresh):
    enquiry_id = enquire(api, {"product": fresh[0], "revision": fresh[1]}).get_json()["id"]
    r = api.post(f"/api/v1/enquiries/{enquiry_id}/quotation", {}, "finance")
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "NO_DATA_PACKAGE"
    assert api.post("/api/v1/enquiries/999/quotation", {}, "finance").status_code == 404


def test_edit_send_confirm_creates_the_order(api, session):
    enquiry_id = enquire(api).get_json()["id"]
    q = drafted(api, enquiry_id)
    r = api.post(f"/api/v1/quotations/{q['id']}/lines",
                 {"quantity": 100, "code": "SETUP", "rate": "250.00"}, "finance")
    assert r.status_code == 200, r.get_json()
    first = r.get_json()["quantities"][0]
    setup = next(x for x in first["lines"] if x["code"] == "SETUP")
    assert setup["amount"] == "250.00"
    assert Decimal(first["total"]) == Decimal(q["quantities"][0]["total"]) - 50
    r = api.post(f"/api/v1/quotations/{q['id']}/lines",
                 {"quantity": 100, "code": "FREIGHT", "count": 1, "rate": "80"}, "finance")
    assert r.status_code == 200
    total = Decimal(r.get_json()["quantities"][0]["total"])
    assert api.post(f"/api/v1/quotations/{q['id']}/confirm", {"quantity": 100},
                    "finance").get_json()["error"]["code"] == "QUOTATION_NOT_SENT"
    sent = api.post(f"/api/v1/quotations/{q['id']}/send", None, "finance")
    assert sent.status_code == 200 and sent.get_json()["sent_at"]
    late = api.post(f"/api/v1/quotations/{q['id']}/lines",
                    {"quantity": 100, "code": "SETUP", "rate": "1"}, "finance")
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "QUOTATION_SENT"
    r = api.post(f"/api/v1/quotations/{q['id']}/confirm", {"quantity": 100}, "finance")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["order"] == f"ENQ-{enquiry_id}" and body["quantity"] == 100
    assert Decimal(body["total"]) == total and body["currency"] == "CNY"
    assert Decimal(body["balance_due"]) == total
    order = session.exec(select(WorkOrder).where(WorkOrder.number == body["order"])).one()
    confirmed = session.exec(select(Quotation).where(Quotation.order_id == order.id)).one()
    assert confirmed.confirmed_at is not None and confirmed.total == total
    session.commit()  # the test's reads hold SQLite's lock until their transaction ends
    # confirming the other quantity updates the same order
    r = api.post(f"/api/v1/quotations/{q['id']}/confirm", {"quantity": 500}, "finance")
    assert r.status_code == 200 and r.get_json()["order"] == body["order"]
    assert Decimal(r.get_json()["total"]) == Decimal(q["quantities"][1]["total"])
    assert api.post(f"/api/v1/quotations/{q['id']}/confirm", {"quantity": 7},
                    "finance").status_code == 404


def test_hours_since_received_and_kept_when_sent(api, session, line):
    now = utcnow()
    for hours in (1, 17, 30):
        enquiries.create_enquiry(session, line.users["finance"], "CUST", "PCB", "A", [10], None,
                                 received_at=now - timedelta(hours=hours))
    listed = api.get("/api/v1/enquiries").get_json()["enquiries"]
    assert [e["colour"] for e in listed] == ["red", "yellow", "green"]
    assert [round(e["hours"]) for e in listed] == [30, 17, 1]
    q = drafted(api, listed[0]["id"])
    api.post(f"/api/v1/quotations/{q['id']}/send", None, "finance")
    row = session.get(Enquiry, listed[0]["id"])
    session.refresh(row)
    assert row.hours_to_quote == pytest.approx(30, abs=0.1)
    session.commit()
    assert [e["id"] for e in api.get("/api/v1/enquiries").get_json()["enquiries"]] == [
        listed[1]["id"], listed[2]["id"]]


def test_a_new_package_makes_the_quotation_stale(api, fresh):
    enquiry_id = enquire_with_files(api, *fresh).get_json()["id"]
    q = drafted(api, enquiry_id)
    pkg = demo.data_package()
    pkg["bom"] = pkg["bom"] + b"\n"
    form = {name: (io.BytesIO(blob), f"{name}.{ext}") for (name, blob), ext in
            zip(pkg.items(), ("zip", "csv", "csv"), strict=True)}
    api.client.post("/api/v1/products/NEWPCB/B/data-package", data=form,
                    content_type="multipart/form-data", headers=api._headers("admin"))
    assert api.get(f"/api/v1/quotations/{q['id']}").get_json()["stale"] == ["data_package"]


AUDIT = {"date": "2026-11-20", "auditor": "Li Wei", "company": "Customer Ltd",
         "scope": "IPC-A-610 class 2, ESD, traceability", "result": "passed_with_findings",
         "findings": [{"text": "ESD wrist strap tester log incomplete", "due": "2026-12-20"},
                      "MSL labels missing on two trays"]}


def test_audit_201_latest_and_open_findings(api):
    r = api.post("/api/v1/customers/CUST/audits", AUDIT, "qa")
    assert r.status_code == 201, r.get_json()
    audit = r.get_json()
    assert audit["result"] == "passed_with_findings" and len(audit["findings"]) == 2
    latest = api.get("/api/v1/customers/CUST/audits").get_json()
    assert latest["latest"]["id"] == audit["id"] and latest["passed"]
    assert [f["text"] for f in latest["open_findings"]][0].startswith("ESD")
    finding = latest["open_findings"][0]["id"]
    r = api.post(f"/api/v1/audit-findings/{finding}/close", {"note": "log kept daily"}, "admin")
    assert r.status_code == 200 and r.get_json()["closed_at"]
    assert len(api.get("/api/v1/customers/CUST/audits").get_json()["open_findings"]) == 1


def test_audit_with_its_report_file_keeps_the_hash(api):
    blob = b"%PDF-1.4 audit report"
    form = {**{k: v for k, v in AUDIT.items() if k != "findings"}, "result": "passed",
            "report": (io.BytesIO(blob), "audit.pdf")}
    r = api.client.post("/api/v1/customers/CUST/audits", data=form,
                        content_type="multipart/form-data", headers=api._headers("admin"))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["report_sha256"] == hashlib.sha256(blob).hexdigest()
    assert r.get_json()["report_name"] == "audit.pdf"


@pytest.mark.parametrize("change, status", [
    ({"result": "ok"}, 400), ({"date": "soon"}, 400), ({"auditor": ""}, 400),
    ({"result": "passed_with_findings", "findings": []}, 400), ({"findings": "x"}, 400),
])
def test_audit_refuses_bad_input(api, change, status):
    r = api.post("/api/v1/customers/CUST/audits", {**AUDIT, **change}, "qa")
    assert r.status_code == status and r.get_json()["error"]["code"] == "INVALID_INPUT"


@pytest.mark.parametrize("role", ["operator", "finance", "supervisor"])
def test_audits_are_admin_or_qa(api, role):
    r = api.post("/api/v1/customers/CUST/audits", AUDIT, role)
    assert r.status_code == 403
    assert api.post("/api/v1/customers/NOBODY/audits", AUDIT, "qa").status_code == 404


def test_audit_required_before_the_first_order(api):
    r = api.post("/api/v1/customers/CUST/audit-required", {"audit_required": True}, "finance")
    assert r.status_code == 200 and r.get_json()["audit_required"] is True
    assert api.post("/api/v1/customers/CUST/audit-required", {"audit_required": True},
                    "qa").status_code == 403
    enquiry_id = enquire(api).get_json()["id"]
    q = drafted(api, enquiry_id)
    api.post(f"/api/v1/quotations/{q['id']}/send", None, "finance")
    r = api.post(f"/api/v1/quotations/{q['id']}/confirm", {"quantity": 100}, "finance")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "AUDIT_REQUIRED"
    api.post("/api/v1/customers/CUST/audits", {**AUDIT, "result": "failed"}, "qa")
    r = api.post(f"/api/v1/quotations/{q['id']}/confirm", {"quantity": 100}, "finance")
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "AUDIT_REQUIRED"
    api.post("/api/v1/customers/CUST/audits", {**AUDIT, "date": "2026-11-30"}, "qa")
    r = api.post(f"/api/v1/quotations/{q['id']}/confirm", {"quantity": 100}, "finance")
    assert r.status_code == 200, r.get_json()


def test_confirm_is_finance_or_admin(api):
    q = drafted(api, enquire(api).get_json()["id"])
    api.post(f"/api/v1/quotations/{q['id']}/send", None, "admin")
    for role in ("operator", "qa", "supervisor"):
        assert api.post(f"/api/v1/quotations/{q['id']}/confirm", {"quantity": 100},
                        role).status_code == 403
    assert api.post(f"/api/v1/quotations/{q['id']}/confirm", {"quantity": 100},
                    "admin").status_code == 200
