"""The browser companion: the page's protocol (``protocol``), the server on 127.0.0.1 (``server``)
and the page itself (``page/``: HTML, JS and CSS, no build step).

Imports ``core``, ``io``, ``sound`` and ``presets``; never another device package. What ``app`` and
``cli`` use:
"""

from gridtonic.web.server import Web, WebConfig, add_arguments, config_from_args, open_unless_hardware

__all__ = ["Web", "WebConfig", "add_arguments", "config_from_args", "open_unless_hardware"]
