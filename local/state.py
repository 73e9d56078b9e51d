"""Saving and restoring moto's state, so `make local --data-dir` survives a restart.

moto keeps everything in memory in per-service backend dicts; they are pickled whole. Two
things in them do not pickle on their own and get reducers here: the RSA keys moto makes for
KMS keys (kept as PEM) and the locks its queues hold (recreated empty).
"""

from __future__ import annotations

import copyreg
import pickle
import threading
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.dynamodb.models import dynamodb_backends
from moto.kms.models import kms_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sqs.models import sqs_backends

from local import moto_serial

_BACKENDS: dict[str, Any] = {
    "dynamodb": dynamodb_backends,
    "kms": kms_backends,
    "secretsmanager": secretsmanager_backends,
    "sqs": sqs_backends,
}
STATE_FILE = "moto-state.pickle"


def _load_rsa(pem: bytes) -> Any:
    return serialization.load_pem_private_key(pem, None)


def _reduce_rsa(key: rsa.RSAPrivateKey) -> tuple[Any, tuple[bytes]]:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return _load_rsa, (pem,)


def _register_reducers() -> None:
    # The concrete class lives in cryptography's Rust bindings; take it from an instance.
    sample = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    copyreg.pickle(type(sample), _reduce_rsa)
    copyreg.pickle(type(threading.RLock()), lambda _: (threading.RLock, ()))
    copyreg.pickle(type(threading.Lock()), lambda _: (threading.Lock, ()))


_register_reducers()


def save(data_dir: Path, extra: dict[str, Any]) -> Path:
    """Write every backend and `extra` atomically (a crash mid-write keeps the old file)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with moto_serial.paused():
        payload = {name: dict(backend) for name, backend in _BACKENDS.items()}
        blob = pickle.dumps({"backends": payload, "extra": extra})
    target = data_dir / STATE_FILE
    temporary = target.with_suffix(".tmp")
    temporary.write_bytes(blob)
    temporary.replace(target)
    return target


def load(data_dir: Path) -> dict[str, Any] | None:
    """Restore the backends; returns `extra`, or None when there is nothing saved."""
    source = data_dir / STATE_FILE
    if not source.is_file():
        return None
    state = pickle.loads(source.read_bytes())  # noqa: S301 - our own file, in the user's dir
    with moto_serial.paused():
        for name, backend in _BACKENDS.items():
            backend.update(state["backends"].get(name, {}))
    return dict(state["extra"])
