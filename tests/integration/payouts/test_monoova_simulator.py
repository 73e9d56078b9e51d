"""The Monoova simulator over real HTTP on localhost (urllib only, as a client would call it)."""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from simulators.monoova import MonoovaSimulator, SpecValidator
from simulators.monoova.jsonutil import dumps, loads

API_KEY = "sim-api-key-123"
AUTH = "Basic " + base64.b64encode(f"{API_KEY}:".encode()).decode()
WEBHOOK_TOKEN = "Basic dGVzdDp3ZWJob29r"
EXECUTE = "/financial/v2/transaction/execute"
VALIDATE = "/financial/v2/transaction/validate"
STATUS = "/financial/v2/status/"
REPO_ROOT = Path(__file__).resolve().parents[3]

# Never send localhost calls through a proxy configured in the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


# --------------------------------------------------------------------------- helpers


class Receiver:
    """A tiny webhook endpoint that records requests and answers with scripted status codes."""

    def __init__(self, codes: list[int] | None = None) -> None:
        self.codes = list(codes or [])
        self.received: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer._cond:
                    code = outer.codes.pop(0) if outer.codes else 200
                    outer.received.append(
                        {
                            "headers": {k.lower(): v for k, v in self.headers.items()},
                            "raw": raw,
                            "at": time.monotonic(),
                            "answered": code,
                        }
                    )
                    outer._cond.notify_all()
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/webhooks/monoova"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def call(
    sim: MonoovaSimulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    auth: str | None = AUTH,
    raw: bytes | None = None,
    timeout: float = 5.0,
) -> tuple[int, Any, str]:
    """(HTTP status, JSON parsed with Decimal, raw text)."""
    data = raw if raw is not None else (dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(f"{sim.base_url}{path}", data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if auth is not None:
        request.add_header("Authorization", auth)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            text = response.read().decode()
            return response.status, loads(text) if text else None, text
    except urllib.error.HTTPError as exc:
        text = exc.read().decode()
        exc.close()
        return exc.code, loads(text) if text else None, text


def payid_body(reference: str, amount: str = "100.00", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "uniqueReference": reference,
        "totalAmount": Decimal(amount),
        "paymentSource": "mAccount",
        "mAccount": {"token": "6279059726039800"},
        "description": "Customer payout",
        "disbursements": [
            {
                "disbursementMethod": "NppCreditPayId",
                "toNppCreditPayIdDetails": {
                    "payId": "jane@example.com",
                    "payIdType": "Email",
                    "accountName": "Jane Citizen",
                    "endToEndId": "E2E1",
                    "remitterName": "Acme",
                },
                "sourceAccountBsb": "802-985",
                "sourceAccountNumber": "654378888",
                "lodgementReference": "Payout",
                "amount": Decimal(amount),
            }
        ],
    }
    body.update(overrides)
    return body


def bank_body(reference: str, amount: str = "250.50") -> dict[str, Any]:
    return {
        "uniqueReference": reference,
        "totalAmount": Decimal(amount),
        "paymentSource": "mAccount",
        "mAccount": {"token": "6279059726039800"},
        "disbursements": [
            {
                "disbursementMethod": "NppCreditBankAccount",
                "toNppCreditBankAccountDetails": {
                    "bsbNumber": "062-205",
                    "accountNumber": "819877339",
                    "accountName": "John Citizen",
                    "endToEndId": "E2E2",
                    "remitterName": "Acme",
                },
                "sourceAccountBsb": "802-985",
                "sourceAccountNumber": "654378888",
                "lodgementReference": "Refund 77",
                "amount": Decimal(amount),
            }
        ],
    }


def verify_signature(sim: MonoovaSimulator, received: dict[str, Any]) -> None:
    key = load_der_public_key(bytes.fromhex(sim.public_key_hex))
    assert isinstance(key, rsa.RSAPublicKey)
    signature = base64.b64decode(received["headers"]["verification-signature"])
    key.verify(signature, received["raw"], padding.PKCS1v15(), hashes.SHA256())


def wait_until(predicate: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def status_of(sim: MonoovaSimulator, reference: str) -> str:
    code, payload, _ = call(sim, "GET", STATUS + reference)
    assert code == 200
    return payload["transactionStatus"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def sim(receiver: Receiver) -> Iterator[MonoovaSimulator]:
    simulator = MonoovaSimulator(
        api_key=API_KEY,
        webhook_url=receiver.url,
        webhook_token=WEBHOOK_TOKEN,
        webhook_delay=0.1,
        webhook_retry_delay=0.3,
        hold_seconds=1.0,
    )
    simulator.start()
    yield simulator
    simulator.stop()


# --------------------------------------------------------------------------- contract


def test_public_key_endpoint_serves_pkcs1_der_hex_without_auth(sim: MonoovaSimulator) -> None:
    code, payload, _ = call(sim, "GET", "/public/v1/certificate/public-key", auth=None)
    assert code == 200
    assert payload == sim.public_key_hex
    assert payload.startswith("3082010A0282010100")
    key = load_der_public_key(bytes.fromhex(payload))
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048


def test_valid_payid_execute_is_accepted(sim: MonoovaSimulator) -> None:
    code, payload, text = call(sim, "POST", EXECUTE, payid_body("PAYID-1"))
    assert code == 200, payload
    assert payload["status"] == "Ok"
    assert payload["statusDescription"] == "Operation completed successfully"
    assert payload["transactionId"] == 1000
    assert payload["callerUniqueReference"] == "PAYID-1"
    assert isinstance(payload["durationMs"], int)
    assert payload["feeAmountIncludingGst"] == Decimal("0.11")
    assert '"feeAmountExcludingGst":0.10' in text  # exact decimal text, not float
    fees = payload["feeBreakdown"]["disbursementFees"]
    assert fees[0]["disbursementArrayIndex"] == 0
    [execution] = sim.executions("PAYID-1")
    assert execution["transaction_id"] == 1000
    assert execution["body"]["totalAmount"] == Decimal("100.00")
    code, second, _ = call(sim, "POST", EXECUTE, payid_body("PAYID-2"))
    assert (code, second["transactionId"]) == (200, 1001)


def test_valid_bank_account_execute_is_accepted(sim: MonoovaSimulator) -> None:
    code, payload, _ = call(sim, "POST", EXECUTE, bank_body("BANK-1"))
    assert code == 200, payload
    assert payload["status"] == "Ok"
    assert len(sim.executions()) == 1


def test_source_bsb_typo_is_rejected_in_strict_mode(sim: MonoovaSimulator) -> None:
    body = payid_body("TYPO-1")
    body["disbursements"][0]["sourceBSB"] = body["disbursements"][0].pop("sourceAccountBsb")
    code, payload, _ = call(sim, "POST", EXECUTE, body)
    assert code == 400
    assert payload["status"] == "ValidationError"
    assert "sourceBSB" in payload["statusDescription"]
    assert payload["transactionId"] == 0
    assert sim.executions() == []
    [logged] = sim.requests_log()
    assert any("sourceBSB" in error for error in logged["validation_errors"])
    # The same body is spec-valid when undeclared properties are tolerated.
    assert SpecValidator(strict=False).validate_transaction(loads(dumps(body))) == []


def test_unknown_top_level_and_detail_properties_are_rejected(sim: MonoovaSimulator) -> None:
    body = payid_body("TYPO-2", sourceBsb="802-985")
    body["mAccount"]["tokn"] = "x"
    body["disbursements"][0]["toNppCreditPayIdDetails"]["payIDType"] = "Email"
    code, payload, _ = call(sim, "POST", EXECUTE, body)
    assert code == 400
    for name in ("sourceBsb", "tokn", "payIDType"):
        assert name in payload["statusDescription"]


def test_missing_payid_account_name_is_rejected(sim: MonoovaSimulator) -> None:
    body = payid_body("NONAME-1")
    del body["disbursements"][0]["toNppCreditPayIdDetails"]["accountName"]
    code, payload, _ = call(sim, "POST", EXECUTE, body)
    assert code == 400
    assert payload["status"] == "ValidationError"
    assert "'accountName' is a required property" in payload["statusDescription"]
    assert "toNppCreditPayIdDetails" in payload["statusDescription"]


def test_totals_must_match_the_disbursements(sim: MonoovaSimulator) -> None:
    body = payid_body("SUM-1")
    body["totalAmount"] = Decimal("100.01")
    code, payload, _ = call(sim, "POST", EXECUTE, body)
    assert (code, payload["status"]) == (400, "InvalidAmountsDontMatch")
    assert sim.executions() == []


def test_amounts_with_three_decimals_are_rejected(sim: MonoovaSimulator) -> None:
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("DP-1", amount="100.005"))
    assert (code, payload["status"]) == (400, "InvalidTotalAmount")
    # 0.1 + 0.2 must equal 0.3 exactly (no float arithmetic anywhere).
    body = payid_body("DP-2", amount="0.3")
    first = body["disbursements"][0]
    body["disbursements"] = [
        {**first, "amount": Decimal("0.1")},
        {**first, "amount": Decimal("0.2")},
    ]
    code, payload, _ = call(sim, "POST", EXECUTE, body)
    assert (code, payload["status"]) == (200, "Ok")


def test_invalid_json_and_bad_payment_source(sim: MonoovaSimulator) -> None:
    code, payload, _ = call(sim, "POST", EXECUTE, raw=b'{"uniqueReference": "J1",')
    assert (code, payload["status"]) == (400, "RequestBodyNotValidJson")
    code, payload, _ = call(sim, "POST", EXECUTE, raw=b'{"totalAmount": NaN}')
    assert (code, payload["status"]) == (400, "RequestBodyNotValidJson")
    wallet = payid_body(
        "SRC-1", paymentSource="mWallet", mWallet={"token": "1" * 16, "pin": "1234"}
    )
    del wallet["mAccount"], wallet["description"]  # not declared by paymentSource.mWallet
    code, payload, _ = call(sim, "POST", EXECUTE, wallet)
    assert (code, payload["status"]) == (400, "InvalidPaymentSource")
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("SRC-2", mAccount={}))
    assert (code, payload["status"]) == (400, "MAccountTokenMustNotBeEmpty")


@pytest.mark.parametrize(
    "auth",
    [
        None,
        "Basic " + base64.b64encode(b"wrong-key:").decode(),
        "Basic " + base64.b64encode(f"{API_KEY}:secret".encode()).decode(),
        f"Bearer {API_KEY}",
        "Basic not-base64!",
    ],
)
def test_bad_or_missing_auth_is_401(sim: MonoovaSimulator, auth: str | None) -> None:
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("AUTH-1"), auth=auth)
    assert code == 401
    assert payload["status"] == "Unauthorized"
    assert set(payload) == {"durationMs", "status", "statusDescription"}
    code, _, _ = call(sim, "GET", STATUS + "AUTH-1", auth=auth)
    assert code == 401
    assert sim.executions() == []


def test_authorization_header_is_never_logged(sim: MonoovaSimulator) -> None:
    call(sim, "POST", EXECUTE, payid_body("LOG-1"))
    call(sim, "POST", EXECUTE, payid_body("LOG-2"), auth="Basic d3Jvbmc6")
    log = sim.requests_log()
    assert [entry["response_status"] for entry in log] == [200, 401]
    assert log[0]["body"]["uniqueReference"] == "LOG-1"
    assert log[0]["monoova_status"] == "Ok"
    for entry in log:
        assert all(name.lower() != "authorization" for name in entry["headers"])
    assert AUTH.split()[1] not in repr(log)
    assert "d3Jvbmc6" not in repr(log)


def test_duplicate_reference_returns_previous_transaction_id(sim: MonoovaSimulator) -> None:
    code, first, _ = call(sim, "POST", EXECUTE, payid_body("DUP-1"))
    assert code == 200
    code, second, _ = call(sim, "POST", EXECUTE, payid_body("DUP-1", amount="5.00"))
    assert code == 400
    assert second["status"] == "UniqueReferenceExists"
    assert second["transactionId"] == first["transactionId"]
    assert len(sim.executions()) == 1


def test_validate_does_not_consume_the_reference(sim: MonoovaSimulator) -> None:
    code, payload, _ = call(sim, "POST", VALIDATE, payid_body("VAL-1"))
    assert (code, payload["status"], payload["transactionId"]) == (200, "Ok", 0)
    code, payload, _ = call(sim, "POST", VALIDATE, payid_body("VAL-1"))
    assert code == 200
    assert sim.executions() == []
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("VAL-1"))
    assert (code, payload["transactionId"]) == (200, 1000)
    code, invalid, _ = call(sim, "POST", VALIDATE, payid_body("VAL-2", amount="1.001"))
    assert (code, invalid["status"]) == (400, "InvalidTotalAmount")


def test_status_known_and_unknown(sim: MonoovaSimulator) -> None:
    sim.webhook_delay = 0.3
    call(sim, "POST", EXECUTE, payid_body("STAT-1"))
    code, payload, _ = call(sim, "GET", STATUS + "STAT-1")
    assert code == 200
    assert payload["status"] == "Ok"
    assert payload["transactionStatus"] == "Pending"
    assert payload["uniqueReference"] == "STAT-1"
    wait_until(lambda: status_of(sim, "STAT-1") == "Complete")
    code, payload, _ = call(sim, "GET", STATUS + "STAT-1")
    assert payload["completedDate"] is not None
    code, payload, _ = call(sim, "GET", STATUS + "NOPE-1")
    assert code == 404
    assert payload["status"] == "TransactionNotFound"
    assert payload["uniqueReference"] == "NOPE-1"


# --------------------------------------------------------------------------- webhooks and modes


def test_ok_mode_sends_signed_payment_successful_webhook(
    sim: MonoovaSimulator, receiver: Receiver
) -> None:
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("OK-1"))
    assert code == 200
    [received] = receiver.wait_for(1)
    verify_signature(sim, received)
    headers = received["headers"]
    assert headers["authorization"] == WEBHOOK_TOKEN
    assert headers["content-type"] == "application/json"
    assert int(headers["webhookid"]) >= 1
    assert b'"Amount":100.00' in received["raw"]
    event = loads(received["raw"])
    assert SpecValidator().validate_webhook("NppPaymentStatus", event) == []
    assert event["Status"] == "Payment Successful"
    assert event["UniqueReference"] == "OK-1"
    assert event["TransactionId"] == payload["transactionId"]
    assert event["PayId"] == "jane@example.com"
    assert event["PayIdType"] == "Email"
    assert event["AccountName"] == "Jane Citizen"
    assert event["EndToEndId"] == "E2E1"
    assert event["RemitterName"] == "Acme"
    assert event["LodgementRef"] == "Payout"
    assert "RejectionReasonDescription" not in event
    assert status_of(sim, "OK-1") == "Complete"
    [delivery] = sim.deliveries()
    assert delivery["status_code"] == 200
    assert delivery["webhook_id"] == int(headers["webhookid"])
    assert delivery["body"] == received["raw"].decode()
    assert "Authorization" not in delivery


def test_bank_account_webhook_carries_bsb_and_account(
    sim: MonoovaSimulator, receiver: Receiver
) -> None:
    call(sim, "POST", EXECUTE, bank_body("BANKWH-1"))
    [received] = receiver.wait_for(1)
    verify_signature(sim, received)
    event = loads(received["raw"])
    assert (event["Bsb"], event["AccountNumber"]) == ("062-205", "819877339")
    assert event["Amount"] == Decimal("250.50")
    assert "PayId" not in event


def test_reject_mode(sim: MonoovaSimulator, receiver: Receiver) -> None:
    sim.set_mode("reject")
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("REJ-1"))
    assert (code, payload["status"]) == (200, "Ok")
    [received] = receiver.wait_for(1)
    verify_signature(sim, received)
    event = loads(received["raw"])
    assert SpecValidator().validate_webhook("NppPaymentStatus", event) == []
    assert event["Status"] == "Rejected"
    assert event["RejectionReasonDescription"] == "ACCOUNT CLOSED"
    assert isinstance(event["RejectionTransactionId"], int)
    assert event["RejectionDateTime"]
    assert status_of(sim, "REJ-1") == "Rejected"


def test_return_mode_sends_status_then_return(sim: MonoovaSimulator, receiver: Receiver) -> None:
    sim.set_mode("return")
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("RET-1"))
    assert code == 200
    first, second = receiver.wait_for(2)
    for received in (first, second):
        verify_signature(sim, received)
        assert received["headers"]["authorization"] == WEBHOOK_TOKEN
    assert int(second["headers"]["webhookid"]) > int(first["headers"]["webhookid"])
    status_event, return_event = loads(first["raw"]), loads(second["raw"])
    assert status_event["Status"] == "Payment Successful"
    assert SpecValidator().validate_webhook("NppReturn", return_event) == []
    assert return_event["TransactionId"] == payload["transactionId"]
    assert return_event["UniqueReference"] == "RET-1"
    assert return_event["ReturnReason"]
    assert return_event["ReturnDate"]
    assert isinstance(return_event["ReturnTransactionId"], int)
    assert return_event["Amount"] == Decimal("100.00")
    code, status, _ = call(sim, "GET", STATUS + "RET-1")
    assert status["transactionStatus"] == "Dishonoured"
    assert status["dishonouredDate"] is not None


def test_count_limited_reject_reverts_to_ok(sim: MonoovaSimulator, receiver: Receiver) -> None:
    sim.set_mode("reject", count=1)
    call(sim, "GET", STATUS + "NOT-YET")  # status requests do not use up an execute-only mode
    call(sim, "POST", EXECUTE, payid_body("CNT-1"))
    call(sim, "POST", EXECUTE, payid_body("CNT-2"))
    events = {loads(r["raw"])["UniqueReference"]: loads(r["raw"]) for r in receiver.wait_for(2)}
    assert events["CNT-1"]["Status"] == "Rejected"
    assert events["CNT-2"]["Status"] == "Payment Successful"
    assert sim.mode()["mode"] == "ok"


def test_decline_mode_is_synchronous_and_not_recorded(sim: MonoovaSimulator) -> None:
    sim.set_mode("decline", count=1)
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("DEC-1"))
    assert code == 400
    assert payload["status"] == "InvalidDisbursementItemDirectCreditDetailAccountNumber"
    assert sim.executions() == []
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("DEC-1"))
    assert (code, payload["status"]) == (200, "Ok")


def test_5xx_and_unavailable_are_not_recorded_and_revert(
    sim: MonoovaSimulator, receiver: Receiver
) -> None:
    sim.set_mode("error_5xx", count=1)
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("ERR-1"))
    assert code == 500
    assert payload["status"] != "Ok"
    sim.set_mode("unavailable", count=2)
    assert call(sim, "POST", EXECUTE, payid_body("ERR-1"))[0] == 503
    assert call(sim, "GET", STATUS + "ERR-1")[0] == 503  # failure modes hit status too
    assert sim.executions() == []
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("ERR-1"))
    assert (code, payload["transactionId"]) == (200, 1000)
    receiver.wait_for(1)
    assert [loads(r["raw"])["UniqueReference"] for r in receiver.received] == ["ERR-1"]


def test_unauthorized_mode_answers_401_to_execute_and_status_without_processing(
    sim: MonoovaSimulator,
) -> None:
    sim.set_mode("unauthorized", count=2)
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("AUTH-1"))
    assert (code, payload["status"]) == (401, "Unauthorized")
    assert call(sim, "GET", STATUS + "AUTH-1")[0] == 401
    assert sim.executions() == []
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("AUTH-1"))  # reverted to ok
    assert (code, payload["status"]) == (200, "Ok")


def test_the_request_log_keeps_the_newest_entries_only(
    sim: MonoovaSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from simulators.monoova import server

    monkeypatch.setattr(server, "LOG_LIMIT", 3)
    sim.reset()  # the logs are made with the limit in force
    for index in range(5):
        call(sim, "GET", STATUS + f"LOG-{index}")

    assert [r["path"].rsplit("/", 1)[1] for r in sim.requests_log()] == ["LOG-2", "LOG-3", "LOG-4"]


def test_failure_modes_apply_to_status_endpoint(sim: MonoovaSimulator) -> None:
    call(sim, "POST", EXECUTE, payid_body("FST-1"))
    sim.set_mode("error_5xx", count=1)
    assert call(sim, "GET", STATUS + "FST-1")[0] == 500
    assert call(sim, "GET", STATUS + "FST-1")[0] == 200
    sim.set_mode("timeout", count=1)
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        call(sim, "GET", STATUS + "FST-1", timeout=0.3)
    assert call(sim, "GET", STATUS + "FST-1")[0] == 200


def test_timeout_mode_records_the_payment_but_loses_the_response(
    sim: MonoovaSimulator, receiver: Receiver
) -> None:
    sim.set_mode("timeout", count=1)
    started = time.monotonic()
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        call(sim, "POST", EXECUTE, payid_body("TMO-1"), timeout=0.3)
    assert time.monotonic() - started < 0.9
    [execution] = sim.executions("TMO-1")
    [received] = receiver.wait_for(1)
    assert loads(received["raw"])["Status"] == "Payment Successful"
    assert status_of(sim, "TMO-1") == "Complete"
    code, payload, _ = call(sim, "POST", EXECUTE, payid_body("TMO-1"))
    assert (code, payload["status"]) == (400, "UniqueReferenceExists")
    assert payload["transactionId"] == execution["transaction_id"]


def test_hang_mode_holds_then_504_without_processing(sim: MonoovaSimulator) -> None:
    sim.set_mode("hang", count=1)
    started = time.monotonic()
    code, _, _ = call(sim, "POST", EXECUTE, payid_body("HANG-1"), timeout=5)
    assert code == 504
    assert time.monotonic() - started >= 0.9
    assert sim.executions() == []
    assert call(sim, "POST", EXECUTE, payid_body("HANG-1"))[0] == 200


def test_latency_is_added_to_responses(sim: MonoovaSimulator) -> None:
    sim.set_mode("ok", latency_ms=300)
    started = time.monotonic()
    assert call(sim, "POST", VALIDATE, payid_body("LAT-1"))[0] == 200
    assert time.monotonic() - started >= 0.3


def test_webhook_is_retried_once_after_non_200(sim: MonoovaSimulator, receiver: Receiver) -> None:
    receiver.codes = [500, 503, 500]
    call(sim, "POST", EXECUTE, payid_body("RTY-1"))
    first, second = receiver.wait_for(2)
    assert second["at"] - first["at"] >= 0.3
    assert first["raw"] == second["raw"]
    assert first["headers"]["webhookid"] == second["headers"]["webhookid"]
    verify_signature(sim, second)
    time.sleep(0.8)  # no third attempt
    assert len(receiver.received) == 2
    attempts = sim.deliveries()
    assert [(d["attempt"], d["status_code"]) for d in attempts] == [(1, 500), (2, 503)]


def test_webhook_retry_succeeds_after_one_failure(
    sim: MonoovaSimulator, receiver: Receiver
) -> None:
    receiver.codes = [500]
    call(sim, "POST", EXECUTE, payid_body("RTY-2"))
    receiver.wait_for(2)
    wait_until(lambda: len(sim.deliveries()) == 2)
    assert [d["status_code"] for d in sim.deliveries()] == [500, 200]


def test_send_webhook_manually(sim: MonoovaSimulator, receiver: Receiver) -> None:
    sim.webhook_delay = 30  # the automatic outcome never fires during this test
    call(sim, "POST", EXECUTE, payid_body("MAN-1"))
    result = sim.send_webhook("MAN-1", event="NppReturn")
    assert result["status_code"] == 200
    assert result["event"] == "NppReturn"
    [received] = receiver.wait_for(1)
    verify_signature(sim, received)
    assert loads(received["raw"])["UniqueReference"] == "MAN-1"
    assert status_of(sim, "MAN-1") == "Dishonoured"
    with pytest.raises(LookupError):
        sim.send_webhook("NOPE")
    with pytest.raises(ValueError, match="status"):
        sim.send_webhook("MAN-1", status="Pending")


def test_concurrent_identical_executes_record_one(sim: MonoovaSimulator) -> None:
    barrier = threading.Barrier(20)

    def execute(_: int) -> tuple[int, Any, str]:
        barrier.wait()
        return call(sim, "POST", EXECUTE, payid_body("RACE-1"))

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(execute, range(20)))
    codes = sorted(code for code, _, _ in results)
    assert codes == [200] + [400] * 19
    [execution] = sim.executions("RACE-1")
    assert {payload["transactionId"] for _, payload, _ in results} == {execution["transaction_id"]}
    assert {payload["status"] for code, payload, _ in results if code == 400} == {
        "UniqueReferenceExists"
    }


# --------------------------------------------------------------------------- admin API and CLI


def test_admin_http_api(sim: MonoovaSimulator, receiver: Receiver) -> None:
    code, mode, _ = call(sim, "POST", "/_simulator/mode", {"mode": "decline", "count": 1})
    assert (code, mode) == (200, {"mode": "decline", "count": 1, "latency_ms": 0})
    assert call(sim, "POST", EXECUTE, payid_body("ADM-1"))[0] == 400
    assert call(sim, "GET", "/_simulator/executions", auth=None)[1] == []
    sim.webhook_delay = 30
    assert call(sim, "POST", EXECUTE, payid_body("ADM-1"))[0] == 200
    code, executions, _ = call(sim, "GET", "/_simulator/executions?uniqueReference=ADM-1")
    assert [e["unique_reference"] for e in executions] == ["ADM-1"]
    code, requests, _ = call(sim, "GET", "/_simulator/requests", auth=None)
    assert [r["response_status"] for r in requests] == [400, 200]
    code, result, _ = call(
        sim,
        "POST",
        "/_simulator/webhooks",
        {"uniqueReference": "ADM-1", "event": "NppPaymentStatus", "status": "Rejected"},
    )
    assert (code, result["status_code"]) == (200, 200)
    receiver.wait_for(1)
    code, deliveries, _ = call(sim, "GET", "/_simulator/deliveries")
    assert [d["webhook_id"] for d in deliveries] == [result["webhook_id"]]
    assert call(sim, "POST", "/_simulator/webhooks", {"uniqueReference": "X"})[0] == 404
    assert call(sim, "POST", "/_simulator/mode", {"mode": "explode"})[0] == 400
    assert call(sim, "POST", "/_simulator/reset")[0] == 200
    assert call(sim, "GET", "/_simulator/requests")[1] == []
    assert sim.executions() == []


def test_spec_validator_details() -> None:
    validator = SpecValidator()
    # Monoova's own example body has no top-level "amount", which the spec marks required.
    assert validator.validate_transaction(loads(dumps(payid_body("V-0")))) == []
    assert any("paymentSource.mAccount" in q and "amount" in q for q in validator.quirks)
    bank = loads(dumps(bank_body("V-1")))
    bank["disbursements"][0]["toNppCreditBankAccountDetails"]["accountNumber"] = "8198-77339"
    [error] = validator.validate_transaction(bank)
    assert "accountNumber" in error
    assert validator.validate_webhook("NppPaymentStatus", {"Stauts": "Rejected"}) != []
    assert validator.validate_webhook("NppReturn", {"TransactionId": "1"}) != []
    with pytest.raises(ValueError, match="no schema"):
        validator.validate_webhook("NoSuchEvent", {})


def test_command_line_runs_in_foreground() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "simulators.monoova", "--port", "0", "--api-key", "k"],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        second = process.stdout.readline()
        assert first.startswith("Monoova simulator listening on http://127.0.0.1:")
        assert "3082010A0282010100" in second
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0


def test_the_kept_spec_is_monoovas_document_unmodified() -> None:
    from simulators.monoova.spec import SHARED_SPEC, VENDORED_SPEC

    assert VENDORED_SPEC.read_bytes().startswith(b"openapi: 3.0.0")
    if SHARED_SPEC.is_file():
        assert VENDORED_SPEC.read_bytes() == SHARED_SPEC.read_bytes()
