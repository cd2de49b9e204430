"""POST /v1/query: answer a question about the book, with the sections it came from."""

from __future__ import annotations

from attrs import field, frozen

from lib.access import key_id, presented_key
from lib.answer import flow
from lib.book.links import BOOK_ID
from lib.clients import Clients
from lib.errors import InvalidRequest
from lib.hosts.messages import Incoming, Reply
from lib.validation import boolean, build, http_url, integer, one_of, strip, text

MAX_TURNS = 20
MAX_HISTORY_CHARACTERS = 16_000


@frozen
class Turn:
    FIELDS = REQUIRED = ("role", "content")

    role: str = field(validator=one_of(("user", "assistant")))
    content: str = field(converter=strip, validator=text(min_length=1, max_length=MAX_HISTORY_CHARACTERS))


def _history(value) -> tuple[Turn, ...]:
    if value == ():
        return ()
    if not isinstance(value, list):
        raise InvalidRequest("history must be a list of {role, content} turns", field="history")
    if len(value) > MAX_TURNS:
        raise InvalidRequest(f"history must have at most {MAX_TURNS} turns, got {len(value)}", field="history")
    turns = []
    for turn in value:
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            raise InvalidRequest("each turn of history must be an object with role and content", field="history")
        try:
            turns.append(Turn(**turn))
        except InvalidRequest as error:
            raise InvalidRequest(f"history: {error.message}", field="history") from None
    if sum(len(turn.content) for turn in turns) > MAX_HISTORY_CHARACTERS:
        raise InvalidRequest(f"history must have at most {MAX_HISTORY_CHARACTERS} characters in all", field="history")
    return tuple(turns)


@frozen
class QueryRequest:
    query: str = field(converter=strip, validator=text(min_length=1, max_length=2000), metadata={"doc": "the question;"})
    top_k: int | None = field(
        default=None, validator=integer(low=1, high=20, optional=True), metadata={"doc": "default TOP_K (5)"}
    )
    selected_text: str | None = field(
        default=None,
        converter=strip,
        validator=text(max_length=8000, optional=True),
        metadata={"doc": "answer from this text only;"},
    )
    history: tuple[Turn, ...] = field(
        default=(),
        converter=_history,
        metadata={
            "schema": {"type": ["array", "null"], "maxItems": MAX_TURNS, "items": {"$ref": "#/components/schemas/Turn"}},
            "doc": f"earlier turns, at most {MAX_HISTORY_CHARACTERS:,} characters in all",
        },
    )
    page_url: str | None = field(
        default=None,
        validator=http_url(max_length=2000, optional=True),
        metadata={"doc": "the page selected_text comes from, with its heading's anchor: the answer's source (ignored without selected_text);"},
    )
    page_title: str | None = field(
        default=None, converter=strip, validator=text(max_length=300, optional=True), metadata={"doc": "the title of page_url's page;"}
    )
    page_section: str | None = field(
        default=None,
        converter=strip,
        validator=text(max_length=300, optional=True),
        metadata={"doc": "the heading of page_url the selection is under;"},
    )
    session_id: str | None = field(
        default=None, validator=text(min_length=1, max_length=128, pattern=r"[A-Za-z0-9_.-]+", optional=True)
    )
    stream: bool = field(default=False, validator=boolean, metadata={"doc": "true answers as text/event-stream"})
    book: str | None = field(
        default=None,
        validator=text(min_length=1, max_length=64, pattern=BOOK_ID.pattern, optional=True),
        metadata={"doc": "a book's id (its docs instance's id, as each source's `book` gives it): its passages are "
                  "searched first, every book's when none of them is close enough"},
    )
    book_only: bool = field(
        default=False, validator=boolean, metadata={"doc": "true searches `book` alone (then `book` is required)"}
    )
    request_id: str = ""
    key_id: str | None = None  # a fingerprint of the API key presented, never the key

    FIELDS = (
        "query", "top_k", "selected_text", "page_url", "page_title", "page_section", "history", "session_id", "stream",
        "book", "book_only",
    )
    REQUIRED = ("query",)
    SCHEMA = {  # book_only: true needs a book
        "if": {"required": ["book_only"], "properties": {"book_only": {"const": True}}},
        "then": {"required": ["book"], "properties": {"book": {"type": "string"}}},
    }

    def __attrs_post_init__(self) -> None:
        if self.book_only and self.book is None:
            raise InvalidRequest("book_only needs a book to search", field="book_only")

    @classmethod
    def from_json(cls, data: dict, *, request_id: str = "", key_id: str | None = None) -> "QueryRequest":
        return build(cls, data, allowed=cls.FIELDS, required=cls.REQUIRED, request_id=request_id, key_id=key_id)

    def question(self) -> flow.Question:
        return flow.Question(
            text=self.query,
            top_k=self.top_k,
            selected_text=self.selected_text,
            page=flow.Page(self.page_url, self.page_title or "", self.page_section or "") if self.page_url else None,
            history=self.history,
            session_id=self.session_id,
            key_id=self.key_id,
            request_id=self.request_id,
            book=self.book,
            book_only=self.book_only,
        )


def parse(incoming: Incoming) -> QueryRequest:
    key = presented_key(incoming.headers)
    return QueryRequest.from_json(incoming.json(), request_id=incoming.request_id, key_id=key_id(key) if key else None)


async def handle(request: QueryRequest, clients: Clients) -> Reply:
    """The answer as JSON, or as server-sent events when the request asks for a stream."""
    question = request.question()
    if request.stream:
        fields: dict = {}  # the access log line's, filled when the stream ends
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return Reply(events=await flow.stream(clients, question, fields), headers=headers, log=fields)
    body = await flow.answer(clients, question)
    return Reply(body=body, log=flow.log_fields(body))
