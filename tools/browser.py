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
from urllib.parse import urlsplit

from tools.project import SOURCE, site_url

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium() -> str | None:
    """The Chromium to launch, or None where there is none."""
    return shutil.which(os.environ.get("CHROMIUM", "chromium"))


def site_path() -> str:
    """The path of the site's own address (site_url): "/pytorch-models/" for a local build,
    "/REPOSITORY/" for GitHub Pages. The browser tests and `make bench` serve the site there, as
    it is published: the 404 page and the printable edition link by absolute paths."""
    return urlsplit(site_url(SOURCE)).path


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a site under a path, as GitHub Pages serves a project's site under /<repository>/:
    an address outside that path, or a missing file under it, gets the site's 404.html with
    status 404 (Pages answers a missing address with the site's own 404 page)."""

    base_path = "/"

    def send_head(self):
        if not self.path.startswith(self.base_path):
            self.send_error(404)
            return None
        return super().send_head()

    def translate_path(self, path: str) -> str:
        return super().translate_path("/" + path[len(self.base_path):])

    def send_error(self, code, message=None, explain=None) -> None:
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args) -> None:  # no line per request
        pass


class _Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        """A browser that drops a connection (a page left before an image came) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):  # BrokenPipeError, ConnectionResetError
            super().handle_error(request, client_address)


@contextlib.contextmanager
def served(site: Path, path: str = "/", port: int = 0):
    """The site served by http.server on 127.0.0.1 under `path` ("/pytorch-models/", say), from
    a thread of this process, on `port` (0: a free one); yields the address of its root (ending
    in `path`)."""
    path = "/" + path.strip("/") + "/" if path.strip("/") else "/"
    handler = type("Handler", (_Handler,), {"base_path": path})
    server = _Server(("127.0.0.1", port), functools.partial(handler, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{path}"
    finally:
        server.shutdown()
        server.server_close()
