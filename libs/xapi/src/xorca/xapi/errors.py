"""XAPI errors as one exception type carrying XAPI's own code and parameters.

    XapiError(code, params)        an API failure: ``ErrorDescription = [code, *params]``

The client (``xorca.xapi.client``) grows its tree of subclasses for the codes a caller acts on; the
simulator raises `XapiError` and the dispatcher turns it into the wire's failure envelope.
"""

from __future__ import annotations

from collections.abc import Sequence


class XapiError(Exception):
    """An XAPI failure: ``code`` is the error code, ``params`` its string parameters."""

    def __init__(self, code: str, params: Sequence[object] = ()) -> None:
        self.code = code
        self.params = [str(p) for p in params]
        super().__init__(code, *self.params)

    def __str__(self) -> str:
        return f"{self.code} {self.params}" if self.params else self.code

    @property
    def description(self) -> list[str]:
        """The wire's ``ErrorDescription``: the code, then the parameters."""
        return [self.code, *self.params]
