"""GET /v1/admin/analytics: the book's author sees what readers asked and how it went, behind ADMIN_API_KEY."""

from __future__ import annotations

from datetime import date, datetime, timezone

from attrs import field, frozen

from lib.access import KeyedRequest, require_bearer
from lib.clients import Clients
from lib.errors import InvalidRequest
from lib.hosts.messages import Incoming, Reply
from lib.storage.analytics import window
from lib.validation import build, one_of

ROUTE = "GET /v1/admin/analytics"
PERIODS = {"day": 1, "week": 7, "month": 30}  # UTC days in the report, the last one being `end`


def _day(value) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidRequest("end must be a day written YYYY-MM-DD, such as 2026-11-24", field="end") from None


@frozen
class AnalyticsQuery:
    period: str = field(
        default="week", validator=one_of(tuple(PERIODS)), metadata={"doc": "1, 7 or 30 UTC days, the last of them `end`"}
    )
    end: date | None = field(
        default=None,
        converter=_day,
        metadata={"schema": {"type": "string", "format": "date"}, "doc": "the last UTC day, YYYY-MM-DD; default today"},
    )

    FIELDS = ("period", "end")

    @classmethod
    def from_params(cls, params: dict) -> "AnalyticsQuery":
        return build(cls, params, allowed=cls.FIELDS)

    def window(self, today: date) -> tuple[datetime, datetime]:
        return window(self.end or today, PERIODS[self.period])


def parse(incoming: Incoming) -> KeyedRequest:
    return KeyedRequest.of(incoming)


async def handle(request: KeyedRequest, clients: Clients) -> Reply:
    """The analytics of the period's UTC days: per day, in total, and the tables of questions and answers."""
    require_bearer(request.token, clients.config.admin_api_key, ROUTE, variable="ADMIN_API_KEY")
    query = AnalyticsQuery.from_params(request.params)
    since, until = query.window(datetime.now(timezone.utc).date())
    report = await clients.store.analytics(since=since, until=until, prices=clients.config.prices)
    return Reply(body={"period": query.period, **report}, headers={"Cache-Control": "no-store"})
