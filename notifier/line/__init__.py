"""LINE: the one client seam for outbound calls (`client`) and a local simulator (`sim`)."""

from .client import LineClient, LineError, SendResult

__all__ = ["LineClient", "LineError", "SendResult"]
