"""The built-in kit: five voices designed for gridtonic (not copied from a preset file).

Values are in Microtonic units (see params.py); anything not given takes the parameter default.
Levels balance the voices by their renders (tests/test_kit.py measures them): by the mean of the
peak and the loudest 10 ms RMS, the snare sits 5 dB under the kick, the clap 6, the hats 10 (they
were 27-29 dB under by peak); the kick peaks near -16 dBFS, so the five together cannot clip.
"""

from __future__ import annotations

from gridtonic.core import params

_KIT: tuple[tuple[str, dict[str, float]], ...] = (
    ("kick", dict(
        oscWave=0, oscFreq=50, oscAtk=0, oscDcy=600, modMode=0, modRate=250, modAmt=30,
        nFilMod=0, nFilFrq=400, nFilQ=1.4, nStereo=0, nEnvMod=0, nEnvAtk=2, nEnvDcy=90,
        mix=88, distAmt=30, eQFreq=80, eQGain=24, level=-10, oscVel=40, nVel=40, modVel=35,
    )),
    ("snare", dict(
        oscWave=1, oscFreq=190, oscAtk=0, oscDcy=160, modMode=0, modRate=40, modAmt=14,
        nFilMod=1, nFilFrq=3200, nFilQ=1.2, nStereo=1, nEnvMod=0, nEnvAtk=1, nEnvDcy=210,
        mix=35, distAmt=18, eQFreq=6000, eQGain=6, level=0, oscVel=50, nVel=50, modVel=50,
    )),
    ("closed hat", dict(
        oscWave=0, oscFreq=9000, oscAtk=0, oscDcy=30, modMode=1, modRate=1500, modAmt=12,
        nFilMod=2, nFilFrq=8200, nFilQ=1.0, nStereo=1, nEnvMod=0, nEnvAtk=0, nEnvDcy=45,
        mix=10, distAmt=10, eQFreq=11000, eQGain=8, level=7, oscVel=60, nVel=60, modVel=50,
    )),
    ("open hat", dict(
        oscWave=0, oscFreq=9000, oscAtk=0, oscDcy=60, modMode=1, modRate=1500, modAmt=12,
        nFilMod=2, nFilFrq=7800, nFilQ=1.0, nStereo=1, nEnvMod=1, nEnvAtk=0, nEnvDcy=420,
        mix=10, distAmt=10, eQFreq=11000, eQGain=6, level=5, oscVel=60, nVel=60, modVel=50,
    )),
    ("clap", dict(
        oscWave=0, oscFreq=1200, oscAtk=0, oscDcy=20, modMode=0, modRate=30, modAmt=0,
        nFilMod=1, nFilFrq=1400, nFilQ=1.6, nStereo=1, nEnvMod=2, nEnvAtk=16, nEnvDcy=260,
        mix=5, distAmt=20, eQFreq=2500, eQGain=4, level=6, oscVel=50, nVel=50, modVel=50,
    )),
)


def default_kit() -> list[tuple[str, dict[str, float]]]:
    """(track name, complete patch) for each built-in voice, fresh copies."""
    return [(name, params.clean(values, f"kit {name}")) for name, values in _KIT]
