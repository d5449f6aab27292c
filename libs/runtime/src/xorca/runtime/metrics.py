"""`ServiceMetrics`: the base of every service's Prometheus metrics, each in a registry of its own
(the demo and the tests run several services in one process, so none of them uses the global
one), with what ``/metrics`` serves and what tests and benchmarks read back."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

__all__ = ["ServiceMetrics"]


class ServiceMetrics:
    """A registry; subclasses declare their metrics in it (``registry=self.registry``)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)

    def exposition(self) -> bytes:
        """The text format a Prometheus scrape gets."""
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """A sample's current value (0 when absent), for tests and benchmarks."""
        return self.registry.get_sample_value(name, labels or None) or 0.0
