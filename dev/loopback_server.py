"""An HTTP server on a loopback port, served from a daemon thread: the base of the fakes in dev/.

Subclasses set `handler`; the handler reaches its fake as `self.server.owner`.

    with FakeSomething() as fake:     # or fake = FakeSomething().start(); fake.stop()
        fake.base_url                 # http://127.0.0.1:PORT
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

Self = TypeVar("Self", bound="LoopbackServer")


class OwnedServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: Any  # the LoopbackServer that started it


class LoopbackServer:
    handler: type[BaseHTTPRequestHandler]

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._server: OwnedServer | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self: Self) -> Self:
        self._server = OwnedServer(self._address, self.handler)
        self._server.owner = self
        threading.Thread(target=self._server.serve_forever, name=type(self).__name__, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self: Self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
