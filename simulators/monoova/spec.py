"""Load Monoova's published OpenAPI spec and validate request and webhook bodies against it.

The spec is Monoova Payments API v5.29 (OpenAPI 3.0). It is read from ``MONOOVA_SPEC_PATH``
when that is set, else from ``<repo root>/../shared/specs/monoova/monoova-payments.yml``, else
from the unmodified copy in ``simulators/monoova/spec/``, and parsed once per process and path.

OpenAPI 3.0 schemas are not JSON Schema, so each component is translated before use:

* ``$ref: '#/components/schemas/...'`` is inlined (a reference back into a schema that is
  already being inlined is left unconstrained rather than looping);
* OpenAPI-only keywords are dropped (``example``, ``discriminator``, ``xml``, ``x-*``, ...);
  ``nullable: true`` becomes a ``"null"`` alternative; ``format`` values that are not JSON
  Schema formats (``decimal``, ``double``, ``int32``, ...) are dropped; no format is asserted;
* YAML floats become ``Decimal`` so that ``minimum: 0.01`` compares exactly with amounts that
  were parsed with ``parse_float=Decimal`` (``float(0.01)`` is a hair above 0.01);
* the .NET regex anchor ``\\z`` becomes Python's ``\\Z`` (``\\z`` is a bad escape before
  Python 3.14);
* ``allOf`` parts that only declare ``properties``/``required`` are merged into one object
  schema, so that strict mode can see every declared property of the selected schema.

The ``discriminator`` on ``financial.transaction.paymentSource`` is applied here: a body with
``paymentSource: "mAccount"`` is validated against ``paymentSource.mAccount`` (which is
``financial.transaction`` plus ``mAccount``/``description``/``disbursements``). Each
disbursement is validated against the one ``disbursementMethod.*`` schema whose
``disbursementMethod`` enum holds its method, instead of the spec's loose ``anyOf`` (which
would accept a PayID disbursement that merely looks like some other method).

STRICT mode (the default) adds ``additionalProperties: false`` to every object schema that
declares ``properties``: the top level, ``mAccount``, each disbursement and its
``toNppCreditPayIdDetails`` / ``toNppCreditBankAccountDetails``. A typo such as ``sourceBSB``
(the spec says ``sourceAccountBsb``) is then an error instead of being silently ignored, as
the real API would ignore it.

Defects in the spec that are repaired (each one applied is listed in ``SpecValidator.quirks``):

* every ``paymentSource.*`` schema has ``required: [amount]`` although no top-level
  ``amount`` property exists (the body uses ``totalAmount``; Monoova's own examples have no
  ``amount``). Likewise ``disbursementMethod.BPAY`` requires ``billerCode``/``referenceNumber``
  at the wrong level and ``disbursementMethod.mWallet`` requires an undeclared ``token``.
  A name that is required but not declared in the same (merged) object schema is ignored:
  in strict mode such a schema could never be satisfied;
* several Direct Entry patterns are C# verbatim string literals pasted into YAML
  (``@"^[a-zA-Z0-9 ...]*$"``), which as a regex matches nothing; the ``@"..."`` wrapper is
  removed.
"""

from __future__ import annotations

import copy
import functools
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.protocols import Validator
from jsonschema.validators import extend

__all__ = ["SpecValidator", "default_spec_path", "load_spec"]

_SPEC_ENV = "MONOOVA_SPEC_PATH"
_SCHEMA_PREFIX = "#/components/schemas/"

# Keys whose values are annotations or OpenAPI-only; they never constrain an instance here.
_DROPPED_KEYS = frozenset(
    {
        "example",
        "examples",
        "discriminator",
        "xml",
        "externalDocs",
        "deprecated",
        "description",
        "readOnly",
        "writeOnly",
        "nullable",
    }
)
# Formats kept as annotations (no format checker is used; Monoova's own date-time examples,
# e.g. "2019-07-22T00:00:00", carry no UTC offset and are not RFC 3339).
_KEPT_FORMATS = frozenset({"date-time", "date", "time", "email", "uri", "uuid"})
# Keywords whose values are literals, not sub-schemas.
_LITERAL_KEYS = frozenset({"enum", "const", "default", "required"})
_SCHEMA_MAP_KEYS = ("properties", "patternProperties")
_SCHEMA_LIST_KEYS = ("allOf", "anyOf", "oneOf")
_SCHEMA_KEYS = ("items", "additionalProperties", "not")
_MERGEABLE_KEYS = frozenset({"type", "properties", "required", "title"})

_DOTNET_VERBATIM = re.compile(r'\s*@"(.*)"\s*', re.DOTALL)
_DOTNET_END_ANCHOR = re.compile(r"(?<!\\)((?:\\\\)*)\\z")
_DECIMAL_REPR = re.compile(r"Decimal\('([^']*)'\)")


SHARED_SPEC = (
    Path(__file__).resolve().parents[3] / "shared" / "specs" / "monoova" / "monoova-payments.yml"
)
VENDORED_SPEC = Path(__file__).resolve().parent / "spec" / "monoova-payments.yml"


def default_spec_path() -> Path:
    """``$MONOOVA_SPEC_PATH``, else the design workspace's copy beside the repository
    (``../shared/specs/monoova/``), else the identical copy kept in this package."""
    env = os.environ.get(_SPEC_ENV)
    if env:
        return Path(env)
    return SHARED_SPEC if SHARED_SPEC.is_file() else VENDORED_SPEC


@functools.lru_cache(maxsize=8)
def _load_spec_cached(path: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as handle:
        spec = yaml.load(handle, Loader=loader)  # noqa: S506 - a SafeLoader variant
    if not isinstance(spec, dict) or "components" not in spec:
        raise ValueError(f"{path} is not an OpenAPI document with components")
    return spec


def load_spec(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Parse the spec (cached per process and path). Treat the result as read-only."""
    resolved = Path(path) if path is not None else default_spec_path()
    return _load_spec_cached(str(resolved.resolve()))


# --------------------------------------------------------------------------- JSON Schema


def _is_number(_checker: Any, instance: Any) -> bool:
    return not isinstance(instance, bool) and isinstance(instance, int | float | Decimal)


def _is_integer(_checker: Any, instance: Any) -> bool:
    if isinstance(instance, bool):
        return False
    if isinstance(instance, int):
        return True
    if isinstance(instance, float):
        return instance.is_integer()
    if isinstance(instance, Decimal):
        return instance.is_finite() and instance == instance.to_integral_value()
    return False


_TYPE_CHECKER = Draft202012Validator.TYPE_CHECKER.redefine_many(
    {"number": _is_number, "integer": _is_integer}
)
_DecimalValidator = extend(Draft202012Validator, type_checker=_TYPE_CHECKER)


def _literal(value: Any) -> Any:
    """Copy a literal (enum, default, ...) with YAML floats turned into exact Decimals."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list):
        return [_literal(item) for item in value]
    if isinstance(value, dict):
        return {key: _literal(item) for key, item in value.items()}
    return value


def _map_subschemas(schema: dict[str, Any], fn: Callable[[Any], Any]) -> dict[str, Any]:
    """Shallow copy of ``schema`` with ``fn`` applied to each direct sub-schema."""
    out = dict(schema)
    for key in _SCHEMA_MAP_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = {name: fn(sub) for name, sub in out[key].items()}
    for key in _SCHEMA_LIST_KEYS:
        if isinstance(out.get(key), list):
            out[key] = [fn(sub) for sub in out[key]]
    for key in _SCHEMA_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = fn(out[key])
    return out


def _is_mergeable(part: Any) -> bool:
    return (
        isinstance(part, dict)
        and set(part) <= _MERGEABLE_KEYS
        and part.get("type", "object") == "object"
    )


def _flatten(schema: Any) -> Any:
    """Merge ``allOf`` parts that only declare properties/required into their parent."""
    if not isinstance(schema, dict):
        return schema
    schema = _map_subschemas(schema, _flatten)
    parts = schema.get("allOf")
    if not isinstance(parts, list) or not all(_is_mergeable(part) for part in parts):
        return schema
    merged = {key: value for key, value in schema.items() if key != "allOf"}
    properties: dict[str, Any] = dict(merged.get("properties", {}))
    required: list[str] = list(merged.get("required", []))
    for part in parts:
        for name, sub in part.get("properties", {}).items():
            properties[name] = {"allOf": [properties[name], sub]} if name in properties else sub
        required.extend(name for name in part.get("required", []) if name not in required)
    merged["type"] = "object"
    merged["properties"] = properties
    if required:
        merged["required"] = required
    return merged


def _close(schema: Any) -> Any:
    """STRICT mode: forbid properties that an object schema does not declare."""
    if not isinstance(schema, dict):
        return schema
    schema = _map_subschemas(schema, _close)
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not any(key in schema for key in _SCHEMA_LIST_KEYS)
    ):
        schema["additionalProperties"] = False
    return schema


def _format_errors(validator: Validator, instance: Any, base: str) -> list[str]:
    messages = []
    for error in validator.iter_errors(instance):
        path = base
        for part in error.absolute_path:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = _DECIMAL_REPR.sub(r"\1", error.message)
        messages.append(f"{path}: {message}")
    return sorted(messages)


class _Translator:
    """Turns OpenAPI 3.0 components into self-contained JSON Schema (cached per spec)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self._schemas: dict[str, Any] = spec["components"]["schemas"]
        self._cache: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.quirks: set[str] = set()

    def has(self, name: str) -> bool:
        return name in self._schemas

    def raw(self, name: str) -> dict[str, Any]:
        return self._schemas[name]

    def component(self, name: str) -> dict[str, Any]:
        """Translated, ``allOf``-flattened schema of ``#/components/schemas/<name>``."""
        with self._lock:
            if name not in self._cache:
                self._cache[name] = self._translate_component(name, ())
            return self._cache[name]

    def _translate_component(self, name: str, stack: tuple[str, ...]) -> dict[str, Any]:
        translated = self._translate(self._schemas[name], (*stack, name), name)
        return self._drop_undeclared_required(_flatten(translated), name)

    @staticmethod
    def ref_name(ref: str) -> str:
        if not ref.startswith(_SCHEMA_PREFIX):
            raise ValueError(f"unsupported $ref {ref!r}")
        return ref[len(_SCHEMA_PREFIX) :]

    def _translate(self, node: Any, stack: tuple[str, ...], where: str) -> Any:
        if isinstance(node, list):
            return [self._translate(item, stack, where) for item in node]
        if isinstance(node, float):
            return Decimal(repr(node))
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = self.ref_name(ref)
            if name in stack:
                return {}
            return self._translate_component(name, stack)
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED_KEYS or key.startswith("x-"):
                continue
            translated = self._translate_keyword(key, value, stack, where)
            if translated is not None:
                out[key] = translated
        self._openapi_numbers(node, out)
        if node.get("nullable") is True:
            self._make_nullable(out)
        return out

    def _translate_keyword(
        self, key: str, value: Any, stack: tuple[str, ...], where: str
    ) -> Any | None:
        """The JSON Schema value of one keyword, or None to drop the keyword."""
        if key in _SCHEMA_MAP_KEYS and isinstance(value, dict):
            return {
                prop: self._translate(sub, stack, f"{where}.{prop}") for prop, sub in value.items()
            }
        if key in _LITERAL_KEYS:
            return _literal(value)
        if key == "format":
            return value if value in _KEPT_FORMATS else None
        if key == "pattern" and isinstance(value, str):
            return self._pattern(value, where)
        return self._translate(value, stack, where)

    @staticmethod
    def _openapi_numbers(node: dict[str, Any], out: dict[str, Any]) -> None:
        # OpenAPI 3.0 (like draft 4) spells exclusive bounds as booleans next to min/max.
        for flag, bound in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
            if isinstance(node.get(flag), bool):
                if node[flag] and bound in out:
                    out[flag] = out.pop(bound)
                else:
                    out.pop(flag, None)

    @staticmethod
    def _make_nullable(out: dict[str, Any]) -> None:
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]

    def _pattern(self, pattern: str, where: str) -> str | None:
        fixed = pattern
        verbatim = _DOTNET_VERBATIM.fullmatch(pattern)
        if verbatim:
            fixed = verbatim.group(1).replace('""', '"')
            self.quirks.add(f'{where}: pattern is a C# verbatim string literal; @"..." removed')
        fixed = _DOTNET_END_ANCHOR.sub(r"\1\\Z", fixed)
        try:
            re.compile(fixed)
        except re.error as exc:
            self.quirks.add(f"{where}: pattern {pattern!r} is not a valid regex ({exc}); ignored")
            return None
        return fixed

    def _drop_undeclared_required(self, schema: Any, name: str) -> Any:
        if not isinstance(schema, dict):
            return schema
        schema = _map_subschemas(schema, lambda sub: self._drop_undeclared_required(sub, name))
        properties = schema.get("properties")
        required = schema.get("required")
        if (
            isinstance(properties, dict)
            and isinstance(required, list)
            and not any(key in schema for key in _SCHEMA_LIST_KEYS)
        ):
            missing = [item for item in required if item not in properties]
            if missing:
                self.quirks.add(
                    f"{name}: required {missing} not declared as properties of the same "
                    "object; ignored"
                )
                kept = [item for item in required if item in properties]
                if kept:
                    schema["required"] = kept
                else:
                    del schema["required"]
        return schema


@functools.lru_cache(maxsize=8)
def _translator_for(path: str) -> _Translator:
    return _Translator(_load_spec_cached(path))


@dataclass
class _TransactionPlan:
    validator: Validator
    methods: dict[str, Validator] = field(default_factory=dict)


class SpecValidator:
    """Validates Monoova request and webhook bodies against the published spec.

    Bodies should be parsed with ``json.loads(..., parse_float=Decimal)``. Every method
    returns a sorted list of messages such as
    ``"$.disbursements[0]: Additional properties are not allowed ('sourceBSB' was unexpected)"``;
    an empty list means valid.
    """

    def __init__(self, strict: bool = True, spec_path: str | os.PathLike[str] | None = None):
        self.strict = strict
        resolved = Path(spec_path) if spec_path is not None else default_spec_path()
        self._translator = _translator_for(str(resolved.resolve()))
        raw = self._translator.raw("financial.transaction")
        mapping = raw.get("discriminator", {}).get("mapping", {})
        self._sources: dict[str, str] = {
            source: self._translator.ref_name(ref) for source, ref in mapping.items()
        }
        self._plans: dict[str | None, _TransactionPlan] = {}
        self._webhooks: dict[str, Validator] = {}
        self._lock = threading.Lock()

    @property
    def payment_sources(self) -> list[str]:
        """``paymentSource`` values that the spec's discriminator maps to a schema."""
        return list(self._sources)

    @property
    def quirks(self) -> list[str]:
        """Spec defects repaired so far while building validators (see the module docstring)."""
        return sorted(self._translator.quirks)

    def _compile(self, schema: dict[str, Any], close: bool) -> Validator:
        schema = copy.deepcopy(schema)
        return _DecimalValidator(_close(schema) if close else schema)

    def _plan(self, source: str | None) -> _TransactionPlan:
        with self._lock:
            plan = self._plans.get(source)
        if plan is not None:
            return plan
        if source in self._sources:
            schema = copy.deepcopy(self._translator.component(self._sources[source]))
            close = self.strict
        else:
            # Unknown or missing paymentSource: the enum/required error is the real problem;
            # without a selected variant there is no declared-property set to be strict about.
            schema = copy.deepcopy(self._translator.component("financial.transaction"))
            close = False
        methods: dict[str, Validator] = {}
        disbursements = schema.get("properties", {}).get("disbursements")
        if isinstance(disbursements, dict) and isinstance(disbursements.get("items"), dict):
            for option in disbursements["items"].get("anyOf", []):
                method_schema = option.get("properties", {}).get("disbursementMethod", {})
                compiled = self._compile(option, close)
                for method in method_schema.get("enum", []):
                    methods.setdefault(method, compiled)
            disbursements["items"] = {}  # each item is validated against its own method
        plan = _TransactionPlan(self._compile(schema, close), methods)
        with self._lock:
            return self._plans.setdefault(source, plan)

    def validate_transaction(self, body: Any) -> list[str]:
        """Errors for a ``/financial/v2/transaction/execute`` or ``/validate`` body."""
        if not isinstance(body, dict):
            return ["$: request body must be a JSON object"]
        source = body.get("paymentSource")
        plan = self._plan(source if isinstance(source, str) else None)
        errors = _format_errors(plan.validator, body, "$")
        disbursements = body.get("disbursements")
        if isinstance(disbursements, list) and plan.methods:
            for index, item in enumerate(disbursements):
                errors.extend(self._disbursement_errors(plan, item, f"$.disbursements[{index}]"))
        return errors

    @staticmethod
    def _disbursement_errors(plan: _TransactionPlan, item: Any, path: str) -> list[str]:
        if not isinstance(item, dict):
            return [f"{path}: {item!r} is not of type 'object'"]
        if "disbursementMethod" not in item:
            return [f"{path}: 'disbursementMethod' is a required property"]
        method = item["disbursementMethod"]
        validator = plan.methods.get(method) if isinstance(method, str) else None
        if validator is None:
            return [f"{path}.disbursementMethod: {method!r} is not one of {list(plan.methods)}"]
        return _format_errors(validator, item, path)

    def validate_webhook(self, event_name: str, body: Any) -> list[str]:
        """Errors for a webhook body of event ``event_name`` (schema ``event.<name>Webhook``).

        Raises ``ValueError`` for an event that has no schema in the spec.
        """
        schema_name = f"event.{event_name}Webhook"
        if not self._translator.has(schema_name):
            raise ValueError(f"no schema {schema_name!r} in the Monoova spec")
        with self._lock:
            validator = self._webhooks.get(event_name)
        if validator is None:
            validator = self._compile(self._translator.component(schema_name), self.strict)
            with self._lock:
                validator = self._webhooks.setdefault(event_name, validator)
        if not isinstance(body, dict):
            return ["$: webhook body must be a JSON object"]
        return _format_errors(validator, body, "$")
