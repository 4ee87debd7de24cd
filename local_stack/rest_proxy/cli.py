"""The command line of the REST Proxy: `python -m local_stack.rest_proxy --port 8082 --bootstrap-servers ...`
(what the supervisor runs). Parses the options, binds, serves until SIGTERM/SIGINT, then answers the requests in
flight and flushes the producer; a port in use is a clear error (exit 2), not a traceback."""

from __future__ import annotations

import argparse
import logging
import sys

from local_stack.rest_proxy.connection import (
    add_connection_options,
    connection_limits,
    serve_until_signalled,
)
from local_stack.rest_proxy.contract import (
    DEFAULT_BOOTSTRAP,
    DEFAULT_CONSUMER_INSTANCE_TIMEOUT_MS,
    DEFAULT_CONSUMER_SESSION_TIMEOUT_MS,
    DEFAULT_DELIVERY_TIMEOUT_MS,
    DEFAULT_HOST,
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_PORT,
    DEFAULT_REQUEST_TIMEOUT,
    DEFAULT_TOPIC_WAIT_MS,
    JSON_V2,
)
from local_stack.rest_proxy.http_api import ProxyServer, make_server

log = logging.getLogger("rest_proxy")


def serve(server: ProxyServer, *, drain_timeout: float = 10.0) -> int:
    """Serve until SIGTERM/SIGINT, then finish in-flight requests and flush the producer. Returns an exit code."""
    host, port = server.server_address[:2]
    log.info("REST Proxy listening on http://%s:%d (Kafka %s)", host, port, server.gateway.bootstrap_servers)
    try:
        serve_until_signalled(server, log)
    finally:
        left = server.gateway.close(drain_timeout)
        if left:
            log.error("%d record(s) not delivered at shutdown", left)
        log.info("stopped")
    return 1 if left else 0


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown, description and epilog kept as written."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.rest_proxy",
        description=(
            "Kafka REST Proxy v2 stand-in (docs/data-contracts.md 3.3).\n\n"
            f"POST /topics/<topic> with Content-Type {JSON_V2} and a body\n"
            '{"records": [{"value": {...}, "key": ..., "partition": ...}, ...]} produces every record to the\n'
            "Kafka broker and answers with one offset per record. Also GET / (health), GET /topics,\n"
            "GET /topics/<topic>[/partitions[/<p>]], POST /topics/<topic>/partitions/<p>, GET /brokers, and the\n"
            "consumer API (POST /consumers/<group>, .../instances/<name>/subscription, records, offsets, ...).\n"
            "Topics are not auto-created: the supervisor creates them with ensure_topics().\n"
            "Stops cleanly on SIGTERM/Ctrl-C: answers the requests in flight, then flushes the producer."
        ),
        epilog=(
            'responses (application/vnd.kafka.v2+json, errors as {"error_code", "message"}):\n'
            "  200            offsets, one per record, in order\n"
            "  404 / 40401    unknown topic            404 / 40402  unknown partition\n"
            "  415 / 415      wrong or missing Content-Type\n"
            "  400 / 400      malformed JSON           422 / 422    no records, or a record without value\n"
            "  500 / 50003    broker unreachable, or every record failed (50002: non-retriable)\n"
            "example:\n"
            f'  curl -H \'Content-Type: {JSON_V2}\' -d \'{{"records":[{{"value":{{"ind":1}}}}]}}\' \\\n'
            "       http://127.0.0.1:8082/topics/demo.pin"
        ),
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind (loopback only by default)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    parser.add_argument("--bootstrap-servers", default=DEFAULT_BOOTSTRAP, help="Kafka bootstrap servers")
    parser.add_argument("--linger-ms", type=int, default=2, help="producer linger.ms (batching delay)")
    parser.add_argument(
        "--compression",
        default="none",
        choices=["none", "lz4", "snappy", "gzip", "zstd"],
        help="producer compression",
    )
    parser.add_argument(
        "--delivery-timeout-ms",
        type=int,
        default=DEFAULT_DELIVERY_TIMEOUT_MS,
        help="how long a record may wait for the broker before it fails with 50003 (message.timeout.ms)",
    )
    parser.add_argument(
        "--metadata-timeout-ms",
        type=int,
        default=5_000,
        help="how long a topic lookup may wait for the broker",
    )
    parser.add_argument(
        "--topic-wait-ms",
        type=int,
        default=DEFAULT_TOPIC_WAIT_MS,
        help="how long a topic the broker does not know is looked up again before the final 404 (a restarted "
        "broker may not have loaded its topics yet)",
    )
    add_connection_options(
        parser,
        request_timeout=DEFAULT_REQUEST_TIMEOUT,
        idle_timeout=DEFAULT_IDLE_TIMEOUT,
        max_connections=DEFAULT_MAX_CONNECTIONS,
    )
    parser.add_argument(
        "--consumer-instance-timeout-ms",
        type=int,
        default=DEFAULT_CONSUMER_INSTANCE_TIMEOUT_MS,
        help="idle time after which a consumer instance is deleted (Confluent's consumer.instance.timeout.ms)",
    )
    parser.add_argument(
        "--consumer-session-timeout-ms",
        type=int,
        default=DEFAULT_CONSUMER_SESSION_TIMEOUT_MS,
        help="session.timeout.ms of the consumer instances (Tansu holds a group join for about half of it)",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="stderr log level (DEBUG logs every request; INFO logs rejected ones)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        server = make_server(
            args.host,
            args.port,
            args.bootstrap_servers,
            linger_ms=args.linger_ms,
            compression=args.compression,
            delivery_timeout_ms=args.delivery_timeout_ms,
            metadata_timeout_ms=args.metadata_timeout_ms,
            topic_wait_ms=args.topic_wait_ms,
            **connection_limits(args),
            consumer_instance_timeout_ms=args.consumer_instance_timeout_ms,
            consumer_session_timeout_ms=args.consumer_session_timeout_ms,
        )
    except OSError as exc:
        print(f"rest-proxy: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return serve(server)
