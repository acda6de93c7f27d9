"""Bearer tokens: JWTs minted and verified with PyJWT, following RFC 8725.

A token's claims are `sub` (the namespace), `scope` (`read`, `write` or `admin`), `exp`
(required), `aud` (AUTH_AUDIENCE), and `nbf`/`iat` when present. HS256 tokens are signed with the
shared secrets of AUTH_KEYS (`<kid>:<secret>,...`): the first signs what hipflask mints, each one
verifies the tokens whose header names its `kid`. AUTH_PUBLIC_KEYS_FILE (PEM or JWKS) adds public
keys of an external identity provider (RS256, ES256, EdDSA). Each key verifies with its own
algorithm only, so a token cannot choose one (`none` is never accepted, nor HS256 with a public key).
A token that fails any check raises InvalidToken, whose reason is for the log, never the client.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from hipflask.config import ConfigError, Env

if TYPE_CHECKING:
    from jwt.algorithms import AllowedPublicKeys

# PyJWT and cryptography (10 MB in every process) are imported by the functions that use a key:
# in uid mode, and in token mode until a token is checked, no process loads them.

READ, WRITE, ADMIN = "read", "write", "admin"
SCOPES = (READ, WRITE, ADMIN)
RANK = {READ: 1, WRITE: 2, ADMIN: 3}
MIN_SECRET_BYTES = 32
LEEWAY_SECONDS = 5
VERIFIED_CACHE_SIZE = 4096  # tokens whose signature and claims were checked, per process
_KID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_TTL = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_TTL_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PEM_BLOCK = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


class InvalidToken(Exception):
    """The token is missing a claim, expired, not yet valid, for another audience, signed by an
    unknown key or with an algorithm the key does not use, or malformed."""


@dataclass(frozen=True)
class Claims:
    subject: str
    scope: str
    expires: int


@dataclass(frozen=True)
class Key:
    kid: str | None
    algorithm: str
    material: bytes | AllowedPublicKeys  # bytes for HS256, a cryptography public key otherwise


def parse_ttl(value: str) -> int:
    """Seconds from `3600`, `90s`, `15m`, `12h`, `30d` or `2w`; ValueError otherwise."""
    match = _TTL.match(str(value))
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"expected a lifetime such as 3600, 15m, 12h or 30d, got {str(value)[:40]!r}")
    return int(match.group(1)) * _TTL_UNITS[match.group(2)]


def parse_shared_keys(text: str, name: str = "AUTH_KEYS") -> list[Key]:
    """`kid:secret[,kid:secret...]` as keys; ConfigError (naming the kid, never the secret) otherwise."""
    keys: list[Key] = []
    for item in (part.strip() for part in text.replace("\n", ",").split(",")):
        if not item:
            continue
        kid, sep, secret = item.partition(":")
        if not sep or not _KID.fullmatch(kid):
            raise ConfigError(f"{name}: expected <kid>:<secret>[,<kid>:<secret>...] with a kid of letters, "
                              "digits, '_', '.' or '-'")
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ConfigError(f"{name}: the secret of key {kid!r} is shorter than {MIN_SECRET_BYTES} bytes")
        if any(key.kid == kid for key in keys):
            raise ConfigError(f"{name}: the kid {kid!r} is listed twice")
        keys.append(Key(kid, "HS256", secret.encode()))
    return keys


def _algorithm_of(public_key) -> str:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if isinstance(public_key, rsa.RSAPublicKey):
        return "RS256"
    if isinstance(public_key, ec.EllipticCurvePublicKey) and public_key.curve.name == "secp256r1":
        return "ES256"
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "EdDSA"
    raise ValueError(f"unsupported public key type {type(public_key).__name__} (RSA, EC P-256 or Ed25519)")


def parse_public_keys(data: bytes, name: str = "AUTH_PUBLIC_KEYS_FILE") -> list[Key]:
    """The keys of a JWKS document (`{"keys": [...]}`, each with its `kid`) or of PEM public keys
    (no kid: they verify tokens without one or with any kid)."""
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    keys = []
    try:
        if data.lstrip().startswith(b"{"):
            for jwk in json.loads(data)["keys"]:
                if jwk.get("use", "sig") != "sig":
                    continue
                parsed = jwt.PyJWK(jwk)
                algorithm = _algorithm_of(parsed.key)
                if jwk.get("alg") not in (None, algorithm):
                    raise ValueError(f"key {jwk.get('kid')!r}: alg {jwk.get('alg')!r} does not fit its type")
                keys.append(Key(jwk.get("kid"), algorithm, parsed.key))
        else:
            for block in _PEM_BLOCK.findall(data):
                public_key = load_pem_public_key(block)
                algorithm = _algorithm_of(public_key)  # ValueError for a type no token can use
                keys.append(Key(None, algorithm, cast("AllowedPublicKeys", public_key)))
    except (ValueError, KeyError, TypeError, jwt.PyJWKError) as exc:
        raise ConfigError(f"{name}: not a JWKS document or PEM public keys ({exc})") from None
    if not keys:
        raise ConfigError(f"{name}: holds no public key")
    return keys


class Keyring:
    """The keys tokens are verified with, and the one hipflask signs with (the first shared key)."""

    def __init__(self, keys: list[Key], audience: str = "hipflask"):
        self.keys = keys
        self.audience = audience
        self.signing = next((key for key in keys if key.algorithm == "HS256"), None)
        self._verified: dict[str, Claims] = {}

    @classmethod
    def from_env(cls, env: Env) -> Keyring:
        keys = []
        shared = env.secret("AUTH_KEYS")
        if shared is not None:
            keys += parse_shared_keys(shared)
        public_file = env.raw("AUTH_PUBLIC_KEYS_FILE")
        if public_file is not None:
            try:
                data = Path(public_file).read_bytes()
            except OSError as exc:
                raise ConfigError(f"AUTH_PUBLIC_KEYS_FILE: cannot read {public_file} ({exc.strerror})") from None
            keys += parse_public_keys(data)
        return cls(keys, env.str("AUTH_AUDIENCE", "hipflask"))

    def mint(self, subject: str, scope: str, ttl_seconds: int, now: float | None = None) -> str:
        """A token for `subject` with `scope`, valid for `ttl_seconds`, signed with the first shared key."""
        if self.signing is None:
            raise ValueError("no shared key to sign with: set AUTH_KEYS or AUTH_KEYS_FILE")
        if scope not in SCOPES:
            raise ValueError(f"scope must be one of {', '.join(SCOPES)}")
        import jwt

        issued = int(time.time() if now is None else now)
        claims = {"sub": subject, "scope": scope, "aud": self.audience, "iat": issued, "exp": issued + ttl_seconds}
        secret = cast(bytes, self.signing.material)  # the HS256 key's material is its shared secret
        return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": self.signing.kid})

    def _candidates(self, header: dict) -> list[Key]:
        algorithm, kid = header.get("alg"), header.get("kid")
        return [key for key in self.keys
                if key.algorithm == algorithm and (kid is None or key.kid is None or key.kid == kid)]

    def verify(self, token: str) -> Claims:
        """The claims of a valid token; InvalidToken otherwise. A token seen before is not checked
        again, only its expiry (the keys never change while the process runs)."""
        known = self._verified.get(token)
        if known is not None:
            if known.expires + LEEWAY_SECONDS >= time.time():
                return known
            self._verified.pop(token, None)
            raise InvalidToken("ExpiredSignatureError")
        claims = self._check(token)
        if len(self._verified) >= VERIFIED_CACHE_SIZE:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _check(self, token: str) -> Claims:
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token ({type(exc).__name__})") from None
        candidates = self._candidates(header)
        if not candidates:
            alg, kid = str(header.get("alg"))[:16], str(header.get("kid"))[:64]
            raise InvalidToken(f"no key for alg {alg!r} and kid {kid!r}")
        failure = "no key verified the token"
        for key in candidates:
            try:
                claims = jwt.decode(token, key.material, algorithms=[key.algorithm], audience=self.audience,
                                    leeway=LEEWAY_SECONDS, options={"require": ["exp", "sub", "scope", "aud"]})
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as exc:
                raise InvalidToken(type(exc).__name__) from None
            return self._claims(claims)
        raise InvalidToken(failure)

    @staticmethod
    def _claims(claims: dict) -> Claims:
        subject, scope = claims.get("sub"), claims.get("scope")
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("sub is not a non-empty string")
        listed = scope.split() if isinstance(scope, str) else []
        known = [item for item in listed if item in RANK]
        if not known:
            raise InvalidToken("scope names none of read, write, admin")
        return Claims(subject, max(known, key=RANK.__getitem__), int(claims["exp"]))
