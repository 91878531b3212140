"""Label symbols without Flask: Code 128 and DataMatrix read back, SSCC, ZPL injection."""

import re

import pytest

from station.shipping import labels, symbols, zpl
from station.shipping.symbols import NotEncodable, TooLongForLabel

# --- A Code 128 reader, independent of the encoder: the standard's table of bar/space widths --

TABLE = """
212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 112232
122132 122231 113222 123122 123221 223211 221132 221231 213212 223112 312131 311222 321122
321221 312212 322112 322211 212123 212321 232121 111323 131123 131321 112313 132113 132311
211313 231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 231131 213113
213311 213131 311123 311321 331121 312113 312311 332111 314111 221411 431111 111224 111422
121124 121421 141122 141221 112214 112412 122114 122411 142112 142211 241211 221114 413111
241112 134111 111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 214121
412121 111143 111341 131141 114113 114311 411113 411311 113141 114131 311141 411131 211412
211214 211232"""
WIDTHS = TABLE.split()  # value 0 to 105; the stop pattern is below
VALUE_OF = {w: v for v, w in enumerate(WIDTHS)}
STOP = "2331112"


def svg_modules(svg: str) -> str:
    """The row of modules an SVG of bars shows: '1' where a black rect covers the module."""
    total = int(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))
    bars = re.search(r'<g fill="#000">(.*)</g>', svg).group(1)
    row = ["0"] * total
    for x, w in re.findall(r'<rect x="(\d+)" y="0" width="(\d+)"', bars):
        for i in range(int(x), int(x) + int(w)):
            assert row[i] == "0", "overlapping bars"
            row[i] = "1"
    return "".join(row)


def read_code128(svg: str) -> tuple[str, bool]:
    """Scan the bars like a reader: (data with GS for inner FNC1s, GS1-128 or not)."""
    modules = svg_modules(svg)
    first, last = modules.index("1"), modules.rindex("1")
    assert first >= 10 and len(modules) - 1 - last >= 10, "quiet zones under 10 modules"
    runs = [len(m.group()) for m in re.finditer(r"1+|0+", modules[first:last + 1])]
    assert "".join(map(str, runs[-7:])) == STOP, "no stop pattern"
    values = []
    for i in range(0, len(runs) - 7, 6):
        widths = "".join(map(str, runs[i:i + 6]))
        assert widths in VALUE_OF, f"not a Code 128 character: {widths}"
        values.append(VALUE_OF[widths])
    *values, check = values
    assert check == (values[0] + sum(i * v for i, v in enumerate(values[1:], 1))) % 103, \
        "bad check value"
    assert values[0] in (103, 104, 105), "no start code"
    charset, text, gs1 = {103: "A", 104: "B", 105: "C"}[values[0]], "", False
    for i, v in enumerate(values[1:], 1):
        if v == 102:
            if i == 1:
                gs1 = True
            else:
                text += "\x1d"
        elif charset == "C" and v < 100:
            text += f"{v:02d}"
        elif v in (99, 100, 101):
            charset = {99: "C", 100: "B", 101: "A"}[v]
        elif charset == "B":
            text += chr(v + 32)
        else:
            text += chr(v + 32) if v < 64 else chr(v - 64)
    return text, gs1


def code128_svg(data: str) -> str:
    return symbols.bars_svg(symbols.code128(data), 200, 10).markup


@pytest.mark.parametrize("data", [
    "9912345678", "99", "99A", "99-0001", "990", "9", "WO-1-00001", "A99", "12345",
    "ABC-99-99", "00", "0099", "x_y.z/1-2", "A 1", "HELLO world ~!", "a>b^c",
])
def test_code128_bars_decode_to_the_data(data):
    assert read_code128(code128_svg(data)) == (data, False)


def test_a_serial_starting_99_keeps_its_99_in_the_bars():
    # python-barcode 0.16.1 encodes "9912345678" as "12345678": the guard keeps the pair.
    from barcode.codex import Code128

    unguarded = symbols.Bars("9912345678", tuple(Code128("9912345678")._build()))
    assert read_code128(symbols.bars_svg(unguarded, 100, 10).markup)[0] == "12345678"  # the bug
    bars = symbols.code128("9912345678")
    assert bars.values[:2] == (105, 99)
    assert read_code128(symbols.bars_svg(bars, 100, 10).markup) == ("9912345678", False)


def test_every_serial_up_to_four_characters_of_digits_and_letters_decodes():
    alphabet = "09A-"
    serials = [a + b + c for a in alphabet for b in alphabet for c in alphabet]
    serials += ["99" + s for s in serials]
    for serial in serials:
        assert read_code128(code128_svg(serial))[0] == serial


def test_gs1_128_has_fnc1_first_and_between_variable_fields():
    sscc = symbols.gs1_128([("00", "106141411234567897")])
    assert read_code128(symbols.bars_svg(sscc, 200, 10).markup) == ("00106141411234567897", True)
    assert sscc.hri == "(00)106141411234567897"
    two = symbols.gs1_128([("10", "LOT99"), ("21", "9912"), ("00", "106141411234567897")])
    text, gs1 = read_code128(symbols.bars_svg(two, 200, 10).markup)
    assert gs1 and text == "10LOT99\x1d219912\x1d00106141411234567897"
    last = symbols.gs1_128([("00", "106141411234567897"), ("10", "A1")])
    assert read_code128(symbols.bars_svg(last, 200, 10).markup) == \
        ("00106141411234567897" + "10A1", True)  # fixed field first: no separator needed


def test_gs1_128_refuses_wrong_lengths_and_unknown_ais():
    with pytest.raises(NotEncodable, match="18 digits"):
        symbols.gs1_128([("00", "12345")])
    with pytest.raises(NotEncodable, match="unknown AI"):
        symbols.gs1_128([("99", "x")])
    with pytest.raises(NotEncodable, match="82 characters"):
        symbols.gs1_128([("10", "LOT#1")])


@pytest.mark.parametrize("data,reason", [
    ("Grüße", "U+00FC (not ASCII)"), ("板001", "U+677F (not ASCII)"),
    ("A\x1dB", "U+001D (a control character)"), ("", "empty"), ("TAB\there", "U+0009"),
])
def test_code128_refuses_what_it_cannot_encode_with_a_clear_reason(data, reason):
    with pytest.raises(NotEncodable) as err:
        symbols.code128(data, "the serial")
    assert reason in str(err.value) and "the serial cannot be printed as Code 128" in str(err.value)
    assert err.value.code == "NOT_ENCODABLE" and err.value.status == 400


def test_data_too_long_for_the_label_width_is_refused():
    bars = symbols.code128("ACME-PCB-2024-000123-XYZ-LONG")
    with pytest.raises(TooLongForLabel) as err:
        symbols.bars_svg(bars, 46, 12)
    assert "46 mm" in str(err.value) and "DataMatrix" in err.value.advice()
    assert err.value.code == "TOO_LONG_FOR_LABEL"
    # a moderately long serial fits by narrowing the module, never below 0.19 mm
    svg = symbols.bars_svg(symbols.code128("ACME-PCB-24-00012"), 46, 12)
    assert svg.width_mm <= 46
    assert 46 / (symbols.code128("ACME-PCB-24-00012").width + 20) >= 0.19


def test_bars_are_sized_in_millimetres():
    svg = symbols.bars_svg(symbols.code128("WO-1-00001"), 46, 12)
    assert 'height="12mm"' in svg.markup and 'width="41.25mm"' in svg.markup  # 165 x 0.25 mm
    assert 'shape-rendering="crispEdges"' in svg.markup


# --- DataMatrix: read the modules back (ISO/IEC 16022 placement, Reed-Solomon, ASCII) --------

DM_SQUARE = {10: (3, 5), 12: (5, 7), 14: (8, 10), 16: (12, 12), 18: (18, 14), 20: (22, 18),
             22: (30, 20), 24: (36, 24), 26: (44, 28), 32: (62, 36), 36: (86, 42)}


def dm_placement(nrow: int, ncol: int) -> list[list]:
    """Which (codeword, bit) each module of the mapping matrix holds (16022 Annex F)."""
    grid = [[None] * ncol for _ in range(nrow)]

    def module(row, col, cw, bit):
        if row < 0:
            row, col = row + nrow, col + 4 - ((nrow + 4) % 8)
        if col < 0:
            col, row = col + ncol, row + 4 - ((ncol + 4) % 8)
        grid[row][col] = (cw, bit)

    def utah(row, col, cw):
        for bit, (r, c) in enumerate([(-2, -2), (-2, -1), (-1, -2), (-1, -1), (-1, 0), (0, -2),
                                      (0, -1), (0, 0)], 1):
            module(row + r, col + c, cw, bit)

    def corner(cw, cells):
        for bit, (r, c) in enumerate(cells, 1):
            module(r, c, cw, bit)

    n, m = nrow, ncol
    cw, row, col = 0, 4, 0
    while True:
        if row == n and col == 0:
            corner(cw, [(n - 1, 0), (n - 1, 1), (n - 1, 2), (0, m - 2), (0, m - 1), (1, m - 1),
                        (2, m - 1), (3, m - 1)])
            cw += 1
        if row == n - 2 and col == 0 and m % 4:
            corner(cw, [(n - 3, 0), (n - 2, 0), (n - 1, 0), (0, m - 4), (0, m - 3), (0, m - 2),
                        (0, m - 1), (1, m - 1)])
            cw += 1
        if row == n - 2 and col == 0 and m % 8 == 4:
            corner(cw, [(n - 3, 0), (n - 2, 0), (n - 1, 0), (0, m - 2), (0, m - 1), (1, m - 1),
                        (2, m - 1), (3, m - 1)])
            cw += 1
        if row == n + 4 and col == 2 and m % 8 == 0:
            corner(cw, [(n - 1, 0), (n - 1, m - 1), (0, m - 3), (0, m - 2), (0, m - 1),
                        (1, m - 3), (1, m - 2), (1, m - 1)])
            cw += 1
        while True:
            if 0 <= row < n and 0 <= col < m and grid[row][col] is None:
                utah(row, col, cw)
                cw += 1
            row, col = row - 2, col + 2
            if not (row >= 0 and col < m):
                break
        row, col = row + 1, col + 3
        while True:
            if 0 <= row < n and 0 <= col < m and grid[row][col] is None:
                utah(row, col, cw)
                cw += 1
            row, col = row + 2, col - 2
            if not (row < n and col >= 0):
                break
        row, col = row + 3, col + 1
        if not (row < n or col < m):
            break
    return grid


def rs_ecc(data: list[int], k: int) -> list[int]:
    """Reed-Solomon check codewords over GF(256) with 0x12D, generator roots a^1..a^k."""
    exp, log, x = [0] * 512, [0] * 256, 1
    for i in range(255):
        exp[i], log[x] = x, i
        x <<= 1
        if x & 0x100:
            x ^= 0x12D
    for i in range(255, 512):
        exp[i] = exp[i - 255]

    def mul(a, b):
        return 0 if a == 0 or b == 0 else exp[log[a] + log[b]]

    gen = [1]
    for i in range(1, k + 1):
        gen = [a ^ mul(b, exp[i]) for a, b in zip(gen + [0], [0] + gen, strict=True)]
    rem = [0] * k
    for d in data:
        f = d ^ rem[0]
        rem = rem[1:] + [0]
        rem = [r ^ mul(g, f) for r, g in zip(rem, gen[1:], strict=True)]
    return rem


def read_datamatrix(rows) -> str:
    """Finder pattern, modules to codewords, Reed-Solomon check, ASCII encodation."""
    size = len(rows)
    assert all(len(r) == size for r in rows) and size in DM_SQUARE
    regions = 1 if size <= 26 else 2
    d = size // regions - 2
    for r0 in range(0, size, d + 2):  # each region's L finder and clock track
        for i in range(d + 2):
            assert rows[r0 + d + 1][i] == 1 and rows[r0 + i][0] == 1
            assert rows[r0][i] == (1 - i % 2)
    mapping = [[rows[(r // d) * (d + 2) + 1 + r % d][(c // d) * (d + 2) + 1 + c % d]
                for c in range(d * regions)] for r in range(d * regions)]
    n = d * regions
    n_data, n_ecc = DM_SQUARE[size]
    codewords = [0] * (n_data + n_ecc)
    for r, line in enumerate(dm_placement(n, n)):
        for c, slot in enumerate(line):
            if slot is not None and slot[0] < len(codewords):
                codewords[slot[0]] |= mapping[r][c] << (8 - slot[1])
    data, ecc = codewords[:n_data], codewords[n_data:]
    assert rs_ecc(data, n_ecc) == ecc, "Reed-Solomon check codewords are wrong"
    text = ""
    for cw in data:
        if cw == 129:
            break
        assert 1 <= cw <= 229, f"codeword {cw} is not ASCII encodation"
        text += f"{cw - 130:02d}" if cw >= 130 else chr(cw - 1)
    return text


@pytest.mark.parametrize("data,size", [
    ("123", 10), ("WO1", 10), ("9912", 10), ("WO-1", 12), ("WO-1-00001", 14),
    ("ACME-PCB-2024-000123", 18), ("99" * 30, 22), ("X" * 64, 36),
])
def test_datamatrix_reads_back_in_the_expected_size(data, size):
    matrix = symbols.datamatrix(data)
    assert matrix.size == (size, size)
    assert read_datamatrix(matrix.rows) == data


def test_datamatrix_svg_is_sized_in_mm_and_refuses_what_it_cannot_hold():
    svg = symbols.matrix_svg(symbols.datamatrix("WO-1-00001"), 8.0)
    assert 'width="8mm"' in svg.markup and svg.markup.count("<rect") > 30
    with pytest.raises(TooLongForLabel):
        symbols.matrix_svg(symbols.datamatrix("X" * 64), 5.0)  # 38 modules over 0.25 mm
    with pytest.raises(NotEncodable, match="over 64"):
        symbols.datamatrix("X" * 65)
    with pytest.raises(NotEncodable, match="not ASCII"):
        symbols.datamatrix("板-001")


# --- SSCC -------------------------------------------------------------------------------------

@pytest.mark.parametrize("body,check", [
    ("37610425002123456", 9),   # GS1 General Specifications' SSCC example
    ("10614141123456789", 7),   # GS1 US example (00) 1 0614141 123456789 7
    ("400638133393", 1),        # EAN-13 4006381333931
    ("03600029145", 2),         # UPC-A 036000291452
    ("0000000000000000", 0),
])
def test_gs1_check_digit(body, check):
    assert labels.check_digit(body) == check


def test_sscc_is_extension_prefix_reference_and_check_digit(tmp_path):
    rule = labels.SsccRule(3, "0614141")
    assert labels.sscc(rule, 42) == "306141410000000426"  # 3+6+4+...: 64 -> 6
    assert labels.sscc(labels.SsccRule(0, "0614141"), 1) == "006141410000000012"
    code = labels.sscc(labels.SsccRule(9, "123456789012"), 9999)
    assert len(code) == 18 and code.startswith("91234567890129999")
    with pytest.raises(labels.InvalidInput, match="used up"):
        labels.sscc(labels.SsccRule(9, "123456789012"), 10000)
    with pytest.raises(labels.InvalidInput, match="6 to 12 digits"):
        labels.sscc(labels.SsccRule(0, ""), 1)
    with pytest.raises(labels.InvalidInput, match="one digit"):
        labels.sscc(labels.SsccRule(10, "0614141"), 1)


# --- ZPL --------------------------------------------------------------------------------------

def unhex(text: str) -> str:
    return re.sub(r"(?:_[0-9A-F]{2})+", lambda m: bytes.fromhex(m.group().replace("_", ""))
                  .decode("utf-8"), text)


def test_zpl_text_cannot_carry_commands():
    evil = "ACME ^XZ^XA^FO0,0^FDpwned^FS ~JA ~HS_x"
    escaped = zpl.zpl_text(evil)
    assert "^" not in escaped and "~" not in escaped
    assert unhex(escaped) == evil
    assert zpl.zpl_text("深圳") == "_E6_B7_B1_E5_9C_B3"


def read_zpl_code128(field: str) -> tuple[str, bool]:
    """What a printer makes of ^BC mode N field data: invocation codes, subsets, ^FH hex."""
    field = unhex(field)
    starts = {">9": "A", ">:": "B", ">;": "C"}
    charset, i, text, gs1, first = starts[field[:2]], 2, "", False, True
    while i < len(field):
        if field[i] == ">":
            code = field[i:i + 2]
            i += 2
            if code == ">8":
                gs1, text = (True, text) if first else (gs1, text + "\x1d")
            elif code in (">5", ">6", ">7"):
                charset = {">5": "C", ">6": "B", ">7": "A"}[code]
            else:
                text += {"><": ">", ">=": "~"}[code]
        elif charset == "C":
            assert field[i:i + 2].isdigit()
            text += field[i:i + 2]
            i += 2
        else:
            text += field[i]
            i += 1
        first = False
    return text, gs1


@pytest.mark.parametrize("serial", ["9912345678", "99A", "WO-1-00001", "12345", "a>b~c^d_e"])
def test_zpl_code128_is_the_same_symbol(serial):
    bars = symbols.code128(serial)
    data = zpl.zpl_code128_data(bars)
    assert "^" not in data and "~" not in data
    assert read_zpl_code128(data) == (serial, False)


def test_zpl_gs1_128_starts_in_c_with_fnc1():
    bars = symbols.gs1_128([("00", "106141411234567897")])
    assert zpl.zpl_code128_data(bars) == ">;>800106141411234567897"
    two = symbols.gs1_128([("10", "LOT99"), ("21", "12")])
    assert read_zpl_code128(zpl.zpl_code128_data(two)) == ("10LOT99\x1d2112", True)


def board(serial="WO-1-00001", **kw):
    return labels.BoardLabel(serial, "WO-1", "PCB", "A", **kw)


def test_board_zpl_is_one_label_with_code128_and_escaped_text():
    out = zpl.board_zpl(board("9912-0001", panel="WO-1-P0001", position=2), dpmm=8)
    assert out.startswith("^XA^CI28^PW400^LL200") and out.rstrip().endswith("^PQ1^XZ")
    assert out.count("^XA") == 1 and out.count("^XZ") == 1
    field = re.search(r"\^BCN,\d+,N,N,N\^FH_\^FD(.*?)\^FS", out).group(1)
    assert read_zpl_code128(field) == ("9912-0001", False)
    assert "^BY2,3," in out  # 0.25 mm modules at 8 dots/mm
    assert "WO-1 PCB/A WO-1-P0001/2" in out


def test_board_zpl_datamatrix_sets_its_escape_character():
    out = zpl.board_zpl(board(), dpmm=12, symbology="datamatrix", copies=3)
    assert "^PW300^LL120" in out and "^PQ3^XZ" in out
    assert re.search(r"\^BXN,\d+,200,,,,\|\^FH_\^FDWO-1-00001\^FS", out)


def test_board_zpl_refuses_a_serial_too_long_for_the_label():
    with pytest.raises(TooLongForLabel):
        zpl.board_zpl(board("ACME-PCB-2024-000123-XYZ-LONG"))


def test_box_zpl_escapes_the_customer_and_carries_the_sscc():
    label = labels.BoxLabel("WO-1", "EVIL", "Evil ^XZ^XA~JA 深圳电子", "PCB", "A", 2, 3, 25,
                            "006141410000000012")
    out = zpl.box_zpl(label, dpmm=8)
    assert out.count("^XA") == 1 and out.count("^XZ") == 1 and "~" not in out
    assert "^PW800^LL1200" in out
    assert "Evil _5EXZ_5EXA_7EJA _E6_B7_B1" in out
    assert ">;>800006141410000000012" in out
    assert "25 pcs" in out and "2 of 3" in out and "(00) 006141410000000012" in out


def test_panel_zpl_lists_positions():
    label = labels.PanelLabel("WO-1-P0001", "WO-1", "PCB", "A",
                              [(1, "WO-1-00001"), (2, "WO-1-00002")])
    out = zpl.panel_zpl(label)
    assert "1  WO-1-00001" in out and "2  WO-1-00002" in out
    field = re.search(r"\^BCN,\d+,N,N,N\^FH_\^FD(.*?)\^FS", out).group(1)
    assert read_zpl_code128(field) == ("WO-1-P0001", False)
