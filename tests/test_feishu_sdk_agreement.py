"""Our Feishu fixtures agree with lark-oapi's own crypto (the SDK is the reference, not a dependency
of the request path): what the tests encrypt and sign is what Feishu sends."""

from __future__ import annotations

import hashlib

from tests.fakes.feishu import encrypt, sign


def test_fixture_encryption_decrypts_with_lark_oapi():
    from lark_oapi.core.utils.decryptor import AESCipher

    body = '{"schema":"2.0","header":{"event_type":"im.message.receive_v1"}}'
    assert AESCipher("ek-123").decrypt_str(encrypt("ek-123", body.encode())) == body


def test_fixture_signature_matches_the_documented_formula():
    body = b'{"encrypt":"abc"}'
    expected = hashlib.sha256(b"1700000000" + b"nonce" + b"ek" + body).hexdigest()
    assert sign("1700000000", "nonce", "ek", body) == expected
