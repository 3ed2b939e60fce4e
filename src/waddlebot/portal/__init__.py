"""The web portal: server-rendered pages (Jinja2, htmx) at ``/`` of the ``portal`` service.

This package is the shell every page lives in: the layout and navigation, the community
picker, sessions and CSRF, the security headers, the static files. It imports no feature:
features contribute their pages (:class:`~waddlebot.portal.pages.PortalPage`) and their plain
routes (``Route(router, service="portal")``), and the app (app.py) hands them over
(docs/portal.md)."""
