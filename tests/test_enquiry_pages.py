"""The office pages of issue 17 through the Flask client: enquiries, quotations, customers."""

import hashlib
import io
import re
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from station import masterdata
from station.demo import data_package
from station.models import Customer, Enquiry, QuotationDraft, WorkOrder, utcnow
from station.readiness import packages
from station.shipping import audits, enquiries


def sign_in(client, role="finance"):
    """Sign a role in by name and password (finance, admin: the office)."""
    r = client.post("/login", data={"name": role, "password": f"{role}-pw"})
    assert r.status_code == 302


def with_package(session, line):
    """The line's product PCB rev A with the demo data package uploaded through the check."""
    pkg = data_package()
    packages.upload(session, line.users["admin"], "PCB", "A", pkg["gerber"], pkg["bom"],
                    "bom.csv", pkg["centroid"], "cpl.csv")


def enquiry(session, line, hours=0.0, quantities=(100, 500)) -> Enquiry:
    """An enquiry for PCB rev A received `hours` ago."""
    row = enquiries.create_enquiry(session, line.users["finance"], "CUST", "PCB", "A",
                                   list(quantities), (date.today() + timedelta(30)).isoformat())
    row.received_at = utcnow() - timedelta(hours=hours)
    session.add(row)
    session.commit()
    return row


def drafted(session, line, app) -> QuotationDraft:
    """A quotation drafted for a fresh enquiry of 100 and 500 boards."""
    with_package(session, line)
    e = enquiry(session, line)
    return enquiries.draft_quotation(session, line.users["finance"], e.id,
                                     app.extensions["quoting"])


def test_open_enquiries_are_coloured_by_the_hours_since_received(client, session, line):
    for hours in (2, 17, 25):
        enquiry(session, line, hours)
    sign_in(client)
    html = client.get("/enquiries").get_data(as_text=True)
    ages = dict(re.findall(r'class="age (\w+)" data-colour="\1">([\d.]+) h<', html))
    assert ages == {"green": "2.0", "yellow": "17.0", "red": "25.0"}
    assert "Draft the quotation" in html and "New enquiry" in html
    zh = client.get("/enquiries?lang=zh_CN").get_data(as_text=True)
    assert "询价" in zh and "Hours since received" not in zh


def test_an_enquiry_is_recorded_from_the_page_with_its_data_package(client, session, line):
    sign_in(client)
    pkg = data_package()
    r = client.post("/enquiries", content_type="multipart/form-data", data={
        "customer": "CUST", "product": "PCB", "revision": "A", "quantities": "100, 500",
        "due": (date.today() + timedelta(20)).isoformat(),
        "gerber": (io.BytesIO(pkg["gerber"]), "g.zip"), "bom": (io.BytesIO(pkg["bom"]), "bom.csv"),
        "centroid": (io.BytesIO(pkg["centroid"]), "cpl.csv")})
    assert r.status_code == 302
    row = session.exec(select(Enquiry)).one()
    assert row.quantities == [100, 500]
    session.commit()  # reads begin IMMEDIATE too: let the station write
    r = client.post("/enquiries", data={"customer": "CUST", "product": "PCB", "revision": "A",
                                        "quantities": "many"})
    assert r.status_code == 400 and "INVALID_INPUT" in r.get_data(as_text=True)
    html = client.get("/enquiries").get_data(as_text=True)
    assert f'data-enquiry="{row.id}"' in html


def test_an_operator_sees_no_new_enquiry_form(client, session, line):
    enquiry(session, line)
    client.post("/login", data={"badge": "10001", "pin": "1234"})
    html = client.get("/enquiries").get_data(as_text=True)
    assert "New enquiry" not in html and "Draft the quotation" not in html


def test_drafting_without_a_data_package_says_so(client, session, line):
    masterdata.create_product(session, line.users["admin"], "BARE", "A", ["PRINT", "FCT", "PACK"])
    e = enquiries.create_enquiry(session, line.users["finance"], "CUST", "BARE", "A", [10], None)
    sign_in(client)
    r = client.post(f"/enquiries/{e.id}/quotation")
    assert r.status_code == 409 and "NO_DATA_PACKAGE" in r.get_data(as_text=True)


def test_the_quotation_page_lists_its_lines_per_quantity_and_a_line_can_be_edited(
        client, session, line, app):
    sign_in(client)
    with_package(session, line)
    e = enquiry(session, line)
    r = client.post(f"/enquiries/{e.id}/quotation")
    assert r.status_code == 302
    qid = session.exec(select(QuotationDraft)).one().id
    session.commit()
    assert r.headers["Location"].endswith(f"/quotations/{qid}")
    html = client.get(f"/quotations/{qid}").get_data(as_text=True)
    assert re.findall(r'class="card quantity" data-quantity="(\d+)"', html) == ["100", "500"]
    assert 'data-code="SETUP"' in html and 'data-code="STENCIL_TOP"' in html
    assert "Send the quotation" in html
    r = client.post(f"/quotations/{qid}", data={"quantity": "100", "code": "SETUP",
                                                "rate": "123.45"})
    assert r.status_code == 302
    session.expire_all()
    row = session.get(QuotationDraft, qid)
    (hundred,) = [q for q in row.lines if q["quantity"] == 100]
    (setup,) = [x for x in hundred["lines"] if x["code"] == "SETUP"]
    session.commit()
    assert Decimal(setup["rate"]) == Decimal("123.45") and setup["amount"] == "123.45"
    html = client.get(f"/quotations/{qid}").get_data(as_text=True)
    assert "123.45" in html
    zh = client.get(f"/quotations/{qid}?lang=zh_CN").get_data(as_text=True)
    assert "报价单" in zh and "钢网" in zh and "Send the quotation" not in zh


def test_a_sent_quotation_keeps_its_hours_and_one_quantity_becomes_the_order(
        client, session, line, app):
    row = drafted(session, line, app)
    sign_in(client)
    assert client.post(f"/quotations/{row.id}", data={"action": "send"}).status_code == 302
    html = client.get(f"/quotations/{row.id}").get_data(as_text=True)
    assert 'data-sent="true"' in html and "Change" not in html
    assert "Confirm 500 boards" in html
    listed = client.get("/enquiries").get_data(as_text=True)
    assert f'data-enquiry="{row.enquiry_id}"' not in listed  # no longer open
    assert f'data-quoted="{row.enquiry_id}"' in listed and 'data-colour="green">0.0 h<' in listed
    r = client.post(f"/quotations/{row.id}", data={"action": "confirm", "quantity": "500"})
    assert r.status_code == 302
    session.expire_all()
    e = session.get(Enquiry, row.enquiry_id)
    assert e.hours_to_quote is not None and e.order_id is not None
    order = session.get(WorkOrder, e.order_id)
    assert order.quantity == 500
    session.commit()
    html = client.get(f"/quotations/{row.id}").get_data(as_text=True)
    assert f'data-order="{order.number}"' in html and "Confirm 500 boards" not in html


def test_confirming_for_a_customer_who_requires_an_audit_is_refused_on_the_page(
        client, session, line, app):
    row = drafted(session, line, app)
    audits.set_audit_required(session, line.users["finance"], "CUST", True)
    enquiries.send_quotation(session, line.users["finance"], row.id)
    sign_in(client)
    r = client.post(f"/quotations/{row.id}", data={"action": "confirm", "quantity": "100"})
    html = r.get_data(as_text=True)
    assert r.status_code == 409 and "AUDIT_REQUIRED" in html and "CUST" in html
    assert "Confirm 100 boards" in html  # still there to try again once audited
    zh = client.post(f"/quotations/{row.id}?lang=zh_CN", data={"action": "confirm",
                                                               "quantity": "100"})
    assert zh.status_code == 409 and "AUDIT_REQUIRED" in zh.get_data(as_text=True)


def test_the_printable_page_has_the_factory_name_and_print_css(client, session, line, app):
    row = drafted(session, line, app)
    sign_in(client)
    html = client.get(f"/quotations/{row.id}/print").get_data(as_text=True)
    name = app.config["SETTINGS"].site.name
    assert name and name in html and "print.css" in html and 'class="print quotation-print"' in html
    assert html.count('class="box"') == 2 and "<form" not in html
    css = client.get("/static/print.css").get_data(as_text=True)
    assert "@page" in css and ".quotation-print" in css
    zh = client.get(f"/quotations/{row.id}/print?lang=zh_CN").get_data(as_text=True)
    assert "报价单" in zh and 'lang="zh-CN"' in zh


def test_the_quotation_page_shows_a_changed_data_package(client, session, line, app):
    row = drafted(session, line, app)
    pkg = data_package()
    packages.upload(session, line.users["admin"], "PCB", "A", pkg["gerber"],
                    pkg["bom"] + b"\n", "bom.csv", pkg["centroid"], "cpl.csv")
    sign_in(client)
    html = client.get(f"/quotations/{row.id}").get_data(as_text=True)
    assert "data package changed" in html


def test_the_quotation_page_shows_changed_rates(client, session, line, app):
    row = drafted(session, line, app)
    app.extensions["quoting"] = replace(app.extensions["quoting"], version=row.rates_version + 1)
    sign_in(client)
    html = client.get(f"/quotations/{row.id}").get_data(as_text=True)
    assert f"version {row.rates_version}, now {row.rates_version + 1}" in html
    assert "data package changed" not in html


def test_an_unknown_quotation_is_404(client, line):
    sign_in(client)
    assert client.get("/quotations/999").status_code == 404
    assert client.get("/quotations/999/print").status_code == 404


@pytest.fixture
def audited(session, line):
    """CUST audited with two findings, one of them closed."""
    audits.record_audit(session, line.users["qa"], "CUST", "2026-11-02", "Li Wei", "Acme Audit",
                        "passed_with_findings",
                        [{"text": "ESD wrist straps untested", "due": "2026-12-01"},
                         {"text": "Stencil log unsigned"}], scope="SMT line 1")
    audit = audits.latest_audit(session, session.exec(
        select(Customer).where(Customer.code == "CUST")).one())
    (closed,) = [f for f in audit["open_findings"] if f["text"] == "Stencil log unsigned"]
    audits.close_finding(session, line.users["qa"], closed["id"])
    return audit


def test_the_customer_page_shows_the_latest_audit_and_its_open_findings(client, audited):
    sign_in(client)
    html = client.get("/customers/CUST").get_data(as_text=True)
    assert 'data-result="passed_with_findings"' in html and "Li Wei" in html
    assert "Acme Audit" in html and "SMT line 1" in html
    assert "ESD wrist straps untested" in html and "due 2026-12-01" in html
    assert html.count('class="finding"') == 1 and "Stencil log unsigned" in html  # closed
    zh = client.get("/customers/CUST?lang=zh_CN").get_data(as_text=True)
    assert "审核" in zh and "Open findings" not in zh


def test_qa_closes_an_open_finding_on_the_customer_page(client, audited):
    sign_in(client, "qa")
    html = client.get("/customers/CUST").get_data(as_text=True)
    (finding,) = re.findall(r'class="finding" data-finding="(\d+)"', html)
    r = client.post("/customers/CUST", data={"action": "close", "finding": finding})
    assert r.status_code == 302
    html = client.get("/customers/CUST").get_data(as_text=True)
    assert 'class="finding"' not in html and "None open." in html
    assert "Closed findings (2)" in html
    r = client.post("/customers/CUST", data={"action": "close", "finding": "x"})
    assert r.status_code == 400 and "INVALID_INPUT" in r.get_data(as_text=True)


def test_qa_records_an_audit_with_its_report_on_the_customer_page(client, line):
    sign_in(client, "qa")
    report = b"%PDF-1.4 audit report"
    r = client.post("/customers/CUST", content_type="multipart/form-data", data={
        "action": "audit", "date": "2026-11-20", "auditor": "Zhang Min", "company": "Buyer GmbH",
        "scope": "SMT, FCT", "result": "passed_with_findings",
        "findings": "Feeder log missing | 2026-12-15\n\nNo ESD floor check\n",
        "report": (io.BytesIO(report), "audit.pdf")})
    assert r.status_code == 302
    html = client.get("/customers/CUST").get_data(as_text=True)
    assert "Zhang Min" in html and "audit.pdf" in html
    assert hashlib.sha256(report).hexdigest() in html
    assert html.count('class="finding"') == 2 and "due 2026-12-15" in html
    r = client.post("/customers/CUST", data={"action": "audit", "date": "2026-11-20",
                                             "auditor": "Zhang Min", "company": "Buyer GmbH",
                                             "result": "passed_with_findings"})
    assert r.status_code == 400 and "INVALID_INPUT" in r.get_data(as_text=True)
    client.post("/logout")
    sign_in(client)  # finance sees the audit, not the form
    assert "Record the audit" not in client.get("/customers/CUST").get_data(as_text=True)


def test_finance_toggles_audit_required_and_an_operator_cannot(client, session, line):
    sign_in(client)
    html = client.get("/customers/CUST").get_data(as_text=True)
    assert 'data-required="false"' in html and "Require a passed audit" in html
    r = client.post("/customers/CUST", data={"action": "required", "required": "1"})
    assert r.status_code == 302
    html = client.get("/customers/CUST").get_data(as_text=True)
    assert 'data-required="true"' in html and "Do not require an audit" in html
    client.post("/logout")
    client.post("/login", data={"badge": "10001", "pin": "1234"})
    html = client.get("/customers/CUST").get_data(as_text=True)
    assert "Require a passed audit" not in html and "Do not require" not in html
    r = client.post("/customers/CUST", data={"action": "required", "required": "0"})
    assert r.status_code == 403 and "FORBIDDEN" in r.get_data(as_text=True)


def test_home_and_finance_link_the_office_pages(client, line):
    sign_in(client)
    assert "/enquiries" in client.get("/").get_data(as_text=True)
    html = client.get("/finance").get_data(as_text=True)
    assert "/enquiries" in html and "/customers/CUST" in html
