"""The operator's surface: an HTTP server in `opsdesk run` with probes, Prometheus
metrics, the digest and health as JSON, and the optimization page.

Import `bot.operator.server` only when the server starts; prometheus-client is
imported on the first scrape of /metrics.
"""
