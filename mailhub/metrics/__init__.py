"""The Prometheus endpoint: who may read it (`access`), the workers' counters from Redis
(`counters`), the figures computed at scrape time (`gauges`), and the view (`views`)."""
