"""Sonic Charge Microtonic presets: the parser (``mtpreset``), kits on tracks and the preset folder
(``kits``), the SuperCollider converter (``scconvert``) and the ``gridtonic preset`` verbs
(``commands``).

Imports ``core``, ``io`` and ``sound``.
"""
