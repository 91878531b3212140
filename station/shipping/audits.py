"""The customer's audit of the factory: result, findings until closed, the report's hash."""

import hashlib
from datetime import date

from sqlmodel import Session, select

from station import events, people
from station.errors import N_, InvalidInput, NotFound, StationError, Text
from station.masterdata import find_customer
from station.models import Audit, AuditFinding, Customer, User, iso, utcnow

RESULTS = ("passed", "passed_with_findings", "failed")
PASSED = ("passed", "passed_with_findings")  # findings to close, but the factory passed
MAX_REPORT = 50 * 1024 * 1024
FINDINGS = N_("findings are a list of texts, or of objects with a text and a due date")


class AuditRequired(StationError):
    code, status = "AUDIT_REQUIRED", 409
    message = N_("Customer {customer} requires a passed audit of the factory before its first "
                 "order is confirmed; {latest}.")
    todo = N_("Record the customer's audit (QA or admin), or ask finance whether the customer "
              "still requires one.")


def _text(value, what: str, limit: int, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise InvalidInput(N_("{what} is a text of 1 to {limit} characters"), what=what,
                           limit=limit)
    return value.strip()


def _date(value, what: str, required: bool = True) -> date | None:
    if value is None and not required:
        return None
    if isinstance(value, date):
        return value
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("{what} must be a date such as 2026-11-27"), what=what) from None


def _findings(findings) -> list[tuple[str, date | None]]:
    if findings is None:
        return []
    if not isinstance(findings, list) or len(findings) > 200:
        raise InvalidInput(FINDINGS)
    out = []
    for f in findings:
        if isinstance(f, str):
            f = {"text": f}
        if not isinstance(f, dict):
            raise InvalidInput(FINDINGS)
        out.append((_text(f.get("text"), "finding", 1000),
                    _date(f.get("due"), "a finding's due date", required=False)))
    return out


def record_audit(session: Session, by: User, customer, date, auditor, company, result,
                 findings=None, scope=None, report=None) -> Audit:
    """Record a customer's audit; `report` is (file name, bytes), kept with its SHA-256."""
    people.require(by, "audit")
    cust = find_customer(session, customer)
    if result not in RESULTS:
        raise InvalidInput(N_("result must be one of {results}"), results=", ".join(RESULTS))
    day = _date(date, "date")
    items = _findings(findings)
    if result == "passed_with_findings" and not items:
        raise InvalidInput(N_("an audit passed with findings lists its findings"))
    name = blob = digest = None
    if report is not None:
        name, blob = report
        if not isinstance(blob, bytes) or not blob or len(blob) > MAX_REPORT:
            raise InvalidInput(N_("the audit report must be a file of at most {mb} MB"),
                               mb=MAX_REPORT // 2**20)
        name, digest = (name or "report")[:255], hashlib.sha256(blob).hexdigest()
    row = Audit(customer_id=cust.id, date=day, auditor=_text(auditor, "auditor", 128),
                company=_text(company, "company", 128),
                scope=_text(scope, "scope", 500, required=False), result=result,
                report_name=name, report_sha256=digest, report=blob, user_id=by.id)
    session.add(row)
    session.flush()
    for text, due in items:
        session.add(AuditFinding(audit_id=row.id, text=text, due=due))
    events.record(session, "audit.recorded", f"customer:{cust.code}",
                  {"audit": row.id, "date": day.isoformat(), "result": result,
                   "auditor": row.auditor, "company": row.company, "findings": len(items),
                   "report_sha256": digest}, by)
    session.commit()
    return row


def close_finding(session: Session, by: User, finding_id, note=None) -> AuditFinding:
    """Close an audit finding (who, when, how it was closed)."""
    people.require(by, "audit")
    finding = session.get(AuditFinding, finding_id) if isinstance(finding_id, int) else None
    if finding is None:
        raise NotFound(what=Text(N_("audit finding")), key=finding_id)
    if finding.closed_at is not None:
        raise InvalidInput(N_("finding {finding} is already closed"), finding=finding.id)
    audit = session.get(Audit, finding.audit_id)
    cust = session.get(Customer, audit.customer_id)
    finding.closed_at, finding.closed_by_id = utcnow(), by.id
    finding.note = _text(note, "note", 500, required=False)
    session.add(finding)
    events.record(session, "audit.finding_closed", f"customer:{cust.code}",
                  {"audit": audit.id, "finding": finding.id, "note": finding.note}, by)
    session.commit()
    return finding


def set_audit_required(session: Session, by: User, customer, required) -> Customer:
    """Finance or admin says whether the customer needs a passed audit before a first order."""
    people.require(by, "quote")
    if not isinstance(required, bool):
        raise InvalidInput(N_("audit_required is true or false"))
    cust = find_customer(session, customer)
    cust.audit_required = required
    session.add(cust)
    events.record(session, "customer.audit_required_set", f"customer:{cust.code}",
                  {"audit_required": required}, by)
    session.commit()
    return cust


def finding_view(f: AuditFinding) -> dict:
    """A finding as the API and the pages show it."""
    return {"id": f.id, "text": f.text, "due": f.due.isoformat() if f.due else None,
            "closed_at": iso(f.closed_at), "note": f.note}


def audit_view(session: Session, audit: Audit) -> dict:
    """An audit with its findings, open ones first."""
    found = session.exec(select(AuditFinding).where(AuditFinding.audit_id == audit.id)
                         .order_by(AuditFinding.closed_at.is_not(None), AuditFinding.id)).all()
    return {"id": audit.id, "date": audit.date.isoformat(), "auditor": audit.auditor,
            "company": audit.company, "scope": audit.scope, "result": audit.result,
            "report_name": audit.report_name, "report_sha256": audit.report_sha256,
            "created_at": iso(audit.created_at), "findings": [finding_view(f) for f in found]}


def _latest(session: Session, cust: Customer) -> Audit | None:
    return session.exec(select(Audit).where(Audit.customer_id == cust.id)
                        .order_by(Audit.date.desc(), Audit.id.desc())).first()


def latest_audit(session: Session, customer) -> dict:
    """The customer's latest audit (None), every open finding of its audits, and the rule."""
    cust = customer if isinstance(customer, Customer) else find_customer(session, customer)
    audit = _latest(session, cust)
    open_ = session.exec(select(AuditFinding).join(Audit, Audit.id == AuditFinding.audit_id)
                         .where(Audit.customer_id == cust.id, AuditFinding.closed_at.is_(None))
                         .order_by(AuditFinding.due.is_(None), AuditFinding.due,
                                   AuditFinding.id)).all()
    return {"customer": cust.code, "audit_required": cust.audit_required,
            "latest": audit_view(session, audit) if audit else None,
            "passed": bool(audit and audit.result in PASSED),
            "open_findings": [finding_view(f) for f in open_]}


def require_passed(session: Session, cust: Customer) -> None:
    """AUDIT_REQUIRED unless the customer needs no audit or its latest audit passed."""
    if not cust.audit_required:
        return
    audit = _latest(session, cust)
    if audit is not None and audit.result in PASSED:
        return
    latest = (Text(N_("it has not been audited")) if audit is None else
              Text(N_("its latest audit ({date}) failed"), date=audit.date.isoformat()))
    raise AuditRequired(customer=cust.code, latest=latest)
