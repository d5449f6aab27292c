"""The projection's Prometheus metrics, in a registry of its own (the demo and the tests run
several services in one process).

============================================  =========  ==========================================
metric                                        type       meaning
============================================  =========  ==========================================
xorca_projection_position                     gauge      stream sequence the store covers
xorca_projection_lag_messages                 gauge      messages in the stream after the position
xorca_projection_lag_seconds                  histogram  from a batch's newest message's arrival in
                                                         the stream to its commit
xorca_projection_batch_size                   histogram  log messages per transaction
xorca_projection_commit_seconds               histogram  time of one store transaction
xorca_projection_messages_total               counter    log messages applied
xorca_projection_rows_total                   counter    object rows written (tombstones included)
xorca_projection_deltas_total{op}             counter    deltas published: put, patch, del
xorca_projection_dead_letters_total{reason}   counter    messages skipped: ``malformed`` (does not
                                                         decode), ``untranslatable``, ``unknown``
                                                         (a subject the projection does not read)
xorca_projection_failures_total{what}         counter    store or nats failures (each pauses the
                                                         projection and resumes from the store)
============================================  =========  ==========================================
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from xorca.runtime.metrics import ServiceMetrics

__all__ = ["Metrics"]

_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_SIZES = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000)


class Metrics(ServiceMetrics):
    """Every metric of one projection."""

    def __init__(self) -> None:
        super().__init__()
        r = self.registry
        self.position = Gauge("xorca_projection_position", "Stream sequence covered", registry=r)
        self.lag_messages = Gauge(
            "xorca_projection_lag_messages", "Stream messages not yet applied", registry=r
        )
        self.lag = Histogram(
            "xorca_projection_lag_seconds",
            "From a batch's newest message to its commit",
            buckets=_SECONDS,
            registry=r,
        )
        self.batch_size = Histogram(
            "xorca_projection_batch_size", "Messages per transaction", buckets=_SIZES, registry=r
        )
        self.commit_time = Histogram(
            "xorca_projection_commit_seconds",
            "Time of one transaction",
            buckets=_SECONDS,
            registry=r,
        )
        self.messages = Counter("xorca_projection_messages", "Messages applied", registry=r)
        self.rows = Counter("xorca_projection_rows", "Object rows written", registry=r)
        self.deltas = Counter("xorca_projection_deltas", "Deltas published", ["op"], registry=r)
        self.dead_letters = Counter(
            "xorca_projection_dead_letters", "Messages skipped", ["reason"], registry=r
        )
        self.failures = Counter(
            "xorca_projection_failures", "Store or NATS failures", ["what"], registry=r
        )
