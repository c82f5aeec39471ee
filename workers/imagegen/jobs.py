"""Job kinds of this loop (registered with workers.registry at import)."""
