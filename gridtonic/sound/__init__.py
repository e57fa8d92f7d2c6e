"""The drum voice on scsynth: SynthDefs (``synthdefs``), the realtime server (``scsynth``), the
engine bridge from hits to time-stamped bundles (``engine``), voice allocation (``voices``) and
offline renders (``nrt``, ``render``).

Imports ``core`` and ``io``; device packages may import it where they must.
"""
