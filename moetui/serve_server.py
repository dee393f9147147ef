"""textual-serve's `Server`, letting in only the holder of the token from the server's own origin.

The seam is `Server._make_app`, which builds the aiohttp application: one middleware added
there sees every request (the page, the `/ws` that starts an app process, `/static`,
`/download`) before any handler runs, so a refused request never starts a process.
Imports textual-serve, an optional extra: `cli_serve` imports this module only when serving.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from aiohttp import web
from textual_serve.server import Server

from moetui.serve_auth import origin_allowed, origin_of, own_origins, token_matches

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class GuardedServer(Server):
    """Serves `command` to browsers on http://HOST:PORT for requests that carry `token`."""

    def __init__(self, command: str, *, host: str, port: int, token: str, title: str) -> None:
        # Our public URL, not textual-serve's default: it brackets an IPv6 host, and the page's
        # websocket URL is built from it, so the browser reaches /ws at exactly the origin we allow.
        super().__init__(command, host=host, port=port, title=title, public_url=origin_of(host, port))
        self.token = token
        self.origins = own_origins(host, port)
        # Cookies ignore the port: two servers on one host must not overwrite each other's.
        self.cookie = f"moetui-serve-token-{port}"

    @property
    def url_with_token(self) -> str:
        """What a person opens: the page, carrying the token that sets the cookie."""
        return f"{self.public_url}/?token={quote(self.token, safe='')}"

    async def _make_app(self) -> web.Application:
        """textual-serve's application, every request of which passes `_guard` first."""
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse (403) a foreign origin or a missing token; remember a token from `?token=`
        in an HttpOnly cookie, so the page's scripts never see it but its websocket sends it."""
        if not origin_allowed(request.headers.get("Origin"), self.origins):
            raise web.HTTPForbidden(text="moetui serve: requests from other web pages are refused\n")
        from_query = token_matches(request.query.get("token"), self.token)
        if not (from_query or token_matches(request.cookies.get(self.cookie), self.token)):
            raise web.HTTPForbidden(text="moetui serve: open the URL with ?token= that `moetui serve` printed\n")
        response = await handler(request)
        if from_query and not response.prepared:  # a websocket's response has been sent already
            response.set_cookie(self.cookie, self.token, path="/", httponly=True, samesite="Strict")
        return response

    async def on_startup(self, app: web.Application) -> None:
        """Say nothing: textual-serve's banner shows the URL without the token, which would not
        open; the command prints the one that does."""
