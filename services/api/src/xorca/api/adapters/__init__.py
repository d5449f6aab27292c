"""The gateway's I/O: the live view fed by deltas (`hub`), the tokens bucket (`tokens`), commands to
the collectors (`commands`), Prometheus (`metrics`)."""
