"""GET /metrics: the service's counters and histograms in Prometheus's text format, for a scraper.

The numbers are this process's: each worker of a service, and each warm
execution environment of a function host, counts its own (Prometheus adds
them up across its targets).
"""

from __future__ import annotations

import hmac

from attrs import frozen

from lib.access import bearer_token
from lib.errors import Unauthorized
from lib.hosts.messages import Incoming, Reply
from lib.metrics import CONTENT_TYPE


@frozen
class MetricsRequest:
    """A scrape: the Bearer token it presents, if any."""

    token: str | None = None


def parse(incoming: Incoming) -> MetricsRequest:
    return MetricsRequest(token=bearer_token(incoming.headers))


async def handle(request: MetricsRequest, clients) -> Reply:
    """Every metric, read now; with METRICS_API_KEY set, only for a scraper that presents it."""
    key = clients.config.metrics_api_key
    if key and (request.token is None or not hmac.compare_digest(request.token.encode(), key.encode())):
        raise Unauthorized("GET /metrics needs Authorization: Bearer METRICS_API_KEY")
    text = clients.metrics.exposition(answer_log=await clients.store.stats())
    return Reply(body=text, headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"})
