"""Data-package check: Gerber layers, BOM and centroid matched, SMT/DIP split, panel measured."""

from station.readiness.datapackage.panel import apply_overrides, judge_panel, measure_panel
from station.readiness.datapackage.report import check_package

__all__ = ["apply_overrides", "check_package", "judge_panel", "measure_panel"]
