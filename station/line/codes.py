"""What a scanner sent, made plain: terminators and AIM prefixes off, then an allowlist.

`normalise` gives the bare code of a plain label. `understand` reads any label the floor meets
(AIM symbology identifiers, GS1 element strings, GS1 HRI, ISO/IEC 15434 envelopes such as the
ECIA reel and lot labels, plain serials) and says what kind of thing it names. Both are pure:
the keyboard wedge and the serial scanners share them, and so may any screen that takes scans.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date

from biip import ParseConfig, ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin

from station.errors import N_, Text

AIM_PREFIX = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
RAW_LIMIT = 1024  # anything longer is not a label, whatever the configured cap
BIDI = {"\u061c", "\u200e", "\u200f", *map(chr, range(0x202A, 0x202F)),
        *map(chr, range(0x2066, 0x206A))}
DEFAULT_ALLOWED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
GS, RS, EOT = "\x1d", "\x1e", "\x04"
ISO15434_HEADER = "[)>"

# AIM symbology identifiers (ISO/IEC 15424) the station expects from its scanners.
SYMBOLOGIES = {
    "]C0": "Code 128", "]C1": "GS1-128", "]d1": "Data Matrix", "]d2": "GS1 DataMatrix",
    "]Q1": "QR Code", "]Q3": "GS1 QR Code", "]e0": "GS1 DataBar", "]E0": "EAN-13",
    "]E4": "EAN-8", "]A0": "Code 39", "]I0": "ITF", "]I1": "ITF-14",
}
GS1_SYMBOLOGIES = {"]C1", "]d2", "]Q3", "]e0"}  # the data is a GS1 element string
GTIN_SYMBOLOGIES = {"]E0", "]E4", "]I1"}  # the data is a GTIN with its check digit
# "]" arrives as another character when the scanner's keyboard country differs from the PC's.
MANGLED_AIM = re.compile(r"^([^\]\w\s(\[])([A-Za-z][0-9])")
HRI = re.compile(r"^\(\d{2,4}\)")
DI = re.compile(r"^(\d{0,3}[A-Z])(.*)$", re.S)  # an ANSI MH10.8.2 data identifier and its data
DATE_AIS = {"11", "12", "13", "15", "16", "17", "7003", "7006", "7007"}
EXPIRY_AIS = {"15": "best-before", "16": "sell-by", "17": "expiry", "7003": "expiry"}
MADE_AIS = {"11": "production", "13": "packaging"}
YYWW_DIS = {"9D", "10D"}  # date codes, year and week (ECIA EIGP-114)

CAPS_HINT = "looks like Caps Lock was on (upper and lower case are swapped)"
DASH_HINT = "looks like the scanner's keyboard layout differs from the PC's ('-' arrived as \"'\")"
YZ_HINT = "looks like the scanner's keyboard layout differs from the PC's (Y and Z are swapped)"
NOT_TEXT_HINT = ("bytes that are not text arrived: check the scanner's baud rate, parity and "
                 "data bits")
LAYOUT_FIX = str.maketrans({"'": "-", "ß": "-"})
YZ_SWAP = str.maketrans("YZyz", "ZYzy")

DEFAULT_KINDS = {
    "badge": r"\d{5,6}",
    "stencil": r"ST-[A-Za-z0-9][A-Za-z0-9._/-]*",
    "profile_board": r"PB-[A-Za-z0-9][A-Za-z0-9._/-]*",
    "pcb_lot": r"LOT-[A-Za-z0-9][A-Za-z0-9._/-]*",
    "order": r"WO-\d+",
    "panel": r"[A-Z0-9][A-Z0-9.-]*-P\d{4}",
    "board": r"[A-Z0-9][A-Z0-9.-]*-\d{5}",
}


class BadCode(ValueError):
    """The raw text is not an acceptable code; the message (a Text) says why."""


def _too_long(length: int, max_length: int) -> Text:
    return Text(N_("it is {length} characters long; a label has at most {max_length}"),
                length=length, max_length=max_length)


def normalise(raw, max_length: int = 64, allowed: re.Pattern = DEFAULT_ALLOWED) -> str:
    """The code inside a raw scan, or BadCode naming what is wrong with it."""
    if not isinstance(raw, str):
        raise BadCode(Text(N_("the code must be text")))
    if len(raw) > RAW_LIMIT:
        raise BadCode(_too_long(len(raw), max_length))
    code = raw.strip(" \t\r\n")
    code = AIM_PREFIX.sub("", code, count=1)
    return check_plain(code, max_length, allowed)


def check_plain(code: str, max_length: int = 64, allowed: re.Pattern = DEFAULT_ALLOWED) -> str:
    """The code itself if it is a clean plain label, or BadCode naming what is wrong."""
    if not code:
        raise BadCode(Text(N_("it is empty")))
    for pos, ch in enumerate(code, 1):
        if ch in BIDI:
            raise BadCode(Text(N_("it holds a text-direction override ({char}) at {pos}"),
                                char=f"U+{ord(ch):04X}", pos=pos))
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            raise BadCode(Text(N_("it holds a control character ({char}) at {pos}"),
                                char=f"U+{ord(ch):04X}", pos=pos))
    if len(code) > max_length:
        raise BadCode(_too_long(len(code), max_length))
    if not allowed.match(code):
        bad = next((c for c in code if not re.match(r"[A-Za-z0-9._/-]", c)), code[:1])
        raise BadCode(Text(N_("the character {char} is not allowed in a label"), char=repr(bad)))
    return code


@dataclass(frozen=True)
class Label:
    """A structured label the station knows: its kind, the fields it carries, which is its code.

    Fields are GS1 application identifiers ("01", "21") or ISO/IEC 15434 data identifiers ("1T").
    A label fits a scan when every required field is there and every other field is optional
    ("*" in `optional` allows any).
    """

    kind: str
    key: str
    format: str = "gs1"  # or "iso15434"
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    def allows(self, name: str) -> bool:
        """True when the label may carry this field."""
        return name == self.key or name in self.required or name in self.optional \
            or "*" in self.optional

    def fits(self, names) -> bool:
        """True when a scan with these fields is this label."""
        names = set(names)
        return self.key in names and set(self.required) <= names and all(map(self.allows, names))


DEFAULT_LABELS = (
    Label("board", "21", "gs1", ("01", "21"), ("10", "11", "17")),  # a serialised unit
    Label("pcb_lot", "10", "gs1", ("01", "10"), ("11", "17", "30", "37")),  # the PCB maker's lot
    Label("pcb_lot", "1T", "iso15434", ("1T",), ("*",)),  # an ECIA EIGP-114 lot label
)


@dataclass(frozen=True)
class LabelRules:
    """How the station reads labels: kinds of plain codes, structured labels, GS stand-ins."""

    kinds: tuple[tuple[str, re.Pattern], ...] = tuple(
        (k, re.compile(v, re.ASCII)) for k, v in DEFAULT_KINDS.items())
    labels: tuple[Label, ...] = DEFAULT_LABELS
    gs: tuple[str, ...] = ("{GS}",)  # printable stand-ins a scanner may send for GS, RS, EOT
    rs: tuple[str, ...] = ("{RS}",)
    eot: tuple[str, ...] = ("{EOT}",)
    max_length: int = 64
    allowed: re.Pattern = DEFAULT_ALLOWED
    today: date | None = None  # for expiry and date-code checks; None: the local date

    @classmethod
    def from_settings(cls, scanning) -> "LabelRules":
        """The rules of config/station.toml's [scanning] section (station.config.Scanning)."""
        seps = scanning.separators
        labels = tuple(Label(lb.kind, lb.key, lb.format, lb.required or (lb.key,), lb.optional)
                       for lb in scanning.labels) or DEFAULT_LABELS
        return cls(kinds=tuple((k, re.compile(v, re.ASCII)) for k, v in scanning.kinds.items()),
                   labels=labels, gs=seps.gs, rs=seps.rs, eot=seps.eot,
                   max_length=scanning.max_length, allowed=re.compile(scanning.allowed))

    def kind_of(self, code: str) -> str | None:
        """The kind whose pattern the whole code matches first, or None."""
        return next((k for k, p in self.kinds if p.fullmatch(code)), None)


_PLAIN_RULES = LabelRules()


@dataclass(frozen=True)
class Scan:
    """What one scan said: its symbology, data, kind, the code to act on, and what is wrong."""

    raw: str
    symbology: str | None = None  # the AIM identifier, e.g. "]C1"
    payload: str = ""  # the data after it, with real GS/RS/EOT for their stand-ins
    kind: str | None = None  # board, panel, order, badge, stencil, profile_board, pcb_lot
    fields: dict = field(default_factory=dict)  # GS1 AIs or ISO/IEC 15434 DIs and their data
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()  # the scan must not be acted on
    hints: tuple[str, ...] = ()  # what probably went wrong (Caps Lock, keyboard layout)
    code: str | None = None  # the identifier the station acts on
    format: str = "plain"  # plain, gs1, gtin, iso15434

    @property
    def ok(self) -> bool:
        """True when the scan may be acted on."""
        return not self.errors

    @property
    def symbology_name(self) -> str:
        """The symbology in words ("GS1-128"), or "" when the scanner did not say."""
        return SYMBOLOGIES.get(self.symbology or "", "")

    def reason(self) -> str:
        """The errors and hints as one sentence for the operator."""
        return "; ".join((*self.errors, *self.hints))


def understand(raw, rules: LabelRules | None = None) -> Scan:
    """Read one scan: AIM identifier, GS1 / ISO 15434 / plain data, its kind and its problems."""
    rules = rules or LabelRules()
    if not isinstance(raw, str):
        return Scan(raw=repr(raw)[:RAW_LIMIT], errors=("the code must be text",))
    if len(raw) > RAW_LIMIT:
        return Scan(raw=raw[:RAW_LIMIT], errors=(
            f"it is {len(raw)} characters long; a label has at most {rules.max_length}",))
    text = _real_separators(raw.strip(" \t\r\n"), rules)
    symbology, text, warnings, errors = _symbology(text)
    base = {"raw": raw, "symbology": symbology, "payload": text}
    if errors:
        return Scan(**base, warnings=tuple(warnings), errors=tuple(errors))
    if text.startswith(ISO15434_HEADER):
        found = _iso15434(text, rules)
    elif symbology in GS1_SYMBOLOGIES or (symbology is None and GS in text):
        found = _gs1(text, rules)
    elif symbology is None and HRI.match(text):
        found = _hri(text, rules)
    elif symbology in GTIN_SYMBOLOGIES and text.isdigit() and (symbology != "]I1"
                                                                or len(text) == 14):
        found = _gtin(text)
    else:
        found = _plain(text, rules)
    warnings += found.pop("warnings", [])
    return Scan(**base, **found, warnings=tuple(warnings))


def hints(code: str, rules: LabelRules | None = None) -> list[str]:
    """What probably mangled a code that is no known kind: Caps Lock, the keyboard layout."""
    rules = rules or LabelRules()
    out = []
    if rules.kind_of(code):
        return out
    if "\ufffd" in code:
        out.append(NOT_TEXT_HINT)
    if code.swapcase() != code and (rules.kind_of(code.swapcase())
                                    or rules.kind_of(code.swapcase().translate(LAYOUT_FIX))):
        out.append(CAPS_HINT)
    if "'" in code or "ß" in code:
        out.append(DASH_HINT)
    swapped = code.translate(YZ_SWAP)
    if swapped != code and (rules.kind_of(swapped) or rules.kind_of(swapped.translate(LAYOUT_FIX))):
        out.append(YZ_HINT)
    return out


def repairs(code: str) -> list[tuple[str, str]]:
    """What the code may have been before Caps Lock or a layout changed it, each with its hint."""
    fixed = code.translate(LAYOUT_FIX)
    out = [(CAPS_HINT, code.swapcase()), (DASH_HINT, fixed), (YZ_HINT, code.translate(YZ_SWAP)),
           (YZ_HINT, fixed.translate(YZ_SWAP)), (CAPS_HINT, fixed.swapcase())]
    seen, unique = {code}, []
    for hint, candidate in out:
        if candidate not in seen:
            seen.add(candidate)
            unique.append((hint, candidate))
    return unique


# --- the parts of understand() --------------------------------------------------------------


def _real_separators(text: str, rules: LabelRules) -> str:
    """Turn the configured printable stand-ins back into GS, RS and EOT."""
    for standins, char in ((rules.gs, GS), (rules.rs, RS), (rules.eot, EOT)):
        for s in standins:
            if s:
                text = text.replace(s, char)
    return text


def _symbology(text: str) -> tuple[str | None, str, list[str], list[str]]:
    """The AIM identifier and the data after it, with warnings and errors about it."""
    m = AIM_PREFIX.match(text)
    if m:
        sid = m.group()
        if sid in SYMBOLOGIES:
            return sid, text[3:], [], []
        caps = " (" + CAPS_HINT + ")" if sid.swapcase() in SYMBOLOGIES else ""
        return sid, text[3:], [f"the symbology identifier {sid} is not one the station knows; "
                               f"its data is read as it is{caps}"], []
    m = MANGLED_AIM.match(text)
    if m and f"]{m.group(2)}" in SYMBOLOGIES:
        return None, text, [], [
            f"it starts with {m.group()!r}, the symbology identifier ]{m.group(2)} with its ']' "
            f"changed by the keyboard layout: set the scanner's keyboard country to the PC's"]
    return None, text, [], []


def _plain(text: str, rules: LabelRules) -> dict:
    """A plain code: checked against the allowlist, then given its kind by pattern."""
    try:
        code = check_plain(text, rules.max_length, rules.allowed)
    except BadCode as err:
        return {"errors": (str(err),), "hints": tuple(hints(text, rules))}
    kind = rules.kind_of(code)
    found = {"kind": kind, "code": code, "hints": () if kind else tuple(hints(code, rules))}
    if kind is None and _looks_gs1(code, rules):
        found["warnings"] = ["it reads as GS1 data, but the scanner sent no symbology "
                             "identifier: enable AIM identifiers on the scanner"]
    return found


def _looks_gs1(code: str, rules: LabelRules) -> bool:
    """True when a plain code parses whole as GS1 data of a known label."""
    if not code[:2].isdigit():
        return False
    elements, errors = _gs1_elements(code)
    return not errors and not _gs1_checks(elements, rules)[0] and \
        _fit({e.ai.ai for e in elements}, rules.labels, "gs1") is not None


def _gtin(text: str) -> dict:
    """EAN/UPC/ITF-14 data: a GTIN whose check digit must be right."""
    try:
        Gtin.parse(text)
    except ParseError as err:
        return {"format": "gtin", "errors": (f"GTIN {text}: {_short(err)}",)}
    return {"format": "gtin", "code": text, "fields": {"01": text.zfill(14)}}


# --- GS1 -------------------------------------------------------------------------------------


def _gs1(text: str, rules: LabelRules) -> dict:
    """GS1 element strings: parsed by biip, then checked the way biip does not."""
    elements, errors = _gs1_elements(text.strip(GS))
    if not elements and not errors:
        errors = ["it is empty"]
    return _gs1_result(elements, errors, rules)


def _hri(text: str, rules: LabelRules) -> dict:
    """GS1 data typed or scanned as its human-readable form: "(01)...(21)..."."""
    try:
        elements = list(GS1Message.parse_hri(text).element_strings)
    except ParseError as err:
        return {"format": "gs1", "errors": (f"the GS1 text {text[:64]!r} does not read: "
                                            f"{_short(err)}",)}
    return _gs1_result(elements, [], rules)


def _gs1_result(elements: list, errors: list[str], rules: LabelRules) -> dict:
    """Fields, kind and code of parsed GS1 element strings, with every problem named."""
    fields, warnings = {}, []
    for es in elements:
        if es.ai.ai in fields:
            errors.append(f"({es.ai.ai}) appears twice")
        fields.setdefault(es.ai.ai, es.value)
    found = {"format": "gs1", "fields": fields, "warnings": warnings}
    if errors:
        return {**found, "errors": tuple(errors)}
    bad, warned = _gs1_checks(elements, rules)
    errors += bad
    warnings += warned
    label = _fit(fields, rules.labels, "gs1")
    suspect = _absorbed(elements, rules.labels)
    if suspect is not None:
        es, head, tail = suspect
        note = (f"a GS separator seems to be missing after ({es.ai.ai}) {head}: its data "
                f"{es.value} ends with {''.join(t.as_hri() for t in tail)} (a keyboard wedge "
                f"drops GS: set the scanner to send {rules.gs[0] if rules.gs else '{GS}'} for "
                f"it, or use the serial scanner)")
        resplit = {**{k: v for k, v in fields.items() if k != es.ai.ai}, es.ai.ai: head,
                   **{t.ai.ai: t.value for t in tail}}
        better = _fit(resplit, rules.labels, "gs1")
        decisive = better is not None and any(t.ai.ai in better.required for t in tail)
        (errors if label is None or decisive else warnings).append(note)
    if label is None:
        errors.append(f"the GS1 label {''.join(e.as_hri() for e in elements)} is none of the "
                      f"station's label types ({_describe(rules.labels, 'gs1')})")
    if errors:
        return {**found, "errors": tuple(errors)}
    return _labelled(found, fields, label, rules)


def _labelled(found: dict, fields: dict, label, rules) -> dict:
    """The scan of a recognised GS1 or ISO 15434 label: its key field, checked as a plain code."""
    code = fields[label.key]
    try:
        check_plain(code, rules.max_length, rules.allowed)
    except BadCode as err:
        return {**found, "errors": (f"({label.key}) {err}",)}
    return {**found, "kind": label.kind, "code": code}


def _gs1_elements(data: str) -> tuple[list, list[str]]:
    """The element strings of GS1 data, up to the first that does not read, and why not."""
    config = ParseConfig(separator_chars=[GS])
    rest, out = data, []
    while rest:
        try:
            es = GS1ElementString.extract(rest, config=config)
        except ParseError as err:
            return out, [_why(rest, out, err)]
        out.append(es)
        rest = rest[len(es):]
        if rest.startswith(GS):
            rest = rest.lstrip(GS)
        elif rest and es.ai.separator_required:
            most = re.search(r"\.\.(\d+)$", es.ai.format)
            if most and len(es.value) >= int(most.group(1)):
                return out, [f"({es.ai.ai}) is longer than its {most.group(1)} characters "
                             f"(or a GS separator is missing after {es.value})"]
            return out, [f"({es.ai.ai}) {es.value}: the character {rest[0]!r} after it is not "
                         f"allowed in GS1 data"]
    return out, []


def _why(rest: str, before: list, err: ParseError) -> str:
    """Why the GS1 data at `rest` does not read, in the floor's words."""
    after = f" after ({before[-1].ai.ai}) {before[-1].value}" if before else ""
    try:
        ai = GS1ApplicationIdentifier.extract(rest)
    except ParseError:
        return f"{rest[:4]!r}{after} does not start with a known GS1 application identifier"
    data = rest[len(ai.ai):].split(GS, 1)[0]
    if ai.ai in DATE_AIS:
        return f"({ai.ai}) {data[:6]} is not a valid date (YYMMDD)"
    if re.match(ai.pattern.removesuffix("$"), rest.split(GS, 1)[0]):
        return f"({ai.ai}) {data}: {_short(err)}"
    return f"({ai.ai}) {data[:40]!r} does not fit its format {ai.format}"


def _gs1_checks(elements: list, rules: LabelRules) -> tuple[list[str], list[str]]:
    """Check digits (errors) and dates past or to come (warnings)."""
    today = rules.today or date.today()
    errors, warnings = [], []
    for es in elements:
        ai = es.ai.ai
        for problem in (es.gtin_error, es.sscc_error, es.gln_error):
            if problem:
                errors.append(f"({ai}) {es.value}: {_short(problem)}")
        if es.date is None:
            continue
        if ai in EXPIRY_AIS and es.date < today:
            warnings.append(f"({ai}) its {EXPIRY_AIS[ai]} date {es.date.isoformat()} has passed")
        if ai in MADE_AIS and es.date > today:
            warnings.append(f"({ai}) its {MADE_AIS[ai]} date {es.date.isoformat()} is in the "
                            f"future")
    return errors, warnings


def _absorbed(elements: list, labels: tuple[Label, ...]):
    """A variable-length element whose data ends with other elements: its GS went missing."""
    # biip reads 10LOT99 + 21SN1 without the GS between them as one (10) LOT9921SN1. So the data
    # of each variable-length element is tried at every split: a tail that reads whole as GS1
    # elements the label types expect beside it, none of them present already, is named.
    present = {es.ai.ai for es in elements}
    for es in elements:
        if not es.ai.separator_required:
            continue
        beside = [lb for lb in labels if lb.format == "gs1" and lb.allows(es.ai.ai)]
        for i in range(1, len(es.value) - 1):
            tail, errors = _gs1_elements(es.value[i:])
            if errors or not tail or any(not t.value for t in tail):
                continue
            names = {t.ai.ai for t in tail}
            if names & present or not all(_expected(n, beside, labels) for n in names):
                continue
            if _gs1_checks(tail, _PLAIN_RULES)[0]:
                continue
            return es, es.value[:i], tail
    return None


def _expected(name: str, beside: list[Label], labels: tuple[Label, ...]) -> bool:
    """True when a label type beside the element expects this AI."""
    # A label that takes any field ("*"), or no label types at all, makes any AI expected but
    # the company-internal 90-99, whose free text would fit almost any tail.
    if any(name == lb.key or name in lb.required or name in lb.optional for lb in beside):
        return True
    return (not labels or any("*" in lb.optional for lb in beside)) and \
        not ("90" <= name[:2] <= "99")


# --- ISO/IEC 15434 ---------------------------------------------------------------------------


def _iso15434(text: str, rules: LabelRules) -> dict:
    """An ISO/IEC 15434 envelope: "[)>" RS, then formats "06" GS field GS ... RS, then EOT."""
    found = {"format": "iso15434"}
    if not text.startswith(ISO15434_HEADER + RS):
        return {**found, "errors": (
            "it is an ISO/IEC 15434 label whose RS, GS and EOT separators were lost (a keyboard "
            "wedge drops them): set the scanner to send them as {RS}, {GS} and {EOT}, or use "
            "the serial scanner",)}
    body = text[len(ISO15434_HEADER) + 1:]
    if not body.endswith(EOT):
        return {**found, "errors": ("the ISO/IEC 15434 label does not end with EOT: it was cut "
                                    "short or its end was lost",)}
    fields, errors, warnings = {}, [], []
    for segment in filter(None, body[:-1].split(RS)):
        fmt, sep, data = segment[:2], segment[2:3], segment[3:]
        if not fmt.isdigit() or sep != GS:
            errors.append(f"format header {segment[:3]!r} is not two digits and GS")
        elif fmt == "06":
            _iso_fields(data, fields, errors, warnings)
        elif fmt == "05":
            elements, bad = _gs1_elements(data.strip(GS))
            errors += bad
            fields.update((es.ai.ai, es.value) for es in elements)
        else:
            warnings.append(f"format {fmt} of the ISO/IEC 15434 label is not read")
    if not errors:
        errors += _date_codes(fields, rules.today or date.today(), warnings)
    label = None if errors else _fit(fields, rules.labels, "iso15434")
    if label is None and not errors:
        errors.append(f"the ISO/IEC 15434 label ({', '.join(fields) or 'no fields'}) is none of "
                      f"the station's label types ({_describe(rules.labels, 'iso15434')})")
    found.update(fields=fields, warnings=warnings)
    if errors:
        return {**found, "errors": tuple(errors)}
    return _labelled(found, fields, label, rules)


def _iso_fields(data: str, fields: dict, errors: list, warnings: list) -> None:
    """The data identifiers and data of one format-06 segment, GS between them."""
    for element in filter(None, data.split(GS)):
        m = DI.match(element)
        if not m:
            errors.append(f"{element[:20]!r} does not start with a data identifier")
            continue
        di, value = m.groups()
        if di in fields:
            warnings.append(f"({di}) appears twice; the first is used")
            continue
        fields[di] = value
    quantity = fields.get("Q")
    if quantity is not None and not quantity.isdigit():
        errors.append(f"(Q) quantity {quantity!r} is not a whole number")


def _date_codes(fields: dict, today: date, warnings: list) -> list[str]:
    """Check YYWW date codes (9D, 10D): a real week, not in the future."""
    errors = []
    for di in YYWW_DIS & fields.keys():
        value = fields[di]
        if not (len(value) == 4 and value.isdigit() and 1 <= int(value[2:]) <= 53):
            errors.append(f"({di}) date code {value!r} is not a year and week (YYWW)")
            continue
        year, week = 2000 + int(value[:2]), int(value[2:])
        try:
            start = date.fromisocalendar(year, week, 1)
        except ValueError:
            errors.append(f"({di}) date code {value}: {year} has no week {week}")
            continue
        if start > today:
            warnings.append(f"({di}) date code {value} is in the future")
    return errors


# --- shared ----------------------------------------------------------------------------------


def _fit(names, labels: tuple[Label, ...], fmt: str) -> Label | None:
    """The first label type of this format that the fields fit."""
    return next((lb for lb in labels if lb.format == fmt and lb.fits(names)), None)


def _describe(labels: tuple[Label, ...], fmt: str) -> str:
    """The label types of a format, as "board (01)(21), pcb_lot (01)(10)"."""
    kinds = [f"{lb.kind} " + "".join(f"({n})" for n in (lb.required or (lb.key,)))
             for lb in labels if lb.format == fmt]
    return ", ".join(kinds) or "none configured"


def _short(err) -> str:
    """A biip message without its repetition of the data."""
    text = str(err)
    m = re.search(r"check digit.*?: (Expected \d+, got \d+)", text)
    if m:
        return f"wrong check digit ({m.group(1).lower()})"
    return text.rstrip(".")
