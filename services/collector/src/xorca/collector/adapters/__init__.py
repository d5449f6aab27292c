"""The collector's I/O: NATS and JetStream, XAPI, HTTP. Each module hides one library."""
