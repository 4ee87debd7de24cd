# Plan-time checks of the roles and their least-privilege policies, against a mocked AWS provider (offline).

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
}

variables {
  name_prefix = "demo"
  kinesis_stream_arns = [
    "arn:aws:kinesis:eu-west-1:123456789012:stream/streaming-demo-pin",
    "arn:aws:kinesis:eu-west-1:123456789012:stream/streaming-demo-geo",
    "arn:aws:kinesis:eu-west-1:123456789012:stream/streaming-demo-user",
  ]
}

run "api_gateway_kinesis_role_is_least_privilege" {
  command = plan

  assert {
    condition     = aws_iam_role.api_gateway_kinesis[0].name == "demo-apigw-kinesis"
    error_message = "The API Gateway -> Kinesis role must be created and named after the prefix."
  }

  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.api_gateway_assume.statement :
      contains(s.actions, "sts:AssumeRole") && anytrue([for p in s.principals : p.type == "Service" && contains(p.identifiers, "apigateway.amazonaws.com")])
    ])
    error_message = "Only API Gateway may assume the role."
  }

  # Every action except ListStreams is scoped to exactly the three stream ARNs.
  assert {
    condition = one([
      for s in data.aws_iam_policy_document.api_gateway_kinesis[0].statement : s if s.sid == "ReadWriteThePipelineStreams"
    ]).resources == toset(var.kinesis_stream_arns)
    error_message = "The stream actions must be limited to the stream ARNs."
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.api_gateway_kinesis[0].statement : s if s.sid == "ReadWriteThePipelineStreams"
      ]).actions == toset([
      "kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStream", "kinesis:DescribeStreamSummary",
      "kinesis:CreateStream", "kinesis:DeleteStream",
    ])
    error_message = "The role must carry exactly the actions the API's routes call."
  }

  assert {
    condition = alltrue([
      for s in data.aws_iam_policy_document.api_gateway_kinesis[0].statement :
      s.actions == toset(["kinesis:ListStreams"]) if contains(s.resources, "*")
    ])
    error_message = "Only kinesis:ListStreams (which has no resource type) may use Resource \"*\"."
  }

  assert {
    condition     = length(data.aws_iam_policy_document.api_gateway_kinesis[0].statement) == 2
    error_message = "No KMS statement without customer managed keys."
  }

  assert {
    condition     = length(aws_iam_role.api_gateway_cloudwatch) == 0 && length(aws_iam_role.this) == 0
    error_message = "No other roles by default."
  }
}

run "kms_keys_cloudwatch_role_and_extra_roles" {
  command = plan

  variables {
    kinesis_kms_key_arns               = ["arn:aws:kms:eu-west-1:123456789012:key/abc"]
    create_api_gateway_cloudwatch_role = true
    roles = {
      "kafka-client" = {
        trusted_services        = ["ec2.amazonaws.com"]
        create_instance_profile = true
        statements = [{
          actions   = ["kafka-cluster:Connect"]
          resources = ["arn:aws:kafka:eu-west-1:123456789012:cluster/demo/x"]
        }]
        managed_policy_arns = ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
      }
    }
  }

  assert {
    condition = one([
      for s in data.aws_iam_policy_document.api_gateway_kinesis[0].statement : s if s.sid == "EncryptRecordsWithTheStreamKeys"
    ]).resources == toset(["arn:aws:kms:eu-west-1:123456789012:key/abc"])
    error_message = "Customer managed stream keys must be usable by the API role, and only those."
  }

  assert {
    condition     = aws_iam_role_policy_attachment.api_gateway_cloudwatch[0].policy_arn == "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    error_message = "The CloudWatch role must carry the AWS managed push-to-logs policy."
  }

  assert {
    condition     = aws_iam_role.this["kafka-client"].name == "demo-kafka-client" && aws_iam_instance_profile.this["kafka-client"].name == "demo-kafka-client"
    error_message = "Extra roles (and instance profiles) must be named <prefix>-<key>."
  }

  assert {
    condition     = one(data.aws_iam_policy_document.role["kafka-client"].statement).resources == toset(["arn:aws:kafka:eu-west-1:123456789012:cluster/demo/x"])
    error_message = "Extra role statements must be passed through."
  }

  assert {
    condition     = length(aws_iam_role_policy_attachment.this) == 1
    error_message = "Managed policies must be attached."
  }
}

run "kinesis_role_needs_stream_arns" {
  command = plan

  variables {
    kinesis_stream_arns = []
  }

  expect_failures = [aws_iam_role.api_gateway_kinesis]
}
