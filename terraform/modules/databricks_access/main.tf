# What Databricks needs on AWS to run this pipeline's notebooks, least privilege: one IAM role that may list the
# lake bucket, read the lake under `topics/` (docs/data-contracts.md 3.4), read and write stream checkpoints
# under `checkpoints/`, use the lake's KMS key, and read the three Kinesis streams (docs/data-contracts.md 3.5);
# an EC2 instance profile around it (clusters launched with it get the role), and, optionally, the trust a Unity
# Catalog service or storage credential needs (the Databricks UC master role with an external id, and the role
# assuming itself).
#
# Both policies are built with jsonencode rather than aws_iam_policy_document, so the exact JSON AWS receives
# is known at plan time: the tests assert on it, offline.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  account_id = data.aws_caller_identity.current.account_id

  # Known before the role exists, so the trust policy can name the role itself (a self-assuming role).
  role_arn = "arn:${local.partition}:iam::${local.account_id}:role/${var.name}"

  assume_role_policy = {
    Version = "2012-10-17"
    Statement = concat(
      var.create_instance_profile ? [{
        Sid       = "Ec2AssumesRoleForTheInstanceProfile"
        Effect    = "Allow"
        Action    = "sts:AssumeRole"
        Principal = { Service = "ec2.amazonaws.com" }
      }] : [],
      # The trust Databricks documents for a Unity Catalog service or storage credential (the policy of the
      # Databricks provider's `databricks_aws_unity_catalog_assume_role_policy`): its UC master role with the
      # credential's external id, and the role itself (Databricks requires credential roles to be self-assuming).
      var.unity_catalog == null ? [] : [
        {
          Sid       = "UnityCatalogAssumesRole"
          Effect    = "Allow"
          Action    = "sts:AssumeRole"
          Principal = { AWS = var.unity_catalog.master_role_arn }
          Condition = { StringEquals = { "sts:ExternalId" = var.unity_catalog.external_id } }
        },
        {
          Sid       = "ExplicitSelfRoleAssumption"
          Effect    = "Allow"
          Action    = "sts:AssumeRole"
          Principal = { AWS = "arn:${local.partition}:iam::${local.account_id}:root" }
          Condition = { ArnLike = { "aws:PrincipalArn" = local.role_arn } }
        },
      ],
    )
  }

  policy = {
    Version = "2012-10-17"
    Statement = concat(
      [
        {
          Sid      = "ListTheLakeBucket"
          Effect   = "Allow"
          Action   = ["s3:ListBucket"]
          Resource = [var.bucket_arn]
        },
        {
          Sid      = "ReadTheLake"
          Effect   = "Allow"
          Action   = ["s3:GetObject"]
          Resource = [for prefix in var.read_prefixes : "${var.bucket_arn}/${prefix}*"]
        },
        {
          Sid      = "ReadWriteStreamCheckpoints"
          Effect   = "Allow"
          Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
          Resource = [for prefix in var.write_prefixes : "${var.bucket_arn}/${prefix}*"]
        },
      ],
      # SSE-KMS: Decrypt to read objects, GenerateDataKey to write them (checkpoints).
      var.kms_key_arn == null ? [] : [{
        Sid      = "UseTheLakeKey"
        Effect   = "Allow"
        Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
        Resource = [var.kms_key_arn]
      }],
      [{
        Sid    = "ReadThePipelineStreams"
        Effect = "Allow"
        Action = [
          "kinesis:DescribeStream",
          "kinesis:DescribeStreamSummary",
          "kinesis:ListShards",
          "kinesis:GetRecords",
          "kinesis:GetShardIterator",
        ]
        Resource = var.kinesis_stream_arns
      }],
      # Only customer managed stream keys need a grant; the AWS managed `alias/aws/kinesis` needs none.
      length(var.kinesis_kms_key_arns) == 0 ? [] : [{
        Sid      = "DecryptTheStreams"
        Effect   = "Allow"
        Action   = ["kms:Decrypt"]
        Resource = var.kinesis_kms_key_arns
      }],
    )
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  description          = "Databricks: reads the pipeline's lake and Kinesis streams, keeps stream checkpoints"
  assume_role_policy   = jsonencode(local.assume_role_policy)
  max_session_duration = var.max_session_duration
  permissions_boundary = var.permissions_boundary
  tags                 = var.tags

  lifecycle {
    precondition {
      condition     = var.create_instance_profile || var.unity_catalog != null
      error_message = "Nothing could assume the Databricks role: set create_instance_profile = true, or unity_catalog = { external_id = ... }, or both."
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "databricks-pipeline-access"
  role   = aws_iam_role.this.id
  policy = jsonencode(local.policy)
}

resource "aws_iam_instance_profile" "this" {
  count = var.create_instance_profile ? 1 : 0

  # Same name as the role: Databricks then needs only the instance profile ARN when it is registered.
  name = var.name
  role = aws_iam_role.this.name
  tags = var.tags
}
