"""The client's one I/O seam for HTTP: XAPI calls and metrics downloads over one httpx client.

Everything above this module (sessions, redirects, failover, tasks) is logic on top of `rpc` and
`get`, so it is tested with ``httpx.MockTransport`` standing in for the network, and against the
simulator for the real thing. Everything below it is httpx's: connection reuse (keep-alive per
host), TLS, timeouts. This module adds three things:

- the wire: requests encoded and answers decoded with `xorca.xapi.codec` (orjson for JSON-RPC);
- a bound on concurrent requests (a semaphore), so a burst of calls queues here instead of
  opening hundreds of connections to one master;
- translation of every failure into the `xorca.xapi.errors` tree, naming the call: httpx's
  exceptions become `TransportError`\\ s (with ``sent`` saying whether the request may have reached
  the host), an answer that is not XAPI becomes `ProtocolError`, and an XAPI failure becomes the
  `ApiError` subclass for its code.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import Mapping, Sequence
from typing import Literal, TypeAlias

import httpx

from xorca.xapi import codec
from xorca.xapi.client.tls import TlsPolicy, ssl_failure
from xorca.xapi.errors import (
    CallTimeout,
    ConnectionFailed,
    ProtocolError,
    TlsError,
    TransportError,
    XapiError,
    error_for,
)
from xorca.xapi.values import Value

__all__ = ["JsonRpcUnsupported", "Protocol", "Transport"]

Protocol: TypeAlias = Literal["jsonrpc", "xmlrpc"]
QueryParams: TypeAlias = Sequence[tuple[str, str]]

_PATHS: dict[Protocol, str] = {"jsonrpc": "/jsonrpc", "xmlrpc": "/"}
_CONTENT_TYPES: dict[Protocol, str] = {"jsonrpc": "application/json", "xmlrpc": "text/xml"}
_USER_AGENT = "xorca-xapi"


class JsonRpcUnsupported(ProtocolError):
    """The host answered ``POST /jsonrpc`` with something other than JSON: an xapi older than
    JSON-RPC sends the request to its XML-RPC handler, which answers an HTML error page (or XML).
    The client reacts by speaking XML-RPC to it, when no protocol was imposed."""


class Transport:
    """HTTP to the hosts of one pool (or of any pool: nothing here is per-host)."""

    def __init__(
        self,
        *,
        tls: TlsPolicy,
        connect_timeout: float = 5.0,
        max_concurrent: int = 16,
        http: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``http`` replaces the network (``httpx.MockTransport`` in tests); TLS then is its own."""
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.tls = tls
        self.ssl_context: ssl.SSLContext = tls.context()
        self.connect_timeout = connect_timeout
        self._ids = itertools.count(1)
        self._slots = asyncio.Semaphore(max_concurrent)
        self._http = httpx.AsyncClient(
            verify=self.ssl_context,
            transport=http,
            # the semaphore is the bound; the pool only has to be as large
            limits=httpx.Limits(
                max_connections=max_concurrent, max_keepalive_connections=max_concurrent
            ),
            headers={"User-Agent": _USER_AGENT},
            # proxies from the environment are for the web, not for a pool on the management LAN
            trust_env=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def closed(self) -> bool:
        return self._http.is_closed

    # ------------------------------------------------------------------------------ XAPI calls

    async def rpc(
        self,
        base_url: str,
        method: str,
        params: Sequence[Value],
        *,
        protocol: Protocol,
        timeout: float,
    ) -> Value:
        """Call ``method`` on the host at ``base_url`` (scheme, address, port) and decode it.

        Raises the `ApiError` subclass for an XAPI failure, a `TransportError` otherwise.
        """
        ident = next(self._ids)
        try:
            if protocol == "jsonrpc":
                body = codec.encode_jsonrpc_request(method, params, ident)
            else:
                body = codec.encode_xmlrpc_request(method, params)
        except (TypeError, ValueError) as e:  # a parameter that is no XAPI value: caller's bug
            raise TypeError(f"{method}: cannot encode the parameters: {e}") from e
        url = base_url + _PATHS[protocol]
        async with self._slots:
            response = await self._send(
                method,
                "POST",
                url,
                content=body,
                headers={"Content-Type": _CONTENT_TYPES[protocol]},
                timeout=timeout,
            )
        if protocol == "jsonrpc":
            return _decode_jsonrpc(method, url, ident, response)
        return _decode_xmlrpc(method, url, response)

    # ------------------------------------------------------------------------ other downloads

    async def get(
        self,
        what: str,
        url: str,
        *,
        params: QueryParams = (),
        headers: Mapping[str, str] | None = None,
        timeout: float,
    ) -> httpx.Response:
        """A plain GET (``/rrd_updates``): the response whatever its status; failures to get one
        are `TransportError`\\ s naming ``what``."""
        async with self._slots:
            return await self._send(
                what, "GET", url, params=list(params), headers=headers, timeout=timeout
            )

    async def _send(
        self,
        what: str,
        verb: str,
        url: str,
        *,
        content: bytes | None = None,
        params: list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float,
    ) -> httpx.Response:
        limits = httpx.Timeout(timeout, connect=min(self.connect_timeout, timeout))
        try:
            return await self._http.request(
                verb,
                url,
                content=content,
                params=httpx.QueryParams(tuple(params)) if params else None,
                headers=headers,
                timeout=limits,
            )
        except httpx.HTTPError as e:
            raise translate(what, url, e) from e


def translate(what: str, url: str, error: httpx.HTTPError) -> TransportError:
    """httpx's exception as ours. ``sent`` is False only where the request cannot have arrived."""
    safe = _safe_url(url)
    if isinstance(error, httpx.ConnectTimeout | httpx.PoolTimeout):
        return CallTimeout(what, f"could not connect in time: {error}", url=safe, sent=False)
    if isinstance(error, httpx.TimeoutException):
        return CallTimeout(what, f"no answer in time: {error}", url=safe, sent=True)
    if isinstance(error, httpx.ConnectError):
        cause = ssl_failure(error)
        if cause is not None:
            return TlsError(what, f"TLS refused: {_ssl_text(cause)}", url=safe)
        return ConnectionFailed(what, f"cannot connect: {error}", url=safe, sent=False)
    if isinstance(error, httpx.UnsupportedProtocol):
        return ConnectionFailed(what, f"bad URL: {error}", url=safe, sent=False)
    if isinstance(error, httpx.TransportError):
        # read/write errors, a peer that closed mid-exchange: the call may have run
        text = str(error) or type(error).__name__
        return ConnectionFailed(what, f"connection lost: {text}", url=safe, sent=True)
    return ProtocolError(what, f"HTTP failure: {error}", url=safe)


def _ssl_text(error: ssl.SSLError) -> str:
    message = getattr(error, "verify_message", None)  # set by OpenSSL's own failures only
    if isinstance(error, ssl.SSLCertVerificationError) and message:
        return str(message)
    return str(error)


def _safe_url(url: str) -> str:
    """The URL for messages: without its query, which may hold a session id."""
    return url.split("?", 1)[0]


# -------------------------------------------------------------------------------- decoding


def _media(response: httpx.Response) -> str:
    media = str(response.headers.get("content-type", ""))
    return media.split(";")[0].strip().lower()


def _http_error(method: str, url: str, response: httpx.Response) -> ProtocolError:
    snippet = response.content[:200].decode("utf-8", "replace").strip()
    return ProtocolError(
        method,
        f"HTTP {response.status_code} instead of an XAPI answer: {snippet!r}",
        url=url,
        status=response.status_code,
    )


def _decode_jsonrpc(method: str, url: str, ident: int, response: httpx.Response) -> Value:
    media = _media(response)
    if media in ("text/html", "text/xml") or response.status_code in (404, 405, 501):
        error = _http_error(method, url, response)
        raise JsonRpcUnsupported(method, error.message, url=url, status=response.status_code)
    if response.status_code != 200:
        raise _http_error(method, url, response)
    try:
        answer = codec.decode_jsonrpc_response(response.content)
    except codec.CodecError as e:
        raise ProtocolError(method, f"malformed JSON-RPC answer: {e}", url=url) from e
    if answer.id != ident:
        raise ProtocolError(method, f"JSON-RPC answer to id {answer.id!r}, not {ident}", url=url)
    if answer.error_code is not None:
        raise error_for(answer.error_code, answer.error_params, method=method)
    return answer.result


def _decode_xmlrpc(method: str, url: str, response: httpx.Response) -> Value:
    if response.status_code != 200:
        raise _http_error(method, url, response)
    try:
        envelope = codec.decode_xmlrpc_response(response.content)
    except codec.XmlRpcFault as e:
        raise ProtocolError(method, str(e), url=url) from e
    except codec.CodecError as e:
        raise ProtocolError(method, f"malformed XML-RPC answer: {e}", url=url) from e
    if method == "system.listMethods" and isinstance(envelope, list):
        return envelope  # the one answer without a Status struct
    try:
        return codec.unwrap(envelope)
    except XapiError as e:  # the codec raises the base class; pick the subclass for the code
        raise error_for(e.code, e.params, method=method) from None
    except codec.CodecError as e:
        raise ProtocolError(method, f"malformed XML-RPC envelope: {e}", url=url) from e
