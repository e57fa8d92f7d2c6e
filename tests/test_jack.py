"""gridtonic.io.jack against real jackd processes."""

from __future__ import annotations

import logging
import os

import pytest

from gridtonic.io import jack

pytestmark = pytest.mark.realtime


def test_running_sees_the_session_server(jack_server: str) -> None:
    assert jack.running(jack_server)
    assert jack.running()  # $JACK_DEFAULT_SERVER names it
    assert not jack.running(f"{jack_server}-absent")


async def test_ensure_jack_leaves_a_running_server_alone(jack_server: str) -> None:
    async with jack.ensure_jack(jack_server):
        assert jack.running(jack_server)
    assert jack.running(jack_server)


async def test_ensure_jack_starts_and_stops_its_own_server(
    jack_server: str, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"{jack_server}-own"
    caplog.set_level(logging.INFO, logger="gridtonic.io.jack")
    async with jack.ensure_jack(name):
        assert jack.running(name)
    assert not jack.running(name)
    assert jack.running(jack_server)
    if not os.path.exists("/dev/snd"):
        notes = [r.getMessage() for r in caplog.records if "dummy backend" in r.getMessage()]
        assert notes == ["no sound card found, running JACK with the dummy backend - silent output"]


async def test_too_long_server_name_is_a_clear_error() -> None:
    with pytest.raises(jack.JackError, match="too long"):
        async with jack.ensure_jack("x" * (jack.MAX_NAME + 1)):
            pass


async def test_missing_jackd_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(jack.JackError, match="apt-get install --no-install-recommends jackd2"):
        async with jack.ensure_jack("gridtonic-never-started"):
            pass
