"""Where gridtonic's non-Python files live: the checkout's top-level folders (edited in place),
else the copies an installed wheel carries inside the package (pyproject's force-include)."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

PACKAGE = Path(str(files("gridtonic"))).resolve()  # the package folder, wherever this module sits in it


def resource_dir(name: str, marker: str, package: Path = PACKAGE) -> Path:
    """``<checkout>/name`` when it holds ``marker``, else ``<package>/name``."""
    checkout = package.parent / name
    return checkout if (checkout / marker).is_file() else package / name


def in_checkout(package: Path = PACKAGE) -> bool:
    """Whether the package runs from a source checkout (engine/ beside it)."""
    return resource_dir("engine", "supertonic.scd", package) != package / "engine"
