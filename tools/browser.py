"""What the browser tests and `make bench` share: the built site served on 127.0.0.1, and the
Chromium they drive (Debian's, on PATH or named by $CHROMIUM; tools/browser_deps.sh installs it)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path

SEARCH_INDEX = "search/search_index.json"  # each language's, where Material's search plugin writes it
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium() -> str | None:
    """The Chromium to launch, or None where there is none."""
    return shutil.which(os.environ.get("CHROMIUM", "chromium"))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no line per request
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A browser that drops a connection (a page left before an image came) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipeError, ConnectionResetError
            super().handle_error(request, client_address)


@contextlib.contextmanager
def served(site: Path):
    """The site served by http.server on 127.0.0.1, from a thread of this process; yields its
    base address."""
    server = _Server(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
