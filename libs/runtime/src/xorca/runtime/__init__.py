"""What every xorca service runs on:

- `serve`: `serve` (health endpoint, start, run, drain), `run_until_signalled`, `run_process`
  and `exit_status` (SIGINT and SIGTERM, the process), the `Service` and `Probed` protocols;
- `settings`: `ServiceSettings`, what every service reads from the environment (NATS, logs);
- `bus`: `connected_bus`, NATS as a service starts with it (waited for, streams laid out);
- `backoff`: `Backoff`, the one jittered exponential backoff, and `retry`;
- `metrics`: `ServiceMetrics`, the base of each service's Prometheus registry;
- `logs` (JSON lines), `http` (the ``/healthz`` ``/readyz`` ``/metrics`` server), `aio`
  (asyncio helpers that make cancellation safe), `inprocess` (services inside another program).
"""
