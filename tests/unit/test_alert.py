from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from pipeline.model import ArticleRef, FetchStatus, RuleRef
from pipeline.stages.alert import (
    build_alert_payload,
    encode_payload,
    generate_secret,
    new_webhook_id,
    sign_headers,
    validate_secret,
)


def _payload() -> str:
    payload = build_alert_payload(
        alert_id=7,
        webhook_id="msg_1",
        rule=RuleRef(id=1, name="ceasefire", query="ceasefire"),
        article=ArticleRef(
            id=3,
            url="https://example.org/a",
            title="Truce holds",
            published=None,
            language="en",
            author=None,
            site_name=None,
            fetch_status=FetchStatus.FETCHED,
        ),
        hits=[{"term": "ceasefire", "field": "text", "sentence": "The ceasefire held."}],
        extraction={"figures": []},
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return encode_payload(payload)


def test_signature_verifies_with_the_standardwebhooks_package() -> None:
    secret = generate_secret()
    body = _payload()
    headers = sign_headers([secret], "msg_1", body)
    assert Webhook(secret).verify(body.encode(), headers)["data"]["alert_id"] == 7


def test_tampered_body_or_wrong_secret_fails() -> None:
    secret = generate_secret()
    body = _payload()
    headers = sign_headers([secret], "msg_1", body)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("Truce", "Trace").encode(), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(body.encode(), headers)


def test_rotation_signs_with_every_secret() -> None:
    old, new = generate_secret(), generate_secret()
    body = _payload()
    headers = sign_headers([old, new], "msg_1", body)
    assert len(headers["webhook-signature"].split()) == 2
    for secret in (old, new):
        Webhook(secret).verify(body.encode(), headers)


def test_payload_shape() -> None:
    payload = json.loads(_payload())
    assert payload["type"] == "alert.matched"
    assert set(payload["data"]) >= {"alert_id", "rule", "article", "matches", "extraction"}


def test_secret_validation_and_ids() -> None:
    assert validate_secret(generate_secret()).startswith("whsec_")
    with pytest.raises(ValueError, match="whsec_"):
        validate_secret("hunter2")
    with pytest.raises(ValueError):
        validate_secret("whsec_!!!")
    assert new_webhook_id() != new_webhook_id()
