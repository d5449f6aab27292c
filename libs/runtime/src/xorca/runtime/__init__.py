"""What every xorca service runs on: JSON logs (`logs`), the ``/healthz`` ``/readyz`` ``/metrics``
HTTP server (`http`) and the asyncio helpers that make cancellation safe (`aio`)."""
