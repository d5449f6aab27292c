"""XAPI for xorca: the async client (`Xapi`), the wire codec, the datamodel, and the simulator."""

from xorca.xapi.client import Task, TlsPolicy, Xapi
from xorca.xapi.errors import XapiError

__all__ = ["Task", "TlsPolicy", "Xapi", "XapiError"]
