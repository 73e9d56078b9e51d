"""clients/sms.py: the DLT ids on every message, and failures as SmsFailed without the number."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from engine.clients.sms import SmsFailed, SmsSender


class Sns:
    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def publish(self, **params: Any) -> dict[str, str]:
        self.calls.append(params)
        if self.error:
            raise self.error
        return {"MessageId": "m-1"}


def sender(sns: Sns, **ids: str) -> SmsSender:
    config = {"sender_id": "FVSTAR", "entity_id": "1101", "template_id": "1107", **ids}
    return SmsSender(sns, **config)


def test_every_message_carries_the_dlt_ids_sender_and_type() -> None:
    sns = Sns()

    sender(sns).send("9876543210", "123456 is your OTP")

    [call] = sns.calls
    assert call["PhoneNumber"] == "+919876543210"
    assert {k: v["StringValue"] for k, v in call["MessageAttributes"].items()} == {
        "AWS.SNS.SMS.SMSType": "Transactional",
        "AWS.SNS.SMS.SenderID": "FVSTAR",
        "AWS.MM.SMS.EntityId": "1101",
        "AWS.MM.SMS.TemplateId": "1107",
    }


def test_missing_dlt_ids_refuse_to_send() -> None:
    sns = Sns()

    with pytest.raises(SmsFailed, match=r"AWS\.MM\.SMS\.TemplateId"):
        sender(sns, template_id="").send("9876543210", "x")
    assert sns.calls == []


def test_an_sns_error_is_sms_failed_naming_only_its_type() -> None:
    error = ClientError({"Error": {"Code": "Throttling", "Message": "+919876543210"}}, "Publish")

    with pytest.raises(SmsFailed) as caught:
        sender(Sns(error)).send("9876543210", "x")

    assert "9876543210" not in str(caught.value)
