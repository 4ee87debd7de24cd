# MSK cluster: TLS in transit, KMS encryption at rest, IAM client authentication only, broker logs to
# CloudWatch, and a configuration resource carrying the broker settings.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  default_server_properties = {
    "auto.create.topics.enable"  = "true"
    "delete.topic.enable"        = "true"
    "default.replication.factor" = tostring(min(3, local.broker_count))
    "min.insync.replicas"        = tostring(max(1, min(2, local.broker_count - 1)))
    "num.partitions"             = "1"
    "log.retention.hours"        = "168"
  }
  server_properties = merge(local.default_server_properties, var.server_properties)
  broker_count      = coalesce(var.number_of_broker_nodes, length(var.subnet_ids))
  kms_key_arn       = var.encryption_at_rest.create_kms_key ? aws_kms_key.this[0].arn : var.encryption_at_rest.kms_key_arn
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:This is a KMS key policy: "*" as resource means the key itself, and administration is limited to the account root (AWS's default key policy).
  #checkov:skip=CKV_AWS_111:This is a KMS key policy: "*" as resource means the key itself; use by MSK is limited by kms:ViaService and kms:CallerAccount.
  #checkov:skip=CKV_AWS_356:This is a KMS key policy, where the only possible resource is "*" (the key itself).
  count = var.encryption_at_rest.create_kms_key ? 1 : 0

  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid = "MskUsesKey"
    actions = [
      "kms:Encrypt",
      "kms:Decrypt",
      "kms:ReEncrypt*",
      "kms:GenerateDataKey*",
      "kms:CreateGrant",
      "kms:DescribeKey",
    ]
    resources = ["*"] # in a key policy "*" means this key
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["kafka.${data.aws_region.current.name}.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "kms:CallerAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "this" {
  count = var.encryption_at_rest.create_kms_key ? 1 : 0

  description             = "MSK ${var.name} encryption at rest"
  enable_key_rotation     = true
  deletion_window_in_days = var.encryption_at_rest.kms_key_deletion_window
  policy                  = data.aws_iam_policy_document.kms[0].json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.encryption_at_rest.create_kms_key ? 1 : 0

  name          = "alias/${var.name}-msk"
  target_key_id = aws_kms_key.this[0].key_id
}

resource "aws_cloudwatch_log_group" "broker" {
  name              = "/msk/${var.name}/broker"
  retention_in_days = var.broker_logs.retention_in_days
  kms_key_id        = var.broker_logs.kms_key_arn

  tags = var.tags
}

resource "aws_msk_configuration" "this" {
  name           = "${var.name}-config"
  kafka_versions = [var.kafka_version]
  description    = "Broker settings of ${var.name}"

  server_properties = join("\n", [for k in sort(keys(local.server_properties)) : "${k}=${local.server_properties[k]}"])

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_msk_cluster" "this" {
  cluster_name           = var.name
  kafka_version          = var.kafka_version
  number_of_broker_nodes = local.broker_count
  enhanced_monitoring    = var.enhanced_monitoring

  broker_node_group_info {
    instance_type   = var.broker_instance_type
    client_subnets  = var.subnet_ids
    security_groups = var.security_group_ids

    storage_info {
      ebs_storage_info {
        volume_size = var.broker_volume_size
      }
    }

    connectivity_info {
      public_access {
        type = "DISABLED"
      }
    }
  }

  configuration_info {
    arn      = aws_msk_configuration.this.arn
    revision = aws_msk_configuration.this.latest_revision
  }

  encryption_info {
    encryption_at_rest_kms_key_arn = local.kms_key_arn

    encryption_in_transit {
      client_broker = "TLS"
      in_cluster    = true
    }
  }

  client_authentication {
    unauthenticated = false

    sasl {
      iam   = true
      scram = false
    }
  }

  logging_info {
    broker_logs {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.broker.name
      }
    }
  }

  tags = var.tags
}
