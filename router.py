"""The composition root: the route table, and the hosts that serve it.

Importing this module builds nothing and reads nothing. A server asks for
`app` (`uvicorn router:app`, or `python router.py`) and AWS Lambda for
`lambda_handler`: each is built then, from the environment.
"""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from handlers import admin, feedback, health, metrics, query
from lib import access, logs, monitoring, openapi
from lib.clients import Clients, open_clients
from lib.config import Config, ConfigError
from lib.hosts import Pool, pages
from lib.hosts.messages import Route

STATIC = Path(__file__).parent / "lib" / "static"

# The values requests are read into: the OpenAPI document states their limits.
REQUESTS = (query.QueryRequest, query.Turn, feedback.FeedbackRequest, feedback.FeedbackQuery, admin.AnalyticsQuery)
ROUTES = (
    Route("POST", "/v1/query", query.parse, query.handle, needs_key=True, limited=True),
    Route("GET", "/health", health.parse, health.handle),
    Route("POST", "/v1/feedback", feedback.parse, feedback.handle, needs_key=True, limited=True),
    Route("GET", "/v1/feedback", feedback.parse_admin, feedback.handle_admin, limited=True, keyed=True),
    Route("GET", "/metrics", metrics.parse, metrics.handle, keyed=True),
    Route("GET", "/v1/admin/analytics", admin.parse, admin.handle, limited=True, keyed=True),
)


def page_routes() -> tuple[Route, ...]:
    """The chat page, the widget, the analytics page, and Swagger UI over the OpenAPI document."""
    return (
        pages.page("/", STATIC / "chat" / "index.html"),
        *pages.folder("/chat", STATIC / "chat"),
        pages.page("/widget.js", STATIC / "widget.js"),
        pages.page("/admin", STATIC / "admin" / "index.html", headers=pages.OWN_FILES_ONLY),
        *pages.folder("/admin", STATIC / "admin"),
        pages.document("/openapi.json", openapi.document(REQUESTS)),
        pages.document("/docs", openapi.SWAGGER_PAGE, "text/html; charset=utf-8"),
        *pages.folder("/docs/assets", STATIC / "swagger-ui"),
    )


def create_app(config: Config | None = None, *, clients: Clients | None = None):
    """The Falcon ASGI app for `config` (read from the environment when None), or lending `clients` as they are."""
    from lib.hosts import falcon_host  # a server's, never loaded by a function host

    if clients is not None:
        config, pool = clients.config, Pool(clients=clients)
    else:
        config = config or Config.from_environ()
        pool = Pool(opener=lambda: open_clients(config))
    return falcon_host.app(ROUTES + page_routes(), pool, allowed_origins=config.allowed_origins)


def configured(config: Config) -> Config:
    """Set the process up for `config`: JSON log lines without secrets, and Sentry when SENTRY_DSN is set."""
    logs.configure(config.log_level, logs.secrets_of(config))
    monitoring.setup(config)
    if config.api_keys:  # key ids are new at each start: which is which
        logging.getLogger("bookbot").info(access.describe_key_ids(config.api_keys))
    return config


def _server_config() -> Config:
    try:
        config = configured(Config.from_environ())
    except ConfigError as error:
        sys.exit(f"configuration error: {error}")
    # Threads beside the event loop (the local model, the tokenizer, a Qdrant local-mode folder being migrated)
    # hold the GIL for 5 ms at a time by default, and the loop needs it many times per request.
    sys.setswitchinterval(0.0005)
    return config


def __getattr__(name: str):
    """`router:app` for an ASGI server, `router.lambda_handler` for AWS Lambda: built when first asked for, then kept."""
    if name == "app":
        built = create_app(_server_config())
    elif name == "lambda_handler":
        from lib.hosts import aws_lambda

        # An invocation leaves nothing running: no indexing, migration or pruning in the background.
        built = aws_lambda.adapt(ROUTES, Pool(opener=lambda: open_clients(configured(Config.from_environ()), background=False)))
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = built
    return built


def main() -> None:
    import uvicorn

    from lib.hosts import server

    config = _server_config()
    # SIGTERM: uvicorn stops accepting, lets requests (streams too) finish within the grace, closes the pool,
    # then raises the signal again; this handler makes that a clean exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # h11, bounded (lib/hosts/server.py): it refuses headers over 16 KiB, where httptools took 8 MB of them.
    served = server.Server(uvicorn.Config(create_app(config), host="0.0.0.0", port=config.port, **server.settings(config)))
    served.run()
    monitoring.shutdown()  # what Sentry still holds goes now
    if not served.started:
        sys.exit("the server did not start; the log says why")


if __name__ == "__main__":
    main()
