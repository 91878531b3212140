"""The board's geometry read from its Gerber and Excellon files (placeholder of this branch).

The dataclasses are the interface the panel rule is built against. `read_geometry` is a
placeholder that the merge replaces with the gerbonara reading written on another branch; until
then it raises NotImplementedError and the report leaves the panel out.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hole:
    """One drill hit: centre, diameter, and whether it is plated (None: the files do not say)."""

    x_mm: float
    y_mm: float
    diameter_mm: float
    plated: bool | None


@dataclass(frozen=True)
class Pad:
    """One flash: centre, aperture shape ("circle", "rect", "obround", "polygon", "other"), size."""

    x_mm: float
    y_mm: float
    shape: str
    width_mm: float
    height_mm: float


@dataclass(frozen=True)
class Geometry:
    """What the panel rule and the board picture read from the files, in mm."""

    outline_mm: tuple[float, float, float, float] | None  # min_x, min_y, max_x, max_y
    holes: tuple[Hole, ...]
    copper: dict[str, tuple[Pad, ...]]  # "top"/"bottom" outer copper flashes
    mask: dict[str, tuple[Pad, ...]]  # "top"/"bottom" solder-mask openings
    copper_extent_mm: dict[str, tuple[float, float, float, float]]


def read_geometry(files) -> tuple[Geometry, list[dict]]:
    """The geometry of the identified layer files, and the problems met (placeholder)."""
    raise NotImplementedError("read_geometry is replaced by the gerbonara reading at the merge")
