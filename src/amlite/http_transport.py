"""httpx's default transport, with its TLS context made only when an https:// URL is first asked
for: ``httpx.Client()`` loads the CA bundle up front (50-100 ms), a sixth of a short ``amlite``
command talking to a plain http:// server. Requests and their answers are httpx's own."""

from __future__ import annotations

import httpx


class TlsOnDemand(httpx.BaseTransport):
    """http:// through a pool that never does TLS; anything else through ``HTTPTransport()``,
    made (with httpx's defaults: certifi, SSL_CERT_FILE/SSL_CERT_DIR) on its first request.

    Only for a client without proxies: httpx reads proxy variables only when it makes the
    transport itself (see :func:`for_client`)."""

    def __init__(self) -> None:
        # verify=False: a plain-http pool (no proxy) has no TLS to verify; it only spares the
        # CA bundle. https:// never comes here (handle_request).
        self._plain = httpx.HTTPTransport(verify=False)
        self._tls: httpx.HTTPTransport | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme == "http":
            return self._plain.handle_request(request)
        if self._tls is None:
            self._tls = httpx.HTTPTransport()
        return self._tls.handle_request(request)

    def close(self) -> None:
        self._plain.close()
        if self._tls is not None:
            self._tls.close()


def for_client() -> httpx.BaseTransport | None:
    """The transport for a new ``httpx.Client``: :class:`TlsOnDemand`, or None (httpx's own,
    which honours them) when proxy variables are set."""
    from urllib.request import getproxies

    return None if getproxies() else TlsOnDemand()
