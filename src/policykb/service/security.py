"""What the API trusts, decided once at start-up: moderator tokens, which peers may speak for a
client (reverse proxies), and the headers every response carries.

Fails closed: a short or empty token stops the server; a forwarded address is believed only from
a proxy named in POLICYKB_TRUSTED_PROXIES.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi.responses import FileResponse, JSONResponse

from policykb.ingest.active_content import file_has_active_content
from policykb.errors import ConfigError, InvalidRecord
from policykb.moderation.rules import actor_name

MIN_TOKEN_LENGTH = 16
PRINTABLE_TOKEN = re.compile(r"[\x21-\x7e]+")  # what an Authorization header carries as it is
# Responses are JSON, CSV or a document: nothing on the API's origin may run scripts or be framed.
STRICT_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# The interactive docs (/docs, /redoc) are the only HTML pages: FastAPI loads their scripts from a CDN.
DOCS_CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
            "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
            "https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; frame-ancestors 'none'")
DOCS_PATHS = ("/docs", "/redoc")


def moderator_tokens(entries: list[str]) -> dict[str, str]:
    """`{token: name}` from POLICYKB_MODERATOR_TOKENS entries (`token` or `name:token`, split at the
    first colon). A token shorter than MIN_TOKEN_LENGTH, or one given twice, is a ConfigError: an
    unset variable in `alice:$TOKEN` must not open moderation to everyone."""
    tokens: dict[str, str] = {}
    for number, entry in enumerate(entries, 1):
        name, colon, token = entry.partition(":")
        if not colon:
            name, token = "", entry
        name, token = name.strip(), token.strip()
        who = f"moderator {name!r}" if name else f"entry {number}"
        try:  # the name every moderator action would refuse (the desk checks it for every interface)
            name = actor_name(name) if name else name
        except InvalidRecord as exc:
            raise ConfigError(f"POLICYKB_MODERATOR_TOKENS: entry {number}: {exc.message}",
                              {"setting": "POLICYKB_MODERATOR_TOKENS"}) from None
        if len(token) < MIN_TOKEN_LENGTH:
            raise ConfigError(
                f"POLICYKB_MODERATOR_TOKENS: the token of {who} has {len(token)} characters; use at least "
                f"{MIN_TOKEN_LENGTH} (e.g. python -c 'import secrets; print(secrets.token_urlsafe(24))')",
                {"setting": "POLICYKB_MODERATOR_TOKENS"})
        if not PRINTABLE_TOKEN.fullmatch(token):
            raise ConfigError(
                f"POLICYKB_MODERATOR_TOKENS: the token of {who} holds characters other than printable ASCII "
                "(letters, digits, punctuation; no spaces): an HTTP header carries only those",
                {"setting": "POLICYKB_MODERATOR_TOKENS"})
        if token in tokens:
            raise ConfigError(f"POLICYKB_MODERATOR_TOKENS: {who} repeats another moderator's token",
                              {"setting": "POLICYKB_MODERATOR_TOKENS"})
        tokens[token] = name or "moderator-" + hashlib.sha256(token.encode()).hexdigest()[:8]
    return tokens


def find_moderator(tokens: dict[str, str], given: str) -> str | None:
    """The name of the moderator whose token is `given`, comparing every token in constant time."""
    found = None
    for token, name in tokens.items():
        if secrets.compare_digest(token.encode(), given.encode()):
            found = name
    return found


def trusted_networks(entries: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """POLICYKB_TRUSTED_PROXIES as networks (an address is a /32 or /128)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigError(f"POLICYKB_TRUSTED_PROXIES: {entry!r} is not an IP address or network",
                              {"setting": "POLICYKB_TRUSTED_PROXIES"}) from None
    return networks


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: str, networks: list[Any]) -> bool:
    ip = _address(address)
    return ip is not None and any(ip in network for network in networks)


def client_address(scope: dict[str, Any], networks: list[Any]) -> str:
    """Who is asking: the socket peer, unless that peer is a trusted proxy; then the right-most
    address of X-Forwarded-For that is not itself a trusted proxy (the left part of the header is
    whatever the client wrote, so it is never believed). A hop that is not an IP address (a port,
    a name, garbage) makes the peer the client: made-up values must not each get their own bucket."""
    peer = (scope.get("client") or ("unknown", 0))[0]
    if not networks or not _trusted(peer, networks):
        return peer
    forwarded = [value.decode("latin-1") for key, value in scope.get("headers") or [] if key == b"x-forwarded-for"]
    hops = [hop.strip() for line in forwarded for hop in line.split(",") if hop.strip()]
    for hop in reversed(hops):
        ip = _address(hop)
        if ip is None:
            return peer
        if not any(ip in network for network in networks):
            return str(ip)
    return peer


class SecurityHeaders:
    """ASGI middleware: `X-Content-Type-Options: nosniff`, a restrictive Content-Security-Policy and
    no referrer on every response (the interactive docs get the policy their scripts need)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope.get("path", "").startswith(DOCS_PATHS) else STRICT_CSP

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in (b"x-content-type-options", b"content-security-policy")]
                headers += [(b"x-content-type-options", b"nosniff"), (b"content-security-policy", csp.encode()),
                            (b"referrer-policy", b"no-referrer"), (b"x-frame-options", b"DENY")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(text: str, scheme: str | None = None) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an origin such as `https://ui.example` (`Host` header values take
    the scheme given); None for `null` or anything that is not an origin."""
    try:
        parts = urlsplit(text if scheme is None else f"{scheme}://{text}")
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/") or parts.query:
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


class SameOriginWrites:
    """ASGI middleware: a write (POST, PUT, PATCH, DELETE) coming from a web page of another origin
    is refused with 403, before its body is read. A form or a script on any site can make its
    visitors' browsers post `multipart/form-data` without a CORS preflight; browsers say where such
    a request comes from (`Origin`, `Sec-Fetch-Site`), and no page can hide or change that.

    Allowed: the API's own origin (the request's `Host`), the origins in POLICYKB_CORS_ORIGINS, and
    requests without either header (not from a browser: curl, scripts, the UI's server side)."""

    def __init__(self, app: Any, allowed_origins: list[str]) -> None:
        self.app = app
        self.allowed = {o for o in (_origin(entry.strip().rstrip("/")) for entry in allowed_origins) if o}

    def allows(self, headers: dict[bytes, bytes]) -> bool:
        origin, site = headers.get(b"origin"), headers.get(b"sec-fetch-site")
        if origin is not None:
            given = _origin(origin.decode("latin-1").strip())
            if given is None:
                return False  # `null` (sandboxed frames, data: and file: pages) or garbage
            host = _origin(headers.get(b"host", b"").decode("latin-1").strip(), given[0])
            return given in self.allowed or given == host
        return site is None or site in (b"same-origin", b"none")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") not in UNSAFE_METHODS \
                or self.allows(dict(scope.get("headers") or [])):
            await self.app(scope, receive, send)
            return
        body = {"error": {"code": "cross_origin", "details": {}, "message": (
            "writes from a web page of another origin are refused; the API's own origin and those in "
            "POLICYKB_CORS_ORIGINS may write")}}
        await JSONResponse(body, status_code=403)(scope, receive, send)


def document_response(path: Path, name: str) -> FileResponse:
    """An original document: a PDF inline (so a browser opens it at `#page=N`) unless it holds active
    content (JavaScript, launch actions, embedded files: then a download); anything else, HTML above
    all, as a download of opaque bytes, never rendered on the API's origin."""
    if name.lower().endswith(".pdf"):
        inline = "attachment" if file_has_active_content(path) else "inline"
        return FileResponse(path, media_type="application/pdf", filename=name, content_disposition_type=inline)
    return FileResponse(path, media_type="application/octet-stream", filename=name,
                        content_disposition_type="attachment")
