"""The api gateway: REST snapshots, SSE deltas with resume, actions as tasks (docs/api.md).

    python -m xorca.api                    # or: xorca api; settings from XORCA_*

Layout, the same in every service: `__main__` (the process), `settings` (``XORCA_*``),
`bootstrap` (the only place that reads the settings and builds the adapters, then hands the
gateway to `xorca.runtime.serve.serve`); ``core/`` (pure: queries, fields, ACLs, actions,
problems, SSE framing); ``adapters/`` (the live view, tokens, commands, Prometheus); `service`
(`Gateway`: what `serve` runs); and the HTTP layer: `app` (the FastAPI application), ``routes/``,
`http` (middleware and problem responses), `state` (what the routes share), `web` (the UI).
"""
