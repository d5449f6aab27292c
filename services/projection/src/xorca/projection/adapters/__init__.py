"""The projection's I/O: the log on JetStream (and deltas on core NATS), Prometheus. The state
store is its own library (``xorca.store``)."""
