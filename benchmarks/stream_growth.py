"""Where the stream path's slowdown lives: PutRecords speed against the number of records already in ONE stream.

`python -m benchmarks.stream_growth` (on the running stack) creates a throwaway 4-shard stream and puts the demo's
pin records into it in segments of `--segment` records (PutRecords of `--batch`, one request at a time), each segment
twice in a row: once through the API Gateway's PutRecords route and once with boto3 straight at LocalStack's
Kinesis, same bodies and partition keys. Both columns fall together as the stream fills (README, The stream path):
the cost is in LocalStack's Kinesis engine (kinesis-mock), not in the API Gateway in front of it. Prints one line
per segment; `--out FILE` writes the rows as JSON; the stream is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import requests

from emulation.generator import generate_tables
from emulation.names import SOURCE_TABLES
from emulation.payloads import record_value, to_json_bytes
from emulation.source_db import KEY
from local_stack.stack_user import StackUser


def measure_growth(
    stack_info: Any, *, segments: int = 8, segment: int = 3_000, batch: int = 100, shards: int = 4
) -> list[dict[str, Any]]:
    """`segments` x (API, boto3) segments of `segment` records into one stream; rows with the records already in
    the stream before each segment and the segment's records/s."""
    table = SOURCE_TABLES["pin"]
    rows = generate_tables(rows=segments * segment, seed=9)[table]
    with StackUser.streams_only(stack_info, prefix="growth", shards=shards) as user:
        stream = user.config.names.stream("pin")
        kinesis = user.kinesis()
        session = requests.Session()
        url = f"{stack_info.invoke_url.rstrip('/')}/streams/{stream}/records"
        headers = {"x-api-key": stack_info.api_key or "", "content-type": "application/json"}
        out: list[dict[str, Any]] = []
        position = 0
        for number in range(segments):
            for path in ("api", "boto3"):
                # half of each segment's rows through each path (new rows: a record is put once)
                part = rows[position : position + segment // 2]
                started = time.perf_counter()
                for i in range(0, len(part), batch):
                    chunk = part[i : i + batch]
                    if path == "api":
                        body = {
                            "Records": [
                                {"Data": record_value(row), "PartitionKey": str(row[KEY[table]])}
                                for row in chunk
                            ]
                        }
                        answer = session.put(url, data=to_json_bytes(body), headers=headers, timeout=60)
                        answer.raise_for_status()
                        failed = answer.json().get("FailedRecordCount", 0)
                    else:
                        failed = kinesis.put_records(
                            StreamName=stream,
                            Records=[
                                {
                                    "Data": to_json_bytes(record_value(row)),
                                    "PartitionKey": str(row[KEY[table]]),
                                }
                                for row in chunk
                            ],
                        )["FailedRecordCount"]
                    if failed:
                        raise RuntimeError(f"{failed} records failed in {stream}")
                seconds = time.perf_counter() - started
                out.append(
                    {
                        "suite": "stream",
                        "case": f"PutRecords of {batch} into one {shards}-shard stream, {path}",
                        "segment": number,
                        "records_before": position,
                        "records": len(part),
                        "seconds": round(seconds, 2),
                        "records_per_s": round(len(part) / seconds, 1),
                    }
                )
                position += len(part)
        return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stream_growth", description=__doc__)
    parser.add_argument("--segments", type=int, default=8)
    parser.add_argument("--segment", type=int, default=3_000, help="records per segment (half per path)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--out", type=Path, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    from local_stack.supervisor import Stack

    stack = Stack(say=lambda line: print(line, file=sys.stderr))
    rows = measure_growth(
        stack.up(), segments=args.segments, segment=args.segment, batch=args.batch, shards=args.shards
    )
    print(f"{'records before':>14} {'api rec/s':>10} {'boto3 rec/s':>12}")
    for api, engine in zip(rows[::2], rows[1::2], strict=True):
        print(
            f"{api['records_before']:>14,} {api['records_per_s']:>10,.0f} {engine['records_per_s']:>12,.0f}"
        )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
