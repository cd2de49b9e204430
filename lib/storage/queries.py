"""The SQL both dialects share, with named parameters (:name) that both drivers bind.

Values never enter the text: only the fixed fragments below are put together.
"""

INSERT_FEEDBACK = """
INSERT INTO feedback (
    feedback_id, answer_id, rating, reason, comment, query, answer, sources,
    selected_text, session_id, answer_known, created_at
) VALUES (
    :feedback_id, :answer_id, :rating, :reason, :comment, :query, :answer, :sources,
    :selected_text, :session_id, EXISTS (SELECT 1 FROM answers WHERE id = :answer_id), :created_at
)
ON CONFLICT (feedback_id) DO NOTHING
RETURNING answer_known
"""

SELECT_FEEDBACK_KNOWN = "SELECT answer_known FROM feedback WHERE feedback_id = :feedback_id"

INSERT_ANSWER = """
INSERT INTO answers (
    id, created_at, query, mode, answerable, refusal_reason, retrieved, cited, model,
    prompt_tokens, completion_tokens, latency_ms, collection, index_version, session_id
) VALUES (
    :id, :created_at, :query, :mode, :answerable, :refusal_reason, :retrieved, :cited, :model,
    :prompt_tokens, :completion_tokens, :latency_ms, :collection, :index_version, :session_id
)
ON CONFLICT (id) DO NOTHING
"""

# Feedback can arrive before its answer leaves the answer log's queue.
MARK_ANSWER_KNOWN = "UPDATE feedback SET answer_known = TRUE WHERE answer_id = :id AND NOT answer_known"

# The answer log's batches, as each dialect's Session.execute_many takes them: SQLite runs the one-row
# statement for each row; PostgreSQL runs one statement whose parameters are arrays, one per column,
# so that a batch is one round trip and one parse however many answers it holds.
BATCHES = {
    "sqlite": {"insert_answers": INSERT_ANSWER, "mark_answers_known": MARK_ANSWER_KNOWN},
    "postgres": {
        "insert_answers": """
INSERT INTO answers (
    id, created_at, query, mode, answerable, refusal_reason, retrieved, cited, model,
    prompt_tokens, completion_tokens, latency_ms, collection, index_version, session_id
)
SELECT * FROM unnest(
    CAST(:id AS TEXT[]), CAST(:created_at AS TIMESTAMPTZ[]), CAST(:query AS TEXT[]), CAST(:mode AS TEXT[]),
    CAST(:answerable AS BOOLEAN[]), CAST(:refusal_reason AS TEXT[]), CAST(:retrieved AS TEXT[]),
    CAST(:cited AS TEXT[]), CAST(:model AS TEXT[]), CAST(:prompt_tokens AS INTEGER[]),
    CAST(:completion_tokens AS INTEGER[]), CAST(:latency_ms AS DOUBLE PRECISION[]), CAST(:collection AS TEXT[]),
    CAST(:index_version AS TEXT[]), CAST(:session_id AS TEXT[])
)
ON CONFLICT (id) DO NOTHING
""",
        "mark_answers_known": (
            "UPDATE feedback SET answer_known = TRUE WHERE answer_id = ANY(CAST(:id AS TEXT[])) AND NOT answer_known"
        ),
    },
}

SELECT_FEEDBACK_PAGE = """
SELECT f.feedback_id, f.answer_id, f.rating, f.reason, f.comment, f.query AS feedback_query,
       f.answer, f.sources, f.selected_text, f.session_id, f.answer_known, f.created_at,
       a.query AS answer_query, a.mode, a.answerable, a.refusal_reason, a.retrieved, a.cited,
       a.model, a.collection, a.index_version, a.created_at AS answered_at
FROM feedback f LEFT JOIN answers a ON a.id = f.answer_id
WHERE {conditions}
ORDER BY f.created_at DESC, f.feedback_id DESC
LIMIT :limit
"""

FEEDBACK_FILTERS = {
    "rating": "f.rating = :rating",
    "reason": "f.reason = :reason",
    "since": "f.created_at >= :since",
    "until": "f.created_at < :until",
    "before": "(f.created_at < :before_at OR (f.created_at = :before_at AND f.feedback_id < :before_id))",
}

COUNT_FEEDBACK_BY_DAY = """
SELECT {day} AS day, f.rating, f.reason, COUNT(*) AS n
FROM feedback f
WHERE {conditions}
GROUP BY {day}, f.rating, f.reason
ORDER BY day
"""

COUNT_ANSWERS = """
SELECT a.answerable, a.refusal_reason, COUNT(*) AS n
FROM answers a
WHERE {conditions}
GROUP BY a.answerable, a.refusal_reason
"""

ANSWER_FILTERS = {
    "since": "a.created_at >= :since",
    "until": "a.created_at < :until",
}

MOST_DOWN_VOTED = """
SELECT COALESCE(a.query, f.query) AS query, COUNT(*) AS down_votes, MAX(f.created_at) AS last_at
FROM feedback f LEFT JOIN answers a ON a.id = f.answer_id
WHERE f.rating = -1 AND COALESCE(a.query, f.query) IS NOT NULL AND {conditions}
GROUP BY COALESCE(a.query, f.query)
ORDER BY down_votes DESC, last_at DESC
LIMIT :top
"""

SELECT_CASES = """
SELECT f.feedback_id, f.answer_id, f.reason, f.comment, f.query AS feedback_query, f.sources,
       a.query AS answer_query, a.retrieved
FROM feedback f LEFT JOIN answers a ON a.id = f.answer_id
WHERE f.rating = :rating
ORDER BY f.created_at, f.feedback_id
"""

# Oldest first, a batch at a time; feedback is never pruned: a reader's rating keeps its own snapshot.
DELETE_OLD_ANSWERS = """
DELETE FROM answers
WHERE id IN (SELECT id FROM answers WHERE created_at < :before ORDER BY created_at LIMIT :batch)
"""


def where(filters: dict[str, str], present) -> str:
    """The AND of the fixed fragments named in `present`, or TRUE when there are none."""
    return " AND ".join(filters[name] for name in present) or "TRUE"
