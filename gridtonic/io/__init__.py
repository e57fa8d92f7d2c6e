"""What the parts share to reach the machine: session and data files (``store``), OSC packets
(``osc``), child processes that die with gridtonic (``child``), the JACK server (``jack``) and MIDI
ports (``midiports``).

Imports only ``core``; sound, prior, presets and every device package may import it.
"""
