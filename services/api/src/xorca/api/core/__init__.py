"""The api's pure core: no I/O, only the standard library."""
