"""``python -m waddlebot.healthcheck``: exit 0 when this container's WaddleBot answers
``/healthz``, 1 otherwise (the image's ``HEALTHCHECK``, deploy/Dockerfile).

The standard library only, and nothing else of the package: it runs every few seconds in the
container, so it must start fast, and the slim image has no curl.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 3.0


def healthz_url(environ: dict[str, str] | os._Environ[str]) -> str:
    """``/healthz`` of the process of this container, on the port its settings give it."""
    port = environ.get("WADDLEBOT_PORT", "").strip() or "8000"
    return f"http://127.0.0.1:{port}/healthz"


def main() -> int:
    url = healthz_url(os.environ)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            if answer.status == 200:
                return 0
            problem = f"answered {answer.status}"
    except (urllib.error.URLError, OSError) as exc:
        problem = str(getattr(exc, "reason", exc))
    sys.stderr.write(f"unhealthy: {url}: {problem}\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
