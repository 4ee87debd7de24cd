"""Property-based tests (hypothesis) of the REST Proxy's request parser (docs/data-contracts.md 3.3): any JSON
value posted as a record's value is produced as bytes that decode back to the same value (integers exact, also
beyond 64 bits), and any bytes at all, in any charset the Content-Type may name, end in the parser's own client
error (`ProxyError`, a 4xx) or in records, never in another exception (which the server would answer with 500)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from local_stack.rest_proxy import JSON_V2, ProxyError, check_content_type, parse_produce_body

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: Integers of every size, floats JSON can carry, strings with any code point but lone surrogates.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(blacklist_categories=("Cs",)))
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values, with bool and int kept apart (True == 1 in Python) and -0.0 == 0.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


@SETTINGS
@given(value=json_values.filter(lambda v: v is not None), compact=st.booleans())
def test_any_json_value_is_produced_as_bytes_that_decode_back_to_it(value: Any, compact: bool) -> None:
    body = json.dumps({"records": [{"value": value}]}, separators=(",", ":") if compact else None).encode()
    (record,) = parse_produce_body(body)
    assert _same(json.loads(record.value), value)
    assert record.key is None and record.partition is None


@SETTINGS
@given(value=json_values.filter(lambda v: v is not None), key=json_values)
def test_keys_decode_back_too(value: Any, key: Any) -> None:
    body = json.dumps({"records": [{"value": value, "key": key}]}, ensure_ascii=False).encode()
    (record,) = parse_produce_body(body)
    assert _same(json.loads(record.value), value)
    assert (record.key is None) if key is None else _same(json.loads(record.key), key)


@SETTINGS
@given(
    n=st.integers(min_value=2**63, max_value=10**200)
    | st.integers(max_value=-(2**63) - 1, min_value=-(10**200))
)
def test_integers_beyond_64_bits_are_written_digit_for_digit(n: int) -> None:
    (record,) = parse_produce_body(f'{{"records":[{{"value":{{"ind":{n}}}}}]}}'.encode())
    assert record.value == f'{{"ind":{n}}}'.encode()


def _only_client_errors(body: bytes, charset: str = "utf-8") -> None:
    try:
        records = parse_produce_body(body, charset)
    except ProxyError as error:
        assert 400 <= error.status < 500 and error.message
    else:
        assert records and all(isinstance(r.value, bytes) for r in records)


@SETTINGS
@given(body=st.binary(max_size=300))
def test_arbitrary_bytes_are_a_client_error_never_an_exception(body: bytes) -> None:
    _only_client_errors(body)


@SETTINGS
@given(
    prefix=st.sampled_from(
        [b'{"records":[{"value":', b'{"records":[', b'{"records":[{"value":1,"key":', b"["]
    ),
    tail=st.binary(max_size=200),
)
def test_bytes_after_a_valid_prefix_are_a_client_error_never_an_exception(prefix: bytes, tail: bytes) -> None:
    _only_client_errors(prefix + tail)


@SETTINGS
@given(
    text=st.text(alphabet='{}[]:,"0123456789.eE+-truefalsnl \\u\n', max_size=200),
)
def test_json_like_text_is_a_client_error_never_an_exception(text: str) -> None:
    _only_client_errors(f'{{"records":[{{"value":{text}}}]}}'.encode())


@SETTINGS
@given(
    charset=st.sampled_from(
        ["utf-8", "utf-16", "utf-32", "latin-1", "cp1252", "shift_jis", "base64", "hex", "zlib", "punycode"]
    )
    | st.text(max_size=20),
    body=st.binary(max_size=200),
)
def test_any_charset_and_bytes_are_a_client_error_never_an_exception(charset: str, body: bytes) -> None:
    try:
        declared = check_content_type(f"{JSON_V2}; charset={charset}")
    except ProxyError as error:
        assert error.status == 415
        return
    _only_client_errors(body, declared)
