"""Browser-source overlays: pages OBS shows on stream, fed live over a WebSocket.

- :mod:`~waddlebot.overlays.payloads`: what a module may send to each kind of page;
- :mod:`~waddlebot.overlays.publisher`: the router's side: checks updates, keeps each page's
  current state in the cache and publishes on the broadcast channel ``overlay.<community>``;
- :mod:`~waddlebot.overlays.tokens`: the secret in a community's overlay URLs;
- :mod:`~waddlebot.overlays.hub`: the ``browser_source`` service's fan-out to open pages;
- :mod:`~waddlebot.overlays.web`: the pages, their static files and the WebSocket.
"""

from waddlebot.overlays.payloads import PAGES, OverlayError

__all__ = ["PAGES", "OverlayError"]
