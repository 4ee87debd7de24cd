#!/bin/sh
# LocalStack ready hook (Docker mode): the bucket the Tansu broker keeps its log segments in.
# Its name must match DEFAULT_TANSU_BUCKET in local_stack/config.py (checked by tests/local_stack/test_docker_compose.py).
awslocal s3 mb s3://tansu-broker || true
