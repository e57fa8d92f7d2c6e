"""What the parts share to reach the machine: session and data files (``store``), OSC packets
(``osc``), child processes that die with gridtonic (``child``), the JACK server (``jack``), MIDI
ports (``midiports``) and device tasks that never end the run (``tasks``: dropped messages,
restarts).

Imports only ``core``; sound, prior, presets and every device package may import it.
"""
