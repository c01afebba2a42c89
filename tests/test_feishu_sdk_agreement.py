"""adapters.feishu's own crypto agrees with lark-oapi's (the SDK is the reference, not a
dependency of the request path), and so do the test fixtures that play Feishu.

lark-oapi is pinned in requirements.txt; importing it takes ~3 s, so only this module does.
"""

from __future__ import annotations

import json

import pytest

from adapters.feishu.inbound import decrypt, signature
from tests.fakes.feishu import encrypt, sign

KEY = "ek-123"
TOKEN = "vt-456"


def lark_dispatcher(received: list):
    """lark-oapi's EventDispatcherHandler with our keys, recording the messages it accepts."""
    import lark_oapi as lark

    return (
        lark.EventDispatcherHandler.builder(KEY, TOKEN)
        .register_p2_im_message_receive_v1(lambda data: received.append(data))
        .build()
    )


def lark_request(body: bytes, headers: dict[str, str]):
    import lark_oapi as lark

    req = lark.RawRequest()
    req.uri, req.body, req.headers = "/feishu/events", body, headers
    return req


def encrypted_event(event_id: str) -> bytes:
    plain = {
        "schema": "2.0",
        "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "token": TOKEN},
        "event": {"message": {"message_id": "om_1", "message_type": "text"}},
    }
    return json.dumps({"encrypt": encrypt(KEY, json.dumps(plain).encode())}).encode()


def test_adapter_signature_is_what_lark_oapi_accepts():
    body = encrypted_event("ev_agree")
    timestamp, nonce = "1700000000", "nonce-7"
    received: list = []
    handler = lark_dispatcher(received)
    headers = {
        "X-Lark-Request-Timestamp": timestamp,
        "X-Lark-Request-Nonce": nonce,
        "X-Lark-Signature": signature(timestamp, nonce, KEY, body),
    }
    response = handler.do(lark_request(body, headers))
    assert response.status_code == 200, response.content
    assert [r.header.event_id for r in received] == ["ev_agree"]


@pytest.mark.parametrize(
    ("timestamp", "nonce", "key", "body"),
    [
        ("1700000001", "nonce-7", KEY, None),
        ("1700000000", "nonce-8", KEY, None),
        ("1700000000", "nonce-7", "ek-124", None),
        ("1700000000", "nonce-7", KEY, b" "),
    ],
    ids=["timestamp", "nonce", "key", "body"],
)
def test_lark_oapi_refuses_our_signature_over_anything_else(timestamp, nonce, key, body):
    # The agreement above means something: change any input of the signature and the SDK,
    # given the real timestamp, nonce and body, refuses it.
    real = encrypted_event("ev_other")
    signed_body = real if body is None else real + body
    received: list = []
    headers = {
        "X-Lark-Request-Timestamp": "1700000000",
        "X-Lark-Request-Nonce": "nonce-7",
        "X-Lark-Signature": signature(timestamp, nonce, key, signed_body),
    }
    response = lark_dispatcher(received).do(lark_request(real, headers))
    assert response.status_code == 500 and b"signature" in response.content
    assert received == []


@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 31, 32, 33, 1000])
def test_adapter_decrypt_agrees_with_lark_oapi(size):
    from lark_oapi.core.utils.decryptor import AESCipher

    # Multi-byte text across every padding length, as Feishu's UTF-8 JSON has.
    text = ("飞书a" * size)[:size]
    encrypted = encrypt(KEY, text.encode())
    assert decrypt(KEY, encrypted).decode() == AESCipher(KEY).decrypt_str(encrypted) == text


def test_fixture_encryption_decrypts_with_lark_oapi():
    from lark_oapi.core.utils.decryptor import AESCipher

    body = '{"schema":"2.0","header":{"event_type":"im.message.receive_v1"}}'
    assert AESCipher("ek-123").decrypt_str(encrypt("ek-123", body.encode())) == body


def test_fixture_signature_is_the_adapters():
    body = b'{"encrypt":"abc"}'
    assert sign("1700000000", "nonce", "ek", body) == signature("1700000000", "nonce", "ek", body)
