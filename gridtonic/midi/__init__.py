"""MIDI: following a master's clock (``clock``), input (``inport``: clock, transport, notes, CCs),
output (``outport``: clock and notes lined up with the audio), per-track mapping (``mapping``), CC
learn (``cc``), the options and tasks of ``gridtonic run`` (``service``) and synthetic clock
streams for tests and benches (``ticksim``).

Imports ``core``, ``io`` and ``sound``; never another device package. What ``app`` and ``cli`` use:
"""

from gridtonic.midi.clock import MidiClock
from gridtonic.midi.service import MidiConfig, add_arguments, config_from_args, serve

__all__ = ["MidiClock", "MidiConfig", "add_arguments", "config_from_args", "serve"]
