"""Sonic Charge Microtonic presets: the parser (``mtpreset``), kits on tracks and the ``gridtonic
preset`` verbs (``kits``), and the SuperCollider converter (``scconvert``).

Imports ``core``, ``io`` and ``sound``.
"""
