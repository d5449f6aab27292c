"""The collector's I/O: JetStream, heartbeats on core NATS, XAPI, Prometheus. Each module hides
one library."""
