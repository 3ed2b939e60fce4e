"""Browser-source overlays: pages OBS shows on stream, fed live over a WebSocket.

- :mod:`~waddlebot.core.overlay`: what a module may send to each kind of page;
- :mod:`~waddlebot.router.overlays`: the router's side: checks updates, keeps each page's
  current state in the cache and publishes on the broadcast channel ``overlay.<community>``;
- :mod:`~waddlebot.features.overlay.tokens`: the secret in a community's overlay URLs;
- :mod:`~waddlebot.features.overlay.hub`: the ``browser_source`` service's fan-out to open pages;
- :mod:`~waddlebot.features.overlay.web`: the pages, their static files and the WebSocket.
"""

from waddlebot.core.overlay import PAGES, OverlayError

__all__ = ["PAGES", "OverlayError"]
