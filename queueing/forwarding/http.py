"""The one POST of a delivery, to an address checked by the URL guard.

The name is resolved here and every address it resolves to is checked; the connection is
then made to the checked address itself (with the name kept for the Host header and for
TLS), so DNS that changes between the check and the connection cannot lead inwards.
Redirects are never followed: a 3xx is a failed attempt, like Svix. Every call has a
timeout on the connection and on each read; only the first bytes of an answer are read.
"""

import contextlib
import http.client
import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

from queueing.forwarding.url_guard import address_problem, url_problem

ANSWER_BYTES = 1024  # of the receiver's answer, kept for the delivery log
CONNECT_TIMEOUT = 3.0  # seconds to open the connection (at most the read timeout)
TOTAL_TIMEOUTS = 3  # the whole call may take this many times the per-step timeout


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused by the guard, network, timeout)
    error: str  # "" when delivered
    refused: bool = False  # the guard refused the URL: trying again would not help

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Answer:
    problem = url_problem(url)
    if problem:
        return Answer(None, f"refused: {problem}", refused=True)
    parts = urlsplit(url)
    host = parts.hostname or ""
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    try:
        addresses = [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    except OSError as exc:
        return Answer(None, f"cannot resolve {host}: {exc}")
    for address in addresses:
        problem = address_problem(address)
        if problem:
            return Answer(None, f"refused: {host} resolves to {problem}", refused=True)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    kind = http.client.HTTPSConnection if https else http.client.HTTPConnection
    connection = kind(host, port, timeout=timeout)  # (its default port shapes the Host header)
    raw = None
    # The timeout bounds each step; this bounds the whole call, so a receiver that drips its
    # answer a byte at a time cannot hold a worker (what was read by then does not count).
    expired = threading.Event()

    def cut_off() -> None:
        expired.set()
        if raw is not None:
            _shut(raw)

    deadline = threading.Timer(TOTAL_TIMEOUTS * timeout, cut_off)
    deadline.start()
    try:
        # A receiver that does not answer the connection at all is the common dead one: give
        # up on it sooner than on one that is slow to answer.
        raw = socket.create_connection((addresses[0], port), timeout=min(timeout, CONNECT_TIMEOUT))
        raw.settimeout(timeout)
        sock = raw
        if https:
            sock = ssl.create_default_context().wrap_socket(raw, server_hostname=host)
        connection.sock = sock  # http.client uses a socket already set instead of connecting
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        text = response.read(ANSWER_BYTES).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}"[:500])
    finally:
        deadline.cancel()
        connection.close()
    if expired.is_set():
        return Answer(None, f"no complete answer within {TOTAL_TIMEOUTS * timeout:g} s")
    status = response.status
    if 200 <= status < 300:
        return Answer(status, "")
    if 300 <= status < 400:
        location = response.getheader("location", "")[:300]
        return Answer(status, f"HTTP {status} to {location!r}: redirects are not followed")
    return Answer(status, f"HTTP {status}: {text[:300]}")


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked read, which then fails
