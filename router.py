"""The composition root: the route table, the Falcon ASGI app, and the AWS Lambda entry point."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import falcon
import falcon.asgi
import uvicorn

from handlers import admin, feedback, health, metrics, query
from lib import logs, monitoring, openapi
from lib.clients import open_clients
from lib.config import Config, ConfigError
from lib.hosts import Pool, aws_lambda, falcon_host
from lib.hosts.messages import Route

STATIC = Path(__file__).parent / "lib" / "static"
# The analytics page's policy also as a header, for what a <meta> can't say: no framing, no referrer.
ADMIN_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}

ROUTES = (
    Route("POST", "/v1/query", query.parse, query.handle, needs_key=True, limited=True),
    Route("GET", "/health", health.parse, health.handle),
    Route("HEAD", "/health", health.parse, health.handle),
    Route("POST", "/v1/feedback", feedback.parse, feedback.handle, needs_key=True, limited=True),
    Route("GET", "/v1/feedback", feedback.parse_admin, feedback.handle_admin, limited=True),
    Route("GET", "/metrics", metrics.parse, metrics.handle),
    Route("GET", "/v1/admin/analytics", admin.parse, admin.handle, limited=True),
)


def create_app(clients=None) -> falcon.asgi.App:
    """The ASGI app. Without clients, it reads the environment and opens its own pool at startup."""
    if clients is None:
        config = Config.from_environ()
        logs.configure(config.log_level, logs.secrets_of(config))
        monitoring.setup(config)  # Sentry, when SENTRY_DSN is set
        # Threads beside the event loop (Qdrant's local mode, tokenising) hold the GIL for 5 ms at a time by
        # default, and the loop needs it many times per request: /health took 300 ms with 50 queries in flight.
        sys.setswitchinterval(0.0005)
        pool = Pool(opener=lambda: open_clients(config))
    else:
        config, pool = clients.config, Pool(clients=clients)
    middleware = [
        falcon_host.Lifespan(pool),
        falcon_host.RequestContext(pool),
        *falcon_host.cors(config.allowed_origins),
    ]
    app = falcon.asgi.App(middleware=middleware)
    for path, resource in falcon_host.adapt(ROUTES, pool).items():
        app.add_route(path, resource)
    app.add_route("/openapi.json", falcon_host.Fixed(openapi.document()))
    app.add_route("/docs", falcon_host.Fixed(openapi.SWAGGER_PAGE))
    app.add_static_route("/docs/assets", STATIC / "swagger-ui")
    app.add_route("/", falcon_host.Fixed(STATIC / "chat" / "index.html"))
    app.add_static_route("/chat", STATIC / "chat")
    app.add_route("/widget.js", falcon_host.Fixed(STATIC / "widget.js", "text/javascript"))
    app.add_route("/admin", falcon_host.Fixed(STATIC / "admin" / "index.html", headers=ADMIN_PAGE_HEADERS))
    app.add_static_route("/admin", STATIC / "admin")
    app.add_error_handler(Exception, falcon_host.handle_error)
    app.add_error_handler(falcon.HTTPError, falcon_host.handle_error)
    return app


lambda_handler = aws_lambda.adapt(ROUTES, Pool(opener=lambda: open_clients(Config.from_environ())))

try:
    app = create_app()
except ConfigError as error:
    sys.exit(f"configuration error: {error}")


if __name__ == "__main__":
    config = Config.from_environ()
    # SIGTERM: uvicorn stops accepting, lets requests (streams too) finish within the grace, closes the pool,
    # then raises the signal again; this handler makes that a clean exit.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(
        app,
        host="0.0.0.0",
        port=config.port,
        http="h11",  # it refuses headers over 16 KiB; httptools took 8 MB of them
        proxy_headers=False,  # TRUSTED_PROXIES alone decides which X-Forwarded-For entry is the client
        access_log=False,  # RequestContext writes the access log
        log_config=None,  # logs.configure made every logger write JSON lines
        timeout_graceful_shutdown=config.shutdown_grace_seconds,
        # Longer than the idle timeout of the proxy in front (60 s is common), so that it never sends a request
        # on a connection this side has just closed: uvicorn's 5 s default does exactly that.
        timeout_keep_alive=75,
    )
