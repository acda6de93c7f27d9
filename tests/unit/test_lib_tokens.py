"""hipflask.tokens: JWT minting and verification (RFC 8725: an explicit allow-list, `none` never)."""
import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from hipflask.config import ConfigError, Env
from hipflask.tokens import LEEWAY_SECONDS, InvalidToken, Keyring, parse_public_keys, parse_shared_keys, parse_ttl
from support import wait_until

SECRET_A = "a" * 32
SECRET_B = "b" * 40


@pytest.fixture
def keyring():
    return Keyring(parse_shared_keys(f"k1:{SECRET_A},k2:{SECRET_B}"))


def signed(claims, secret=SECRET_A, kid="k1", algorithm="HS256", **extra_headers):
    base = {"sub": "alice", "scope": "write", "aud": "hipflask", "exp": int(time.time()) + 60}
    return jwt.encode({**base, **claims}, secret, algorithm=algorithm, headers={"kid": kid, **extra_headers})


def test_a_minted_token_verifies_with_its_subject_and_scope(keyring):
    claims = keyring.verify(keyring.mint("alice", "read", 60))
    assert (claims.subject, claims.scope) == ("alice", "read")


def test_minting_signs_with_the_first_key(keyring):
    assert jwt.get_unverified_header(keyring.mint("alice", "read", 60))["kid"] == "k1"


def test_an_expired_token_is_invalid(keyring):
    with pytest.raises(InvalidToken):
        keyring.verify(signed({"exp": int(time.time()) - 60}))


def test_a_token_without_exp_is_invalid(keyring):
    token = jwt.encode({"sub": "alice", "scope": "read", "aud": "hipflask"}, SECRET_A, algorithm="HS256",
                       headers={"kid": "k1"})
    with pytest.raises(InvalidToken):
        keyring.verify(token)


def test_a_token_for_another_audience_is_invalid(keyring):
    with pytest.raises(InvalidToken):
        keyring.verify(signed({"aud": "someone-else"}))


def test_a_token_not_yet_valid_is_invalid(keyring):
    with pytest.raises(InvalidToken):
        keyring.verify(signed({"nbf": int(time.time()) + 3600}))


def test_a_token_signed_with_an_unknown_secret_is_invalid(keyring):
    with pytest.raises(InvalidToken):
        keyring.verify(signed({}, secret="c" * 32))


def test_a_token_naming_an_unknown_kid_is_invalid(keyring):
    with pytest.raises(InvalidToken):
        keyring.verify(signed({}, kid="k9"))


def test_an_unsigned_alg_none_token_is_invalid(keyring):
    def part(value):
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    token = (part({"alg": "none", "typ": "JWT", "kid": "k1"}) + "." +
             part({"sub": "alice", "scope": "admin", "aud": "hipflask", "exp": int(time.time()) + 60}) + ".")
    with pytest.raises(InvalidToken):
        keyring.verify(token)


def test_a_tampered_payload_is_invalid(keyring):
    header, payload, signature = keyring.mint("alice", "read", 60).split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        keyring.verify(f"{header}.{forged}.{signature}")


def test_garbage_is_invalid(keyring):
    with pytest.raises(InvalidToken):
        keyring.verify("not-a-jwt")


def test_a_scope_outside_read_write_admin_is_invalid(keyring):
    with pytest.raises(InvalidToken):
        keyring.verify(signed({"scope": "root"}))


def test_a_token_of_the_second_key_verifies_so_keys_rotate(keyring):
    assert keyring.verify(signed({}, secret=SECRET_B, kid="k2")).subject == "alice"


def test_after_rotation_tokens_of_a_dropped_key_are_invalid():
    old = Keyring(parse_shared_keys(f"k1:{SECRET_A}"))
    token = old.mint("alice", "write", 60)
    rotated = Keyring(parse_shared_keys(f"k2:{SECRET_B},k1:{SECRET_A}"))
    assert rotated.verify(token).subject == "alice"
    assert jwt.get_unverified_header(rotated.mint("alice", "write", 60))["kid"] == "k2"
    with pytest.raises(InvalidToken):
        Keyring(parse_shared_keys(f"k2:{SECRET_B}")).verify(token)


def test_a_short_secret_stops_the_service_without_naming_it():
    with pytest.raises(ConfigError) as raised:
        parse_shared_keys("k1:short-secret")
    assert "short-secret" not in str(raised.value) and "k1" in str(raised.value)


def test_keys_come_from_auth_keys_file(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"k1:{SECRET_A}\n")
    keyring = Keyring.from_env(Env({"AUTH_KEYS_FILE": str(path)}))
    assert keyring.verify(keyring.mint("bob", "read", 60)).subject == "bob"


def test_auth_keys_and_auth_keys_file_together_are_refused(tmp_path):
    path = tmp_path / "keys"
    path.write_text(f"k1:{SECRET_A}")
    with pytest.raises(ConfigError, match="AUTH_KEYS"):
        Keyring.from_env(Env({"AUTH_KEYS": f"k1:{SECRET_A}", "AUTH_KEYS_FILE": str(path)}))


def _pem(private_key) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)


@pytest.mark.parametrize("algorithm, make_key", [
    ("RS256", lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    ("ES256", lambda: ec.generate_private_key(ec.SECP256R1())),
    ("EdDSA", ed25519.Ed25519PrivateKey.generate),
])
def test_tokens_of_an_identity_provider_verify_with_its_pem_public_key(algorithm, make_key):
    private_key = make_key()
    keyring = Keyring(parse_public_keys(_pem(private_key)))
    assert keyring.verify(signed({}, secret=private_key, algorithm=algorithm, kid="idp")).subject == "alice"


def test_tokens_of_an_identity_provider_verify_with_its_jwks():
    private_key = ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key()))
    document = json.dumps({"keys": [{**jwk, "kid": "idp-2", "alg": "ES256", "use": "sig"}]}).encode()
    keyring = Keyring(parse_public_keys(document))
    assert keyring.verify(signed({}, secret=private_key, algorithm="ES256", kid="idp-2")).subject == "alice"
    with pytest.raises(InvalidToken):
        keyring.verify(signed({}, secret=private_key, algorithm="ES256", kid="idp-other"))


def test_a_public_key_is_never_used_as_an_hs256_secret():
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = _pem(private_key)
    keyring = Keyring(parse_public_keys(pem))
    forged = jwt.api_jws.PyJWS()
    token = forged.encode(json.dumps({"sub": "alice", "scope": "admin", "aud": "hipflask",
                                      "exp": int(time.time()) + 60}).encode(), b"x" * 32, algorithm="HS256")
    with pytest.raises(InvalidToken):
        keyring.verify(token)


def test_a_file_without_keys_stops_the_service():
    with pytest.raises(ConfigError, match="AUTH_PUBLIC_KEYS_FILE"):
        parse_public_keys(b"not a key")


@pytest.mark.parametrize("text, seconds", [("3600", 3600), ("90s", 90), ("15m", 900), ("12h", 43200),
                                            ("30d", 2592000), ("2w", 1209600)])
def test_lifetimes_are_read_with_their_unit(text, seconds):
    assert parse_ttl(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "-5", "1y", "soon"])
def test_bad_lifetimes_are_refused(text):
    with pytest.raises(ValueError):
        parse_ttl(text)



def test_a_token_seen_before_still_expires(keyring):
    value = keyring.mint("alice", "read", 60, now=time.time() - 60 - LEEWAY_SECONDS + 1)
    assert keyring.verify(value).subject == "alice"  # valid about one second more, and now known

    def refused():
        try:
            keyring.verify(value)
        except InvalidToken:
            return True
        return False
    wait_until(refused, 5, "the known token to expire")
