"""The simulator's content: what a realistic pool holds, built row by row.

``inventory.build_pool`` is the entry point; the modules here are its parts: ``names`` (tables of
names, hardware, OSes), ``rowbatch`` (bulk row creation, seeded ids), ``site`` (where VMs go),
``hosts``, ``devices``, ``guests`` and ``history`` (messages and old tasks).
"""
