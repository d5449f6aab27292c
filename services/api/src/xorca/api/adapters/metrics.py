"""The gateway's Prometheus metrics, in a registry of its own.

==========================================  =========  ===========================================
metric                                      type       meaning
==========================================  =========  ===========================================
xorca_api_requests_total{method,route,      counter    HTTP requests answered
status}
xorca_api_request_seconds{route}            histogram  time to answer (to the first byte of a
                                                       stream)
xorca_api_sse_clients                       gauge      SSE streams open
xorca_api_sse_events_total{event}           counter    events sent: ``put`` (catching up from
                                                       the store), ``change`` (live), ``ping``,
                                                       ``reset``
xorca_api_sse_cut_total                     counter    streams closed because the client fell
                                                       behind
xorca_api_hub_position                      gauge      store revision the live view is at
xorca_api_hub_lag                           gauge      store revision - hub position (sampled at
                                                       /readyz and /metrics)
xorca_api_hub_resyncs_total                 counter    times deltas were lost and read back
xorca_api_commands_total{outcome}           counter    actions sent: accepted, failed
==========================================  =========  ===========================================
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from xorca.runtime.metrics import ServiceMetrics

__all__ = ["Metrics"]

_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__()
        r = self.registry
        self.requests = Counter(
            "xorca_api_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.request_time = Histogram(
            "xorca_api_request_seconds", "Time to answer", ["route"], buckets=_SECONDS, registry=r
        )
        self.sse_clients = Gauge("xorca_api_sse_clients", "SSE streams open", registry=r)
        self.sse_events = Counter("xorca_api_sse_events", "SSE events", ["event"], registry=r)
        self.sse_cut = Counter("xorca_api_sse_cut", "Streams cut: client behind", registry=r)
        self.hub_position = Gauge("xorca_api_hub_position", "Live view's revision", registry=r)
        self.hub_lag = Gauge("xorca_api_hub_lag", "Store revision - live view's", registry=r)
        self.hub_resyncs = Counter("xorca_api_hub_resyncs", "Deltas lost, reread", registry=r)
        self.commands = Counter("xorca_api_commands", "Actions sent", ["outcome"], registry=r)
