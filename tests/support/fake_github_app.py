"""The fake GitHub's App routes: a JWT signed with the App's key, the App, its installations, and installation
tokens that expire.

POST /app-manifests/{code}/conversions (the manifest flow) creates an App with a fresh key for any code.

Seed key "app" (merged by FakeState.seed; the fake keeps only the PUBLIC key, as GitHub does):
    {"id": 123, "slug": "awo-app", "public_key": "-----BEGIN PUBLIC KEY-----...",
     "token_seconds": 3600, "installations": {"octo/hello": 42}}

The JWT (`Authorization: Bearer`) must verify with the public key (RS256) and carry iss = the App's id, iat and
exp, expiring at most 10 minutes from now: else 401, as GitHub answers. It is accepted only on /app routes and
GET /repos/{o}/{r}/installation. An installation token is accepted for REST calls until it expires (then 401
"Bad credentials") and only on the repositories it was narrowed to (else 403).
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import jwt

from .fake_github_model import GitHubError, Json, Reply, SeedError, render_account, render_user, stable_id

if TYPE_CHECKING:
    from .fake_github_model import FakeState

MAX_JWT_SECONDS = 600
INSTALLATION = re.compile(r"/repos/([^/]+)/([^/]+)/installation")
ACCESS_TOKENS = re.compile(r"/app/installations/(\d+)/access_tokens")
MANIFEST = re.compile(r"/app-manifests/([^/]+)/conversions")
REPO_PATH = re.compile(r"/repos/([^/]+)/([^/]+)(?:/.*)?")


@dataclass
class Issued:
    installation: int
    repos: set[str]  # lower-case full names the token may act on
    expires: float
    permissions: dict[str, str]


@dataclass
class FakeApp:
    id: int
    slug: str
    public_key: str
    token_seconds: float = 3600
    installations: dict[str, int] = field(default_factory=dict)  # lower-case full name → installation id
    issued: dict[str, Issued] = field(default_factory=dict)
    jwts: int = 0  # JWTs accepted

    @property
    def bot_login(self) -> str:
        return f"{self.slug}[bot]"


def seed_app(state: FakeState, data: Any) -> None:
    spec = data.get("app")
    if spec is None:
        return
    if not isinstance(spec, dict) or not {"id", "slug", "public_key"} <= set(spec):
        raise SeedError("app needs id, slug and public_key")
    installations = {str(k).lower(): int(v) for k, v in dict(spec.get("installations", {})).items()}
    state.app = FakeApp(int(spec["id"]), str(spec["slug"]), str(spec["public_key"]),
                        float(spec.get("token_seconds", 3600)), installations)


def _bearer(header: str | None) -> str:
    scheme, _, token = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise GitHubError(401, "A JSON web token could not be decoded")
    return token


def check_jwt(app: FakeApp, header: str | None) -> None:
    """GitHub's checks of an App's JWT: its signature, its issuer, and a lifetime of at most 10 minutes."""
    try:
        claims = jwt.decode(_bearer(header), app.public_key, algorithms=["RS256"],
                            options={"require": ["iss", "iat", "exp"]}, leeway=60)
    except jwt.PyJWTError as exc:
        raise GitHubError(401, f"A JSON web token could not be decoded ({exc})") from None
    if str(claims["iss"]) != str(app.id):
        raise GitHubError(401, "'Issuer' claim ('iss') must be the App's id")
    if int(claims["exp"]) > time.time() + MAX_JWT_SECONDS + 5:
        raise GitHubError(401, "'Expiration time' claim ('exp') is too far in the future")
    app.jwts += 1


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _installation_json(app: FakeApp, api: str, installation: int, owner: str) -> Json:
    return {"id": installation, "account": render_account(api, owner), "app_id": app.id, "app_slug": app.slug,
            "target_id": stable_id(owner), "target_type": "Organization", "repository_selection": "selected",
            "access_tokens_url": f"{api}/app/installations/{installation}/access_tokens",
            "repositories_url": f"{api}/installation/repositories",
            "html_url": f"https://github.com/settings/installations/{installation}",
            "permissions": {"contents": "write", "issues": "write", "pull_requests": "write", "metadata": "read"},
            "events": ["issues", "issue_comment"], "created_at": "2024-01-01T00:00:00Z",
            "updated_at": "2024-01-01T00:00:00Z", "single_file_name": None, "suspended_at": None,
            "suspended_by": None}


def _app_json(app: FakeApp, api: str) -> Json:
    return {"id": app.id, "slug": app.slug, "node_id": f"A_{app.id}", "client_id": f"Iv1.{app.id:016x}",
            "owner": render_account(api, "octo"), "name": app.slug, "description": None,
            "external_url": "https://example.com", "html_url": f"https://github.com/apps/{app.slug}",
            "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
            "permissions": {"contents": "write", "issues": "write", "pull_requests": "write", "metadata": "read"},
            "events": ["issues", "issue_comment"], "installations_count": len(set(app.installations.values()))}


def _issue_token(state: FakeState, app: FakeApp, installation: int, body: Json) -> Reply:
    mine = {name for name, inst in app.installations.items() if inst == installation}
    if not mine:
        raise GitHubError(404, "Not Found")
    owner = next(iter(mine)).split("/")[0]
    asked = {f"{owner}/{name}".lower() for name in body.get("repositories") or []} or mine
    if asked - mine:
        raise GitHubError(422, f"There is at least one repository that does not exist or is not accessible "
                               f"to the parent installation: {sorted(asked - mine)}")
    token = "ghs_" + secrets.token_hex(18)
    expires = float(int(time.time() + app.token_seconds))
    permissions = dict(body.get("permissions") or {})
    app.issued[token] = Issued(installation, asked, expires, permissions)
    if state.tokens:
        state.tokens.add(token)
    return Reply(201, {"token": token, "expires_at": _stamp(expires), "permissions": permissions,
                       "repository_selection": "selected"})


def _from_manifest(state: FakeState, api: str, code: str) -> Reply:
    """The manifest flow's exchange (no credentials): a new App with a fresh key, which the fake then serves."""
    private, public = new_key_pair()
    slug = f"awo-{code.lower()}"[:30]
    state.app = FakeApp(stable_id(slug) % 1_000_000, slug, public)
    return Reply(201, {**_app_json(state.app, api), "pem": private, "webhook_secret": secrets.token_hex(20),
                       "client_secret": secrets.token_hex(20)})


def answer_app(state: FakeState, method: str, path: str, header: str | None, body: Json, api: str) -> Reply | None:
    """The answer to an App route (None: not one, or no App seeded)."""
    manifest = MANIFEST.fullmatch(path)
    if manifest and method == "POST":
        return _from_manifest(state, api, manifest[1])
    app: FakeApp | None = getattr(state, "app", None)
    if app is None:
        return None
    if method == "GET" and path == "/users/" + app.bot_login:
        check_token(state, header, path)
        return Reply(200, {**render_user(api, app.bot_login), "type": "Bot"})
    installation, tokens = INSTALLATION.fullmatch(path), ACCESS_TOKENS.fullmatch(path)
    if not (path == "/app" or installation or tokens):
        return None
    check_jwt(app, header)
    if path == "/app" and method == "GET":
        return Reply(200, _app_json(app, api))
    if installation and method == "GET":
        found = app.installations.get(f"{installation[1]}/{installation[2]}".lower())
        if found is None:
            raise GitHubError(404, "Not Found")
        return Reply(200, _installation_json(app, api, found, installation[1]))
    if tokens and method == "POST":
        return _issue_token(state, app, int(tokens[1]), body)
    raise GitHubError(404, "Not Found")


def check_token(state: FakeState, header: str | None, path: str) -> None:
    """An installation token the App issued: refused once expired, and outside the repositories it names."""
    app: FakeApp | None = getattr(state, "app", None)
    if app is None or not header:
        return
    token = header.partition(" ")[2]
    issued = app.issued.get(token)
    if issued is None:
        if token.count(".") == 2:  # a JWT where an installation token belongs
            raise GitHubError(401, "A JSON web token could not be used here")
        return
    if time.time() >= issued.expires:
        raise GitHubError(401, "Bad credentials")
    repo = REPO_PATH.fullmatch(path)
    if repo and f"{repo[1]}/{repo[2]}".lower() not in issued.repos:
        raise GitHubError(403, "Resource not accessible by integration")


def token_valid(state: FakeState, token: str) -> bool:
    """For the fake git host: an unexpired installation token."""
    app: FakeApp | None = getattr(state, "app", None)
    issued = app.issued.get(token) if app else None
    return issued is not None and time.time() < issued.expires


def new_key_pair() -> tuple[str, str]:
    """A fresh RSA key for a test's App: (private PEM for the bot, public PEM for the fake)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public
