"""Loaded by LocalStack's Python (its PYTHONPATH names this folder): every listening socket binds to loopback, and
API Gateway's JSONPath expressions are parsed once.

LocalStack 4.9.2 in host mode listens on every interface although `GATEWAY_LISTEN=127.0.0.1:4566` is set: its
twisted gateway opens a `TCP4ServerEndpoint` without an `interface`. A bind to the wildcard address (`0.0.0.0`, `::`
or `""`) in this process becomes a bind to `PIPELINE_BIND_HOST` (default 127.0.0.1; `::1` for IPv6), whatever
server library asks for it. The local stack checks the result after `up` (`local_stack.supervisor`); the stack's
tests read the real listeners from /proc/net/tcp{,6}. LocalStack's Kinesis engine (node) gets the same treatment
from `bind_loopback.js` through NODE_OPTIONS.

Speed, not behaviour: LocalStack renders `$input.json('$.Records[i].Data')` in a mapping template by parsing the
JSONPath with `jsonpath_rw.parse`, which rebuilds its parser tables on every call (about 6 ms). The PutRecords
template calls it twice per record, which held the local stream path to about 70 records/s. `parse` is a pure
function of the path string, so it is memoised here; the rendered templates are unchanged.
"""

from __future__ import annotations

import functools
import os
import socket
from typing import Any

_HOST_V4 = os.environ.get("PIPELINE_BIND_HOST", "127.0.0.1")
_HOST_V6 = "::1"
_WILDCARD_V4 = {"", "0.0.0.0"}
_WILDCARD_V6 = {"", "::", "::0"}
_bind = socket.socket.bind


def _loopback_bind(self: socket.socket, address: Any) -> None:
    if isinstance(address, tuple) and address:
        if self.family == socket.AF_INET and address[0] in _WILDCARD_V4:
            address = (_HOST_V4, *address[1:])
        elif self.family == socket.AF_INET6 and address[0] in _WILDCARD_V6:
            address = (_HOST_V6, *address[1:])
    return _bind(self, address)


socket.socket.bind = _loopback_bind  # type: ignore[method-assign]


def _memoise_jsonpath_parse() -> None:
    try:
        import jsonpath_rw
    except ImportError:  # not LocalStack's venv: nothing to speed up
        return
    jsonpath_rw.parse = functools.lru_cache(maxsize=4096)(jsonpath_rw.parse)


_memoise_jsonpath_parse()
