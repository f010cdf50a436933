"""Container health check: exit 0 when an HTTP health endpoint answers 2xx, 1 otherwise.

Standard library only (the slim image has no curl). The URL is the first argument, else
$LITHOMAP_HEALTHCHECK_URL, else the dashboard's (Streamlit answers ``/_stcore/health``)::

    python docker/healthcheck.py                                  # the dashboard, port 8501
    python docker/healthcheck.py http://127.0.0.1:5000/health     # the MLflow server
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8501/_stcore/health"
TIMEOUT_S = 5.0


def healthy(url: str, timeout_s: float = TIMEOUT_S) -> tuple[bool, str]:
    """Ask ``url`` once.

    Args:
        url: the health endpoint (http or https).
        timeout_s: seconds to wait for the answer.

    Returns:
        Whether it answered with a 2xx status, and a one-line reason.
    """
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return 200 <= response.status < 300, f"{url} answered {response.status}"
    except urllib.error.HTTPError as error:
        return False, f"{url} answered {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return False, f"{url} did not answer: {getattr(error, 'reason', error)}"


def main(argv: list[str]) -> int:
    """Check the URL given (or the default) and print why it is unhealthy."""
    url = argv[1] if len(argv) > 1 else os.environ.get("LITHOMAP_HEALTHCHECK_URL", DEFAULT_URL)
    ok, reason = healthy(url)
    print(reason, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
