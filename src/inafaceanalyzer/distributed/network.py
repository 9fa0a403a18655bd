"""Where the cluster's members listen: one interface each, and no HTTP pages unless asked for.

Dask's defaults are open doors on a shared network: a worker listens on
every interface (``0.0.0.0`` and ``[::]``) even when its scheduler is on
127.0.0.1, anyone who reaches a worker's port can make it run code, and the
scheduler and every worker also serve HTTP pages (``/info``, ``/metrics``,
``/eventstream``...) in plain HTTP, TLS or not. Here:

* a worker listens on the address it reaches its scheduler from
  (:func:`local_address_towards`: loopback for a loopback scheduler), or on
  the address given explicitly;
* the HTTP servers of the scheduler (:class:`Scheduler`) and of the workers
  (:class:`Worker`) do not listen at all unless asked for; when they are
  and the cluster speaks TLS, they speak HTTPS with the member's
  certificate and require a client certificate signed by the CA, never
  plain HTTP.
"""

from __future__ import annotations

import socket
import ssl

import dask.config
import distributed
from distributed.comm.addressing import get_address_host, parse_host_port

__all__ = ["WORKER_HTTP_CONFIG", "Scheduler", "Worker", "http_ssl_context", "local_address_towards"]

#: Dask configuration key the worker command sets to serve the worker's HTTP pages (a nanny passes it on).
WORKER_HTTP_CONFIG = "inafaceanalyzer.worker-http"


def local_address_towards(address: str) -> str:
    """The local IP address this machine uses to reach ``address`` (a Dask address or a host name).

    No packet is sent: a UDP socket is connected, and its local end read.
    ``tcp://127.0.0.1:8786`` gives ``127.0.0.1``.

    Raises:
        OSError: the host is unknown or unreachable.
    """
    host = get_address_host(address) if "://" in address else address
    try:
        _, port = parse_host_port(address.split("://", 1)[-1], default_port=8786)
    except ValueError:
        port = 8786
    family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
    with socket.socket(family, socket.SOCK_DGRAM) as probe:
        probe.connect(sockaddr)
        return str(probe.getsockname()[0])


def http_ssl_context(security, role: str) -> ssl.SSLContext | None:  # type: ignore[no-untyped-def]
    """HTTPS for a member's HTTP pages under mutual TLS (``None`` without TLS): its certificate, and a
    client certificate signed by the CA required."""
    if security is None or not security.require_encryption:
        return None
    cert = getattr(security, f"tls_{role}_cert")
    key = getattr(security, f"tls_{role}_key")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=security.tls_ca_file)
    context.load_cert_chain(cert, keyfile=key)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _unlistened(node, routes) -> None:  # type: ignore[no-untyped-def]
    """What ``start_http_server`` sets on a node, without listening anywhere."""
    from distributed.http.routing import RoutingApplication
    from tornado.httpserver import HTTPServer

    node.http_application = RoutingApplication(routes)
    node.http_server = HTTPServer(node.http_application)


class Scheduler(distributed.Scheduler):
    """A Dask scheduler whose HTTP pages are off unless ``http=True`` (then HTTPS under TLS)."""

    def __init__(self, *args, http: bool = False, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self._serve_http = http
        super().__init__(*args, **kwargs)

    def start_http_server(self, routes, dashboard_address, default_port=0, ssl_options=None):  # type: ignore[no-untyped-def]
        if not self._serve_http:
            return _unlistened(self, routes)
        return super().start_http_server(routes, dashboard_address, default_port,
                                         ssl_options or http_ssl_context(self.security, "scheduler"))


class Worker(distributed.Worker):
    """A Dask worker whose HTTP pages are off unless :data:`WORKER_HTTP_CONFIG` says so (then HTTPS under TLS)."""

    def start_http_server(self, routes, dashboard_address, default_port=0, ssl_options=None):  # type: ignore[no-untyped-def]
        if not dask.config.get(WORKER_HTTP_CONFIG, False):
            return _unlistened(self, routes)
        return super().start_http_server(routes, dashboard_address, default_port,
                                         ssl_options or http_ssl_context(self.security, "worker"))
