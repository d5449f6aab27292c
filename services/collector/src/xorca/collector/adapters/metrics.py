"""The collector's Prometheus metrics, in a registry of its own (several collectors may share a
process: the demo, the tests).

========================================  =========  =============================================
metric                                    type       meaning
========================================  =========  =============================================
xorca_collector_pools_owned               gauge      leases this replica holds
xorca_collector_pools{state}              gauge      pools served, by published state
xorca_collector_changes_total{pool}       counter    object changes received from XAPI (rate():
                                                     events per second)
xorca_collector_messages_total{outcome}   counter    object messages: ``stored``, ``duplicate``
                                                     (JetStream had it), ``unchanged`` (not sent:
                                                     the log already said it), ``refused`` (no
                                                     valid subject, or larger than NATS accepts)
xorca_collector_publish_retries_total     counter    messages sent again after a failed publish
xorca_collector_in_flight                 gauge      publishes awaiting their acknowledgement
xorca_collector_lag_seconds               histogram  from a batch's arrival from XAPI to the
                                                     acknowledgement of its last message
xorca_collector_event_age_seconds{pool}   gauge      now - the pool's last answer from XAPI
                                                     (set at each batch and status)
xorca_collector_nats_reconnects_total     counter    reconnections to NATS
xorca_collector_commands_total{outcome}   counter    commands: accepted, failed, rejected,
                                                     forwarded (to the replica that serves them)
xorca_collector_lease_changes_total{what} counter    leases acquired, released, lost, fenced
========================================  =========  =============================================

``{pool}`` is the registry id: one series per managed pool, a bounded set.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from xorca.runtime.metrics import ServiceMetrics

__all__ = ["Metrics"]

_LAG_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics(ServiceMetrics):
    """Every metric of one collector replica."""

    def __init__(self) -> None:
        super().__init__()
        r = self.registry
        self.pools_owned = Gauge("xorca_collector_pools_owned", "Leases held", registry=r)
        self.pools = Gauge(
            "xorca_collector_pools", "Pools served, by published state", ["state"], registry=r
        )
        self.changes = Counter(
            "xorca_collector_changes", "Object changes received from XAPI", ["pool"], registry=r
        )
        self.messages = Counter(
            "xorca_collector_messages", "Object messages by outcome", ["outcome"], registry=r
        )
        self.retries = Counter(
            "xorca_collector_publish_retries", "Messages sent again after a failure", registry=r
        )
        self.in_flight = Gauge(
            "xorca_collector_in_flight", "Publishes awaiting their ack", registry=r
        )
        self.lag = Histogram(
            "xorca_collector_lag_seconds",
            "From a batch's arrival from XAPI to the ack of its last message",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.event_age = Gauge(
            "xorca_collector_event_age_seconds",
            "Seconds since the pool's last answer from XAPI",
            ["pool"],
            registry=r,
        )
        self.reconnects = Counter(
            "xorca_collector_nats_reconnects", "Reconnections to NATS", registry=r
        )
        self.commands = Counter(
            "xorca_collector_commands", "Commands by outcome", ["outcome"], registry=r
        )
        self.lease_changes = Counter(
            "xorca_collector_lease_changes", "Lease events", ["what"], registry=r
        )
