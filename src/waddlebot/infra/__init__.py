"""Infrastructure ports (cache, bus, broadcast, rate limits, database) and their adapters."""
