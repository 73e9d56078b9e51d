"""SMS through Amazon SNS, as India's TRAI DLT rules require.

Every message carries the principal entity id and the content template id registered on the
DLT platform (operators drop an SMS without them or whose text does not fit the template),
the registered sender id (header), and the Transactional type (OTPs go to numbers on the
do-not-disturb list too, and are routed for delivery rather than cost).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class SmsFailed(Exception):
    """SNS did not take the message (the error type only: messages can carry the number)."""


class SmsSender:
    def __init__(self, sns: Any, *, sender_id: str, entity_id: str, template_id: str) -> None:
        self._sns = sns
        self._attributes = {
            "AWS.SNS.SMS.SMSType": "Transactional",
            "AWS.SNS.SMS.SenderID": sender_id,
            "AWS.MM.SMS.EntityId": entity_id,
            "AWS.MM.SMS.TemplateId": template_id,
        }

    def send(self, mobile_number: str, text: str) -> None:
        """`mobile_number` is the 10-digit Indian number."""
        missing = sorted(k for k, v in self._attributes.items() if not v)
        if missing:
            raise SmsFailed(f"SMS attributes not configured: {', '.join(missing)}")
        try:
            self._sns.publish(
                PhoneNumber=f"+91{mobile_number}",
                Message=text,
                MessageAttributes={
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in self._attributes.items()
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise SmsFailed(type(exc).__name__) from None
