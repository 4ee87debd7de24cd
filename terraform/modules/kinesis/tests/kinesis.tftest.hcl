# Plan-time checks of the three streams (names, mode, encryption), against a mocked AWS provider (offline).

mock_provider "aws" {}

variables {
  user_id = "demo"
}

run "three_encrypted_on_demand_streams" {
  command = plan

  assert {
    condition     = toset([for s in aws_kinesis_stream.this : s.name]) == toset(["streaming-demo-pin", "streaming-demo-geo", "streaming-demo-user"])
    error_message = "The streams must be streaming-<user_id>-pin|geo|user."
  }

  assert {
    condition     = output.stream_names == { pin = "streaming-demo-pin", geo = "streaming-demo-geo", user = "streaming-demo-user" }
    error_message = "stream_names must map each dataset to its stream."
  }

  assert {
    condition     = alltrue([for s in aws_kinesis_stream.this : s.encryption_type == "KMS" && s.kms_key_id == "alias/aws/kinesis"])
    error_message = "Every stream must be KMS-encrypted with the AWS managed key by default."
  }

  assert {
    condition     = alltrue([for s in aws_kinesis_stream.this : one(s.stream_mode_details).stream_mode == "ON_DEMAND" && s.shard_count == null])
    error_message = "Streams are on demand (no shard count) by default."
  }

  assert {
    condition     = alltrue([for s in aws_kinesis_stream.this : s.retention_period == 24])
    error_message = "Retention defaults to 24 hours."
  }
}

run "provisioned_with_own_key" {
  command = plan

  variables {
    stream_mode      = "PROVISIONED"
    shard_count      = 2
    retention_period = 48
    kms_key_id       = "arn:aws:kms:eu-west-1:123456789012:key/abc"
    datasets         = ["pin"]
  }

  assert {
    condition     = length(aws_kinesis_stream.this) == 1 && aws_kinesis_stream.this["pin"].shard_count == 2
    error_message = "A provisioned stream needs its shard count."
  }

  assert {
    condition     = one(aws_kinesis_stream.this["pin"].stream_mode_details).stream_mode == "PROVISIONED"
    error_message = "stream_mode must be passed to the stream."
  }

  assert {
    condition     = aws_kinesis_stream.this["pin"].kms_key_id == "arn:aws:kms:eu-west-1:123456789012:key/abc" && aws_kinesis_stream.this["pin"].retention_period == 48
    error_message = "The given KMS key and retention must be used."
  }
}

run "rejects_unknown_mode" {
  command = plan

  variables {
    stream_mode = "SERVERLESS"
  }

  expect_failures = [var.stream_mode]
}
