"""The Chinese catalogue holds every message the code and templates use, each translated."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from station.errors import N_, Text, say

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "station/translations/zh_Hans_CN/LC_MESSAGES/messages.po"


def used_messages() -> set[str]:
    """The message ids babel's extractor finds under station/ and templates/, as babel.cfg says."""
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)
    found = set()
    # babel.cfg's patterns are relative to the project root (tests and bench match none).
    for filename, _, message, *_ in extract_from_dir(ROOT, method_map, options_map):
        if filename.startswith(("station/", "templates/")):
            found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_in_use_is_translated_into_chinese():
    with CATALOGUE.open("rb") as f:
        catalogue = read_po(f, locale="zh_Hans_CN")
    used = used_messages()
    assert len(used) > 300  # the extractor did find the code's and the templates' texts
    missing = sorted(m for m in used if m not in catalogue or not catalogue[m].string
                     or catalogue[m].fuzzy)
    assert missing == []


def test_a_text_is_english_until_said_in_another_language():
    items = [Text(N_("No stencil is mounted for this order.")),
             Text(N_("{have} of {need} blank PCBs allocated."), have=0, need=10)]
    text = Text(N_("Not ready: {items}"), items=items)
    assert text == "Not ready: No stencil is mounted for this order. 0 of 10 blank PCBs allocated."
    chinese = {"Not ready: {items}": "未就绪：{items}", "{sentence} {next}": "{sentence}{next}",
               "No stencil is mounted for this order.": "此工单尚未装上钢网。",
               "{have} of {need} blank PCBs allocated.": "已分配光板{have}/{need}块。"}
    said = say(text, lambda s: chinese.get(s, s))
    assert said == "未就绪：此工单尚未装上钢网。已分配光板0/10块。"
    assert say(7, str.upper) == 7


def test_the_catalogue_passes_babels_checks_as_pybabel_compile_does():
    with CATALOGUE.open("rb") as f:
        catalogue = read_po(f, locale="zh_Hans_CN")
    # e.g. "placeholders are incompatible": a "% of" in a message reads as a %-placeholder
    assert [(m.id, [str(e) for e in errors]) for m, errors in catalogue.check()] == []
