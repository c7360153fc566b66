"""The HTTP side: a threading HTTP/1.1 server with keep-alive that hands each request to the
Resend routes or the control routes and writes their answer in one piece."""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

from queueing.resend import errors
from sandbox.api import ResendApi
from sandbox.config import SandboxConfig
from sandbox.control import PREFIX, ControlApi
from sandbox.faults import FaultInjector
from sandbox.recorder import Recorder
from sandbox.scripted import ScriptedAnswers
from sandbox.state import SandboxState
from sandbox.webhooks import WebhookEmitter
from sandbox.wire import Request, Response, error_response

log = logging.getLogger(__name__)

_MAX_BODY = 64 * 1024 * 1024  # Resend's own limit is 40 MB per email, attachments included


class SandboxServer:
    """A Resend stand-in. Binds at construction (so a busy port fails early); `start()` serves
    from a daemon thread."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, config: SandboxConfig | None = None
    ) -> None:
        self._config = config or SandboxConfig()
        self._config_lock = threading.Lock()
        self.state = SandboxState()
        self.faults = FaultInjector(self._config.seed)
        self.recorder = Recorder()
        self.scripted = ScriptedAnswers()
        self.webhooks = WebhookEmitter(self._config.seed)
        self._open_record_file(self._config.record_file)
        self.api = ResendApi(
            config=lambda: self._config,
            state=self.state,
            faults=self.faults,
            recorder=self.recorder,
            scripted=self.scripted,
            webhooks=self.webhooks,
        )
        self.control = ControlApi(
            state=self.state,
            config=lambda: self._config,
            configure=self.configure,
            scripted=self.scripted,
            webhooks=self.webhooks,
        )
        self._httpd = _HTTPServer((host, port), _Handler, self)
        self._thread: threading.Thread | None = None

    @property
    def config(self) -> SandboxConfig:
        return self._config

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def configure(
        self, changes: Mapping[str, Any] | None = None, /, **kwargs: Any
    ) -> SandboxConfig:
        """Apply a partial config; ValueError on a bad field or value (nothing is changed).

        The fault and webhook generators restart from the seed, so a seeded run is reproducible
        from here.
        """
        with self._config_lock:
            config = self._config.updated({**(changes or {}), **kwargs})
            self._open_record_file(config.record_file)
            self._config = config
            self.faults.reseed(config.seed)
            self.webhooks.planner.reseed(config.seed)
            return config

    def start(self) -> Self:
        self.webhooks.start()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"resend-sandbox-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.close_connections()
        self._httpd.server_close()
        self.webhooks.stop()
        self.recorder.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def dispatch(self, request: Request) -> Response:
        if request.path == PREFIX or request.path.startswith(PREFIX + "/"):
            return self.control.handle(request)
        return self.api.handle(request)

    def _open_record_file(self, path: str | None) -> None:
        try:
            self.recorder.set_path(path)
        except OSError as exc:
            raise ValueError(f"record_file {path!r} cannot be opened: {exc.strerror}") from None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # the listen backlog: bursts of new connections must not be refused
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type, sandbox: SandboxServer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would resolve the host name (getfqdn), which can stall for
        # seconds without DNS; the sandbox never needs it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake keep-alive threads blocked on idle connections, so stop() leaves nothing open."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (timeout, drop test) is normal here, not worth a traceback.
        log.debug("Connection from %s ended with an error", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ResendSandbox/1.0"
    sys_version = ""
    # Buffer the answer so headers and body leave in one segment; no Nagle delay either.
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    server: _HTTPServer

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except ValueError as exc:
            self.close_connection = True  # the stream position is unknown now
            self._write(error_response(errors.validation_error(str(exc), status=400)))
            return
        request = Request.from_target(self.command, self.path, self.headers, body)
        self._write(self.server.sandbox.dispatch(request))

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = do_HEAD = _dispatch

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
        except ValueError:
            raise ValueError("Invalid Content-Length header.") from None
        if not 0 <= length <= _MAX_BODY:
            raise ValueError(f"The request body must be at most {_MAX_BODY} bytes.")
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ValueError("Invalid chunked request body.") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > _MAX_BODY:
                raise ValueError(f"The request body must be at most {_MAX_BODY} bytes.")
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)  # the CRLF after each chunk

    def _write(self, response: Response) -> None:
        if response.drop:
            self.close_connection = True
            return
        self.send_response(response.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would cost more than the request itself
