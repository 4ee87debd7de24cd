# Roles and policies of the platform, least privilege: API Gateway -> Kinesis (the `/streams/...` routes),
# API Gateway -> CloudWatch Logs (optional, account-wide), and any further service roles passed in `roles`.

data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
}

# --- API Gateway -> Kinesis -----------------------------------------------------------------------

data "aws_iam_policy_document" "api_gateway_assume" {
  statement {
    sid     = "ApiGatewayAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "api_gateway_kinesis" {
  count = var.create_api_gateway_kinesis_role ? 1 : 0

  # checkov:skip=CKV_AWS_356:kinesis:ListStreams supports no resource-level permission (IAM service authorization reference), so "*" is the only valid Resource; every other action is scoped to the stream ARNs.
  # checkov:skip=CKV_AWS_111:Only kinesis:ListStreams uses "*" (it has no resource type); write actions are limited to the stream ARNs.
  statement {
    sid = "ReadWriteThePipelineStreams"
    actions = [
      "kinesis:PutRecord",
      "kinesis:PutRecords",
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:CreateStream",
      "kinesis:DeleteStream",
    ]
    resources = var.kinesis_stream_arns
  }

  statement {
    sid       = "ListStreamsHasNoResourceType"
    actions   = ["kinesis:ListStreams"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = length(var.kinesis_kms_key_arns) > 0 ? [1] : []

    content {
      sid       = "EncryptRecordsWithTheStreamKeys"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = var.kinesis_kms_key_arns
    }
  }
}

resource "aws_iam_role" "api_gateway_kinesis" {
  count = var.create_api_gateway_kinesis_role ? 1 : 0

  name                 = "${var.name_prefix}-apigw-kinesis"
  description          = "Assumed by API Gateway to map the /streams routes onto Kinesis"
  assume_role_policy   = data.aws_iam_policy_document.api_gateway_assume.json
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags

  lifecycle {
    precondition {
      condition     = length(var.kinesis_stream_arns) > 0
      error_message = "kinesis_stream_arns must list at least one stream when create_api_gateway_kinesis_role is true."
    }
  }
}

resource "aws_iam_role_policy" "api_gateway_kinesis" {
  count = var.create_api_gateway_kinesis_role ? 1 : 0

  name   = "kinesis-streams"
  role   = aws_iam_role.api_gateway_kinesis[0].id
  policy = data.aws_iam_policy_document.api_gateway_kinesis[0].json
}

# --- API Gateway -> CloudWatch Logs (account setting) ---------------------------------------------

resource "aws_iam_role" "api_gateway_cloudwatch" {
  count = var.create_api_gateway_cloudwatch_role ? 1 : 0

  name                 = "${var.name_prefix}-apigw-cloudwatch"
  description          = "Lets API Gateway write execution and access logs to CloudWatch Logs"
  assume_role_policy   = data.aws_iam_policy_document.api_gateway_assume.json
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role_policy_attachment" "api_gateway_cloudwatch" {
  count = var.create_api_gateway_cloudwatch_role ? 1 : 0

  role       = aws_iam_role.api_gateway_cloudwatch[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

# --- further service roles -------------------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  for_each = var.roles

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = each.value.trusted_services
    }

    dynamic "condition" {
      for_each = each.value.source_account == null ? [] : [each.value.source_account]

      content {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [condition.value]
      }
    }
  }
}

data "aws_iam_policy_document" "role" {
  for_each = { for name, role in var.roles : name => role if length(role.statements) > 0 }

  dynamic "statement" {
    for_each = each.value.statements

    content {
      sid       = statement.value.sid
      effect    = statement.value.effect
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions

        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role" "this" {
  for_each = var.roles

  name                 = "${var.name_prefix}-${each.key}"
  description          = each.value.description
  assume_role_policy   = data.aws_iam_policy_document.assume[each.key].json
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags
}

resource "aws_iam_role_policy" "this" {
  for_each = data.aws_iam_policy_document.role

  name   = "${var.name_prefix}-${each.key}"
  role   = aws_iam_role.this[each.key].id
  policy = each.value.json
}

resource "aws_iam_role_policy_attachment" "this" {
  for_each = merge([
    for name, role in var.roles : { for arn in role.managed_policy_arns : "${name}|${arn}" => { role = name, arn = arn } }
  ]...)

  role       = aws_iam_role.this[each.value.role].name
  policy_arn = each.value.arn
}

resource "aws_iam_instance_profile" "this" {
  for_each = { for name, role in var.roles : name => role if role.create_instance_profile }

  name = "${var.name_prefix}-${each.key}"
  role = aws_iam_role.this[each.key].name
  tags = var.tags
}
