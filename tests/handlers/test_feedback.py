"""handlers/feedback.py called directly, on SQLite and on a real PostgreSQL."""

import uuid

import pytest

from handlers import feedback
from handlers.feedback import FeedbackRequest
from lib.access import KeyedRequest
from lib.config import Config
from lib.errors import Forbidden, InvalidRequest, Unauthorized, Unavailable
from tests.parts import pool

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgres"])
def config(request, tmp_path) -> Config:
    url = request.getfixturevalue("database_url") if request.param == "postgres" else None
    return Config(data_dir=tmp_path, database_url=url, index_on_start=False, admin_api_key="s3cret-admin")


async def post(clients, **fields):
    return await feedback.handle(FeedbackRequest.from_json(fields), clients)


async def test_stores_a_rating_once_and_answers_a_retry_with_the_same_id(config):
    feedback_id = str(uuid.uuid4())
    async with pool(config) as clients:
        first = await post(clients, feedback_id=feedback_id, answer_id="ans_1", rating=-1, reason="wrong")
        again = await post(clients, feedback_id=feedback_id, answer_id="ans_1", rating=-1, reason="wrong")
        page = await clients.store.list_feedback()
    assert (first.status, first.body) == (201, {"id": feedback_id, "status": "recorded"})
    assert (again.status, again.body) == (200, {"id": feedback_id, "status": "recorded"})
    assert len(page.items) == 1


async def test_makes_an_id_when_the_client_sends_none(config):
    async with pool(config) as clients:
        reply = await post(clients, answer_id="ans_2", rating=1)
    assert reply.status == 201 and uuid.UUID(reply.body["id"])


async def test_answers_503_with_retry_after_when_the_database_is_down(tmp_path, pg_cluster):
    config = Config(data_dir=tmp_path, database_url=pg_cluster.url, database_timeout=1.0, index_on_start=False)
    pg_cluster.stop()
    try:
        async with pool(config) as clients:
            with pytest.raises(Unavailable) as caught:
                await post(clients, answer_id="ans_3", rating=1)
    finally:
        pg_cluster.start()
    assert caught.value.STATUS == 503 and int(caught.value.headers["Retry-After"]) > 0


async def admin(clients, token=None, **params):
    return await feedback.handle_admin(KeyedRequest(token=token, params=params), clients)


async def test_admin_route_wants_the_right_key(config):
    async with pool(config) as clients:
        await post(clients, answer_id="ans_4", rating=-1, reason="incomplete", comment="missing the port")
        with pytest.raises(Unauthorized):
            await admin(clients)
        with pytest.raises(Unauthorized):
            await admin(clients, token="s3cret-admiN")
        listed = await admin(clients, token="s3cret-admin", rating="-1")
        summary = await admin(clients, token="s3cret-admin", view="summary")
        with pytest.raises(InvalidRequest) as caught:
            await admin(clients, token="s3cret-admin", rating="sideways")
    [item] = listed.body["items"]
    assert item["answer_id"] == "ans_4" and item["comment"] == "missing the port"
    assert summary.status == 200 and summary.body
    assert caught.value.field == "rating"


async def test_admin_route_says_it_is_disabled_without_a_key(tmp_path):
    async with pool(Config(data_dir=tmp_path, index_on_start=False)) as clients:
        with pytest.raises(Forbidden) as caught:
            await admin(clients, token="anything")
    assert "ADMIN_API_KEY" in caught.value.message
