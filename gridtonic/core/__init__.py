"""The instrument itself, pure: session, tracks and patches, actions, gestures, layouts, LED frames,
clock math, the sequencer, parameter table, MIDI byte parsing.

Deterministic and free of I/O (no sockets, processes, devices or audio), so every surface and
output shares one model and tests run it with trio's ``MockClock``. Imports nothing of gridtonic
outside ``core``; every other package may import its modules.
"""
