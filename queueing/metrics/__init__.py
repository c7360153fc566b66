"""Metrics the workers count, kept in Redis so that every forked job process adds to the
same figures (prometheus-client's multiprocess mode would leave a file per job process).

`catalogue` declares them, `tally` counts them (one round trip per provider request),
`store` is their Redis layout; mailhub.metrics exposes them to Prometheus at scrape time.
"""
