"""Build hook: the wheel carries the translation catalogues compiled (babel, at build time)."""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    """build_py, then each station/translations/*/LC_MESSAGES/*.po compiled beside itself."""

    def run(self):
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in Path(self.build_lib, "station", "translations").rglob("*.po"):
            with po.open("rb") as f:
                catalogue = read_po(f)
            with po.with_suffix(".mo").open("wb") as f:
                write_mo(f, catalogue)


setup(cmdclass={"build_py": BuildWithCatalogues})
