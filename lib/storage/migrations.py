"""Numbered schema steps per dialect, applied once each and recorded in schema_migrations.

A step is never edited once released: a change to the schema is a new step at
the end of both lists. Each backend applies the missing steps in one
transaction under a lock, so two processes starting at once apply each step
exactly once (PostgreSQL: an advisory lock; SQLite: BEGIN IMMEDIATE).
"""

from __future__ import annotations

from attrs import frozen

# Any fixed number will do; it names this schema's lock among a database's advisory locks.
ADVISORY_LOCK_KEY = 7_311_840_264_510_017


@frozen
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


CREATE_SCHEMA_MIGRATIONS = {
    "postgres": """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
        )""",
    "sqlite": """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f+00:00', 'now'))
        )""",
}

_POSTGRES = (
    Migration(
        1,
        "answers and feedback",
        (
            """CREATE TABLE answers (
                id TEXT PRIMARY KEY,
                created_at TIMESTAMPTZ NOT NULL,
                query TEXT,
                mode TEXT NOT NULL,
                answerable BOOLEAN NOT NULL,
                refusal_reason TEXT,
                retrieved TEXT NOT NULL DEFAULT '[]',
                cited TEXT NOT NULL DEFAULT '[]',
                model TEXT,
                prompt_tokens INTEGER NOT NULL DEFAULT 0,
                completion_tokens INTEGER NOT NULL DEFAULT 0,
                latency_ms DOUBLE PRECISION NOT NULL DEFAULT 0,
                collection TEXT NOT NULL,
                index_version TEXT,
                session_id TEXT
            )""",
            "CREATE INDEX answers_created_at ON answers (created_at)",
            """CREATE TABLE feedback (
                feedback_id TEXT PRIMARY KEY,
                answer_id TEXT NOT NULL,
                rating SMALLINT NOT NULL CHECK (rating IN (-1, 1)),
                reason TEXT,
                comment TEXT,
                query TEXT,
                answer TEXT,
                sources TEXT NOT NULL DEFAULT '[]',
                selected_text TEXT,
                session_id TEXT,
                answer_known BOOLEAN NOT NULL,
                created_at TIMESTAMPTZ NOT NULL
            )""",
            "CREATE INDEX feedback_created_at ON feedback (created_at DESC, feedback_id DESC)",
            "CREATE INDEX feedback_rating_created_at ON feedback (rating, created_at DESC)",
            "CREATE INDEX feedback_answer_id ON feedback (answer_id)",
        ),
    ),
)

# SQLite keeps timestamps as fixed-width UTC text ('2025-01-31 12:00:00.000000+00:00'),
# which sorts and compares like the time it names.
_SQLITE = (
    Migration(
        1,
        "answers and feedback",
        (
            """CREATE TABLE answers (
                id TEXT PRIMARY KEY,
                created_at TEXT NOT NULL,
                query TEXT,
                mode TEXT NOT NULL,
                answerable INTEGER NOT NULL,
                refusal_reason TEXT,
                retrieved TEXT NOT NULL DEFAULT '[]',
                cited TEXT NOT NULL DEFAULT '[]',
                model TEXT,
                prompt_tokens INTEGER NOT NULL DEFAULT 0,
                completion_tokens INTEGER NOT NULL DEFAULT 0,
                latency_ms REAL NOT NULL DEFAULT 0,
                collection TEXT NOT NULL,
                index_version TEXT,
                session_id TEXT
            )""",
            "CREATE INDEX answers_created_at ON answers (created_at)",
            """CREATE TABLE feedback (
                feedback_id TEXT PRIMARY KEY,
                answer_id TEXT NOT NULL,
                rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
                reason TEXT,
                comment TEXT,
                query TEXT,
                answer TEXT,
                sources TEXT NOT NULL DEFAULT '[]',
                selected_text TEXT,
                session_id TEXT,
                answer_known INTEGER NOT NULL,
                created_at TEXT NOT NULL
            )""",
            "CREATE INDEX feedback_created_at ON feedback (created_at DESC, feedback_id DESC)",
            "CREATE INDEX feedback_rating_created_at ON feedback (rating, created_at DESC)",
            "CREATE INDEX feedback_answer_id ON feedback (answer_id)",
        ),
    ),
)

MIGRATIONS: dict[str, tuple[Migration, ...]] = {"postgres": _POSTGRES, "sqlite": _SQLITE}


def pending(dialect: str, applied: set[int]) -> list[Migration]:
    """The steps of `dialect` not yet in `applied`, in order."""
    return [step for step in MIGRATIONS[dialect] if step.version not in applied]


def _check_numbering() -> None:
    for dialect, steps in MIGRATIONS.items():
        versions = [step.version for step in steps]
        if versions != list(range(1, len(steps) + 1)):
            raise AssertionError(f"{dialect} migrations must be numbered 1, 2, 3 …; got {versions}")
    if {len(steps) for steps in MIGRATIONS.values()} != {len(_POSTGRES)}:
        raise AssertionError("every dialect must have the same migration steps")


_check_numbering()


def apply(session, dialect: str) -> list[int]:
    """Apply the missing steps through `session`; the caller holds the lock and the transaction."""
    session.execute(CREATE_SCHEMA_MIGRATIONS[dialect])
    applied = {row["version"] for row in session.query("SELECT version FROM schema_migrations")}
    done = []
    for step in pending(dialect, applied):
        for statement in step.statements:
            session.execute(statement)
        session.execute(
            "INSERT INTO schema_migrations (version, name) VALUES (:version, :name)",
            version=step.version,
            name=step.name,
        )
        done.append(step.version)
    return done
