"""The filter language of the REST API and the SSE stream (``?filter=``), as pure functions.

    >>> query = parse_query("power_state:Running tags:prod -name_label:test*")
    >>> query.matches({"power_state": "Running", "tags": ["prod"], "name_label": "web-01"})
    True

`parse_query` reads the text once (patterns compiled, numbers parsed) into a `Query`, a frozen,
hashable tree that `str()` writes back as equivalent text; ``matches`` then evaluates it on each
object without parsing anything again. The language is described for users in docs/filter.md.

Modules: `query_values` (numbers, dates, wildcard patterns), `query_eval` (the tree and its
evaluation), `query_parse` (lexer and parser).
"""

from __future__ import annotations

from xorca.api.core.query_eval import MATCH_ALL, Query
from xorca.api.core.query_parse import MAX_DEPTH, MAX_LENGTH, QueryError, parse_query

__all__ = ["MATCH_ALL", "MAX_DEPTH", "MAX_LENGTH", "Query", "QueryError", "parse_query"]
