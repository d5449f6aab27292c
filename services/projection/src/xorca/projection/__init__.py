"""The projection: the log (XORCA_OBJECTS) in order, client objects into the state store, deltas
out (docs/projection.md).

    python -m xorca.projection [rebuild]   # or: xorca projection; settings from XORCA_*

Layout, the same in every service: `__main__` (the process), `settings` (``XORCA_*``),
`bootstrap` (the only place that reads the settings and builds the adapters, then hands the
projection to `xorca.runtime.serve.serve`); ``core/`` (pure: the translation of XAPI records into
client objects, the projector, deltas); ``adapters/`` (the log on JetStream, Prometheus);
`service` (`Projection`: the loop that puts them together); `schema` (the objects' JSON Schema).
"""
