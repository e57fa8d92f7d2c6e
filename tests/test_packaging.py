"""An installed wheel carries what lives outside the package in a checkout: layouts and the engine."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gridtonic.core import layout, resources
from gridtonic.sound import synthdefs

ROOT = Path(__file__).resolve().parents[1]


def test_resources_are_found_in_a_checkout_and_else_inside_the_package(tmp_path):
    assert layout.layout_dir(ROOT / "gridtonic") == ROOT / "layouts"
    assert layout.layout_dir(tmp_path / "gridtonic") == tmp_path / "gridtonic" / "layouts"
    assert resources.in_checkout() and synthdefs.ENGINE_DIR == ROOT / "engine"
    assert not resources.in_checkout(tmp_path / "gridtonic")


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel built from this checkout, unpacked as a site directory."""
    tmp = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(tmp), str(ROOT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    wheel, = tmp.glob("gridtonic-*.whl")
    site = tmp / "site"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(site)
    return site, names


def probe(site: Path, code: str, tmp_path: Path) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(site), "GRIDTONIC_DATA": str(tmp_path / "data")}
    env.pop("GRIDTONIC_SYNTHDEFS", None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_the_wheel_carries_the_layouts_and_loads_them(installed, tmp_path):
    site, names = installed
    packaged = {n for n in names if n.startswith("gridtonic/layouts/")}
    assert packaged == {f"gridtonic/layouts/{p.name}" for p in (ROOT / "layouts").glob("*.toml")}
    out = probe(site, "from gridtonic.core import layout; lay = layout.builtin(16, 16); "
                      "print(layout.LAYOUT_DIR, lay.width, lay.height, *sorted(lay.lanes))", tmp_path)
    assert out == [str(site / "gridtonic" / "layouts"), "16", "16", "probability", "velocity"]


def test_the_wheel_carries_the_engine_and_builds_it_into_the_user_data_dir(installed, tmp_path):
    site, names = installed
    assert {"gridtonic/engine/supertonic.scd", "gridtonic/engine/build.scd"} <= names
    out = probe(site, "from gridtonic.sound import synthdefs; d = synthdefs.build(); "
                      "print(synthdefs.ENGINE_DIR, d, len(list(d.glob('supertonic_*.scsyndef'))))", tmp_path)
    assert out[:2] == [str(site / "gridtonic" / "engine"), str(tmp_path / "data" / "synthdefs")]
    assert int(out[2]) == len(list(synthdefs.synthdef_dir().glob("supertonic_*.scsyndef"))) > 100


def test_the_installed_command_line_says_where_its_settings_go(installed, tmp_path):
    site, _ = installed
    env = {**os.environ, "PYTHONPATH": str(site), "GRIDTONIC_DATA": str(tmp_path / "data"),
           "GRIDTONIC_CONFIG": str(tmp_path / "cfg" / "config.toml")}
    r = subprocess.run([sys.executable, "-m", "gridtonic", "--help"], capture_output=True, text=True,
                       cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "example: gridtonic run" in r.stdout
    assert f"settings: {tmp_path / 'cfg' / 'config.toml'}" in r.stdout and str(tmp_path / "data") in r.stdout
