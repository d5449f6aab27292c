"""The collector's pure core: lease decisions, publish planning, command checks, status mapping.

Nothing here does I/O: plain values in, plain values out, tested without a server
(``tests/unit/test_collector_*.py``).
"""
