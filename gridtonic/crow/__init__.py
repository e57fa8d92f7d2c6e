"""monome crow and Just Friends: the wire format (``wire``), what each track plays and the Lua it
makes (``mapping``), the USB serial host (``host``) and the ``gridtonic crow`` verbs (``commands``).

Imports ``core``, ``io`` and ``sound``; never another device package. What ``app`` and ``cli`` use:
"""

from gridtonic.crow.commands import config_from
from gridtonic.crow.host import Crow
from gridtonic.crow.mapping import CrowConfig

__all__ = ["Crow", "CrowConfig", "config_from"]
