"""CLI of the local stack: `python -m local_stack up|down|status|restart <component> [--stack host|docker]`."""

from __future__ import annotations

import argparse
import sys

from local_stack import config as cfg
from local_stack.processes import StackError
from local_stack.supervisor import Stack, docker_compose, format_status


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack",
        description=(
            "Run the pipeline's local stack: LocalStack (S3, Kinesis, API Gateway, IAM), the Tansu Kafka broker "
            "(durable on LocalStack S3), the Kafka REST Proxy, terraform apply of terraform/envs/local, and the "
            "S3 sink. Logs go to <state>/logs, PID files to <state>/run (state: $PIPELINE_STATE_DIR or .local). "
            "Ports, versions and user id come from local_stack/config.py and the environment (USER_ID, .env)."
        ),
    )
    parser.add_argument(
        "--stack",
        choices=["host", "docker"],
        default="host",
        help="host: processes on this machine (default); docker: docker compose with docker-compose.yml",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")
    up = sub.add_parser("up", help="start every component (idempotent: running components are left alone)")
    up.add_argument(
        "--reapply",
        action="store_true",
        help="run terraform apply even if it already ran on this LocalStack (after changing terraform/)",
    )
    sub.add_parser("down", help="stop every component this project started, in reverse order, by PID")
    sub.add_parser("status", help="print a table: component, PID, address, health")
    restart = sub.add_parser("restart", help="stop and start one component")
    restart.add_argument("component", choices=cfg.COMPONENTS)
    # Accept --stack after the command too (`make local-up` passes it last).
    for name, p in sub.choices.items():
        p.add_argument("--stack", choices=["host", "docker"], default=argparse.SUPPRESS, dest="stack")
        del name
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        stack = Stack()
        if args.stack == "docker":
            if args.command == "up":
                stack.up_docker()
                return 0
            compose = {"down": ["down"], "status": ["ps"]}
            return docker_compose(*(compose.get(args.command) or ["restart", args.component]))
        if args.command == "up":
            stack.up(reapply=args.reapply)
        elif args.command == "down":
            stack.down()
        elif args.command == "status":
            rows = stack.status()
            print(format_status(rows))
            return 0 if all(r["health"] == "healthy" for r in rows) else 3
        else:
            stack.restart(args.component)
    except (StackError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
