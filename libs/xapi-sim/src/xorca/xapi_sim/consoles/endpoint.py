"""``CONNECT /console`` and its WebSocket variant: RFB to the VM's generated screen (XAPI.md §6).

The request must reach the host the VM is resident on, carry a valid session (query parameter or
cookie), and name a console or a VM by ``uuid=`` or ``ref=``. Refusals are xapi's (``console.ml``):
401 with the handler's realm, and a 500 naming ``Console.Failure`` for a console that is not of a
VM running on this host.
"""

from __future__ import annotations

from xorca.xapi.errors import XapiError
from xorca.xapi_sim.consoles.rfb import serve_rfb
from xorca.xapi_sim.consoles.websocket import (
    WebSocketHandshakeError,
    accept_websocket,
    handshake_response,
)
from xorca.xapi_sim.http.server import (
    Request,
    Response,
    Stream,
    Takeover,
    bad_request,
    internal_error,
    unauthorised,
)
from xorca.xapi_sim.state.pool import SimPool

#: the label of xapi's console handler, the realm of its 401
REALM = "Connection to VM console"
#: what xapi's 500 page names when the console is not of a VM running here
FAILURE = "Console.Failure"


async def console_takeover(pool: SimPool, host: str, request: Request) -> Response | Takeover:
    session = request.param("session_id") or request.cookie("session_id")
    try:
        pool.check_session(session)
    except XapiError:
        return unauthorised(REALM)
    console = find_console(pool, request)
    if console is None:
        return internal_error(FAILURE)
    vm = str(pool.db.field("console", console, "VM"))
    record = pool.db.get("VM", vm)
    if record["power_state"] != "Running" or record["resident_on"] != host:
        return internal_error(FAILURE)
    name = str(record["name_label"])
    if request.method == "CONNECT":

        async def raw(stream: Stream) -> None:
            await serve_rfb(stream, stream, name=name)

        return raw
    if request.method == "GET" and request.headers.get("upgrade", "").lower() == "websocket":
        try:
            handshake_response(request.method, request.headers)
        except WebSocketHandshakeError:
            return bad_request()

        async def websocket(stream: Stream) -> None:
            ws = await accept_websocket(stream, stream, request.method, request.headers)
            await serve_rfb(ws, ws, name=name)

        return websocket
    return bad_request()


def find_console(pool: SimPool, request: Request) -> str | None:
    """The rfb console named by ``uuid=``/``ref=``, which may name a console or a VM."""
    db = pool.db
    key = (request.query.get("uuid") or request.query.get("ref") or [""])[0]
    if not key:
        return None
    ref = db.by_uuid["console"].get(key) or db.by_uuid["VM"].get(key) or key
    cls = db.class_of.get(ref)
    if cls == "console":
        return ref
    if cls == "VM":
        consoles = db.get("VM", ref)["consoles"]
        assert isinstance(consoles, list)
        rfb = [c for c in consoles if db.field("console", str(c), "protocol") == "rfb"]
        return str(rfb[0]) if rfb else None
    return None
