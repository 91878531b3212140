"""Bench: a quotation drafted for a generated 2,000-part data package (four quantities).

Target on this machine: draft_quotation (the newest package read from the database, its report
priced per quantity, the draft stored with its event, committed) under 1 s. Beside it, in the
same run: the pure `quoting.draft` over the report, and the bare `check_package` of the same
package (what its upload costs), with the ratios to it. The package is bench/data_package.py's:
2,000 parts on both sides, 100 through-hole parts of 8 pins, 1,500 drill hits.
Run: .venv/bin/python bench/quotation.py [--runs N]
"""

import argparse
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlmodel import Session  # noqa: E402

from bench.data_package import generate, timed  # noqa: E402
from station import create_app, masterdata, people  # noqa: E402
from station.readiness import packages  # noqa: E402
from station.readiness.datapackage import check_package  # noqa: E402
from station.shipping import enquiries, quoting  # noqa: E402

QUANTITIES = [100, 500, 1000, 5000]
TARGET_S = 1.0


def main() -> None:
    """Generate the package, store it with an enquiry, time the draft, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # gerbonara warns per odd line; not what is measured here
    pkg = generate()
    people.HASH_METHOD = "pbkdf2:sha256:1000"  # the users are set-up, not measured
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"INSTANCE_PATH": tmp, "DATABASE_URL": f"sqlite:///{tmp}/bench.db",
                          "SECRET_KEY": "bench", "PIN_PEPPER": "bench"})
        rates = app.extensions["quoting"]
        with Session(app.extensions["engine"], expire_on_commit=False) as s:
            admin = people.create_user(s, "admin", "admin", pepper="bench", password="bench-pw")
            finance = people.create_user(s, "finance", "finance", pepper="bench",
                                         password="bench-pw")
            masterdata.create_customer(s, admin, "CUST", "Customer Ltd", "prepaid")
            masterdata.create_product(s, admin, "BENCH", "A", ["PRINT", "PLACE", "FCT"])
            stored = packages.upload(s, admin, "BENCH", "A", pkg["gerber"], pkg["bom"],
                                     "bom.csv", pkg["centroid"], "cpl.csv")
            enquiry = enquiries.create_enquiry(s, finance, "CUST", "BENCH", "A", QUANTITIES,
                                               None)
            report = stored.report
            print(f"package: {pkg['parts']} parts, {pkg['holes']} drill hits; report parts "
                  f"{report['parts']}")
            [first] = quoting.draft(report, QUANTITIES[:1], rates)
            counts = quoting.counts(report, rates)
            print(f"per board: placements {counts['smt']}, {counts['tht_joints']} through-hole "
                  f"joints, {counts['distinct']} distinct parts")
            print(f"quotation for {QUANTITIES[0]}: {len(first['lines'])} lines, total "
                  f"{first['total']} {rates.currency}, {first['per_board']} per board")
            steps = {
                "check_package": lambda: check_package(pkg["gerber"], pkg["bom"], "bom.csv",
                                                       pkg["centroid"], "cpl.csv"),
                "quoting.draft (pure)": lambda: quoting.draft(report, QUANTITIES, rates),
                "draft_quotation (db)": lambda: enquiries.draft_quotation(s, finance,
                                                                          enquiry.id, rates),
            }
            figures = {name: timed(fn, args.runs) for name, fn in steps.items()}
        app.extensions["engine"].dispose()
    floor = figures["check_package"]
    print(f"median of {args.runs} runs, {len(QUANTITIES)} quantities:")
    for name, seconds in figures.items():
        verdict = "" if name != "draft_quotation (db)" else (
            f"  target {TARGET_S:.1f} s: {'met' if seconds < TARGET_S else 'MISSED'}")
        print(f"  {name:22s} {seconds:7.4f} s  {seconds / floor:6.3f} x check_package{verdict}")


if __name__ == "__main__":
    main()
