"""The station as a wheel: its package list and the data it needs to run when installed."""

import importlib.util
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import setuptools

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "setup.py", "README.md", "station", "templates", "static",
           "migrations", "config")


def can_build_without_isolation() -> bool:
    """Whether this environment's setuptools builds wheels itself (70.1+, or with `wheel`)."""
    major, minor = (int(p) for p in setuptools.__version__.split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


def build_wheel(tmp_path: Path) -> Path:
    """A wheel of a copy of the checkout (pip builds in the tree; the checkout stays clean)."""
    src = tmp_path / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.mo", "*.tmp"))
        else:
            shutil.copy2(ROOT / name, src / name)
    # Without setuptools' wheel support here, pip builds in an isolated environment from its
    # index (the shared virtualenv is never changed).
    isolation = ["--no-build-isolation"] if can_build_without_isolation() else []
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", *isolation,
                           "--quiet", "-w", str(tmp_path / "dist"), str(src)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (tmp_path / "dist").glob("smt_line_station-*.whl")
    return wheel


def test_the_wheel_carries_the_packages_templates_static_migrations_and_config(tmp_path):
    names = set(zipfile.ZipFile(build_wheel(tmp_path)).namelist())
    for package in ("station", "station/routes", "station/devices", "station/line",
                    "station/readiness", "station/quality", "station/shipping",
                    "station/mqtt"):
        assert f"{package}/__init__.py" in names, package
    data = "station/_project"
    checkout = {p.relative_to(ROOT).as_posix() for folder in ("templates", "static", "config")
                for p in (ROOT / folder).rglob("*") if p.is_file()}
    checkout |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "migrations").rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts}
    assert {f"{data}/{name}" for name in checkout} <= names
    assert f"{data}/migrations/versions/0008_box_sscc.py" in names
    assert "station/translations/zh_Hans_CN/LC_MESSAGES/messages.po" in names
    assert "station/translations/zh_Hans_CN/LC_MESSAGES/messages.mo" in names  # compiled
    assert not [n for n in names if n.startswith(("tests/", "bench/", "templates/", "static/"))]
