"""Data-package check: Gerber layers, BOM and centroid matched, SMT/DIP split, panel rules."""

from station.readiness.datapackage.panel import check_panel
from station.readiness.datapackage.report import check_package

__all__ = ["check_package", "check_panel"]
