"""What a collector replica does, on top of the pure core and the adapters: neither a decision
without I/O (``core/``) nor the wrapper of one library (``adapters/``), but the long-running
loops that put them together.

    collector   `Collector`: one replica, assembled from the parts below (what `serve` runs)
    supervisor  the registry and the leases, turned into a `PoolRunner` per held lease
    runner      one pool while its lease is held: connect, read the log back, publish, report
    publisher   a pool's batches and statuses, until JetStream has them whatever NATS does
    commands    ``xorca.v1.cmd.*`` request/reply, run here or forwarded to the pool's owner
"""

from xorca.collector.service.collector import Collector

__all__ = ["Collector"]
