"""GET /metrics: the service's counters and histograms in Prometheus's text format, for a scraper.

The numbers are this process's: each worker of a service, and each warm
execution environment of a function host, counts its own (Prometheus adds
them up across its targets).
"""

from __future__ import annotations

from attrs import frozen

from lib.access import bearer_token, require_bearer
from lib.clients import Clients
from lib.hosts.messages import Incoming, Reply
from lib.metrics import CONTENT_TYPE


@frozen
class MetricsRequest:
    """A scrape: the Bearer token it presents, if any."""

    token: str | None = None


def parse(incoming: Incoming) -> MetricsRequest:
    return MetricsRequest(token=bearer_token(incoming.headers))


async def handle(request: MetricsRequest, clients: Clients) -> Reply:
    """Every metric, read now; with METRICS_API_KEY set, only for a scraper that presents it."""
    require_bearer(request.token, clients.config.metrics_api_key, "GET /metrics", variable="METRICS_API_KEY", open_when_unset=True)
    text = clients.metrics.exposition(answer_log=await clients.store.stats())
    return Reply(body=text, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})
