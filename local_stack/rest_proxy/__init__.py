r"""A Kafka REST Proxy v2 stand-in: the produce, metadata and consumer APIs of Confluent's REST Proxy v2
(docs/data-contracts.md 3.3) over `confluent-kafka`, served by aiohttp.

Modules: `contract` (content types, Confluent's error codes, limits, `ProxyError`), `validation` (request
bodies, pure functions), `producer` (the shared producer and metadata), `consumers` (consumer instances, real
members of real consumer groups), `connection` (aiohttp's connection protocol plus the request deadline, the
connection cap and JSON framing errors), `http_api` (the server and its routes), `consumer_routes` (the calls
below a consumer instance) and `cli` (the command line).

The API Gateway's `/topics/{proxy+}` integration forwards here, as it forwards to the Confluent REST Proxy on the
EC2 client machine in AWS. Endpoints (responses are `application/vnd.kafka.v2+json`):

| request | response |
|---|---|
| `GET /` | 200 `{}` (health check) |
| `GET /topics` | 200 `["<topic>", ...]` |
| `GET /topics/{topic}` | 200 `{"name", "configs", "partitions": [...]}`; 404/40401 when unknown |
| `POST /topics/{topic}` | 200 `{"offsets": [...], "key_schema_id": null, "value_schema_id": null}` |
| `GET /topics/{topic}/partitions[/{p}]` | 200 the partitions (one partition); 404/40402 unknown partition |
| `POST /topics/{topic}/partitions/{p}` | as `POST /topics/{topic}`, every record to partition `p` |
| `GET /brokers` | 200 `{"brokers": [<id>, ...]}` |
| `POST /consumers/{group}` | 200 `{"instance_id", "base_uri"}`; 409/40902 name in use; 422/42204 bad config |
| `POST\|GET\|DELETE .../instances/{name}/subscription` | 204 / `{"topics": [...]}` / 204; 409/40903 mixed kinds |
| `POST\|GET .../assignments`, `POST .../positions[/beginning\|/end]` | 204 / `{"partitions": [...]}` |
| `GET .../records?timeout=&max_bytes=` | 200 `[{"topic", "key", "value", "partition", "offset"}]`; 406/40601 |
| `POST .../offsets` (body or none), `GET .../offsets` or `.../committed/offsets` | 200 `[]` / `{"offsets"}` |
| `DELETE /consumers/{group}/instances/{name}` | 204; 404/40403 for an unknown (or expired) instance |

`POST` takes `Content-Type: application/vnd.kafka.json.v2+json` (parameters such as `charset` accepted) and a
body `{"records": [{"value": {...}, "key": ..., "partition": ...}, ...]}`. Every record is produced, then the
response waits for every delivery report and lists one entry per record, in order: `partition`/`offset` on
success, `error_code`/`error` (50003 retriable, 50002 other Kafka error, as Confluent's) on failure.

Errors are `{"error_code": <int>, "message": "..."}` with Confluent's codes: 404/40401 unknown topic (also a
name Kafka would refuse: the message says so), 404/40402 unknown partition, 415/415 wrong or missing Content-Type
or a charset that is not a text encoding, 400/400 malformed JSON or an invalid Content-Length, 411/411 a POST with
neither Content-Length nor chunked encoding, 408/408 a request not received within the request timeout, 422/422 a
body that is not `{"records": [...]}` with a `value` in every record (Confluent's bean-validation code) or JSON
nested too deeply, 413/413 body too large, 503/503 (with Retry-After) beyond the connection cap, 500/50003 when
the broker cannot be reached for the topic check, 404/405 other paths and methods.

Deliberate choices, where Confluent's proxy leaves room:
- Topics are never auto-created (MSK clients create them upfront): the supervisor calls `ensure_topics()`.
- When every record of a request failed (say the broker is down), the status is 500 (error_code 50003 if any
  failure is retriable, else 50002) and the body carries the usual `offsets` entries next to `error_code` and
  `message`, so a client that only checks the status retries instead of losing the batch. A partial failure is
  a 200 with per-record errors, as in Confluent's proxy.
- A `value` of null (a tombstone) is rejected with 422: the lake holds one JSON value per record.
- Integers are kept exactly as sent, also beyond 64 bits (orjson would read them as floats; such bodies go
  through the standard library's parser). Values nested more than 254 levels deep are a 422.
- Topic names follow Kafka's rule after URL-decoding (`[a-zA-Z0-9._-]`, 1 to 249 characters, not `.`/`..`). A
  valid name the broker does not know is looked up again for `--topic-wait-ms` (a restarted broker may not have
  loaded its topics yet) before the final 404/40401.
- Slow clients: a request must arrive whole within `--request-timeout` s of its first byte (else 408 and close),
  idle keep-alive connections close after `--idle-timeout` s, and at most `--max-connections` are open at once
  (one more: 503 with Retry-After). Connections cost a socket, not a thread: 200 slow clients do not stop a valid
  request (tests/local_stack/test_rest_proxy.py, the slowloris test).
- Consumer instances live in this process (as in Confluent's proxy): their records reads and commits go to the
  broker as a real group member; see local_stack/rest_proxy/consumers.py for what differs.
- The producer is `acks=all` and deliberately not idempotent (`enable.idempotence`): Tansu 0.6.0 counts an
  idempotent producer's sequence before it writes the batch, so after one failed batch write (say an S3 error)
  every later record of that producer fails with PRODUCER_FENCED and the proxy would fail every request until
  restarted; a plain producer loses only the failed request, which the client retries. Measured on the local
  stack: two broker restarts and two crashes during 6,000 records left 0 duplicates with either producer. The
  fencing is shown by `test_a_failed_tansu_batch_write_fences_an_idempotent_producer_but_not_the_proxy`
  (tests/local_stack/test_rest_proxy.py).

Run: `python -m local_stack.rest_proxy --host 127.0.0.1 --port 8082 --bootstrap-servers 127.0.0.1:9092`.
"""

from local_stack.rest_proxy.contract import (
    BINARY_V2,
    JSON_V2,
    KAFKA_ERROR,
    KAFKA_RETRIABLE_ERROR,
    RESPONSE_CONTENT_TYPE,
    TOPIC_RETRY,
    ProxyError,
    error_code_for,
)
from local_stack.rest_proxy.http_api import ProxyServer, make_server
from local_stack.rest_proxy.producer import KafkaGateway, _Delivery, _Throttle, ensure_topics
from local_stack.rest_proxy.validation import (
    ProduceRecord,
    check_content_type,
    check_topic_name,
    parse_produce_body,
)

__all__ = [
    "BINARY_V2",
    "JSON_V2",
    "KAFKA_ERROR",
    "KAFKA_RETRIABLE_ERROR",
    "RESPONSE_CONTENT_TYPE",
    "TOPIC_RETRY",
    "KafkaGateway",
    "ProduceRecord",
    "ProxyError",
    "ProxyServer",
    "_Delivery",
    "_Throttle",
    "check_content_type",
    "check_topic_name",
    "ensure_topics",
    "error_code_for",
    "make_server",
    "parse_produce_body",
]
