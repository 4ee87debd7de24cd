# MSK Connect S3 sink: the Confluent S3 sink zip uploaded to S3 and registered as a custom plugin, a worker
# configuration, the connector (lake layout of docs/data-contracts.md 3.4, IAM auth over TLS to MSK), its
# least-privilege service execution role and its CloudWatch log group.

data "aws_region" "current" {}

data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

locals {
  plugin_bucket   = coalesce(var.plugin.bucket, var.bucket.name)
  plugin_key      = "${var.plugin.key_prefix}${basename(var.plugin.local_path)}"
  topic_regex     = "${replace(var.user_id, ".", "\\.")}\\..*"
  topic_pattern   = "${var.user_id}.*"
  connector_group = "connect-${var.name}"

  # docs/data-contracts.md 3.4: s3://<bucket>/topics/<topic>/partition=<p>/<topic>+<p>+<start offset>.json,
  # one record per line.
  connector_configuration = merge({
    "connector.class"                = "io.confluent.connect.s3.S3SinkConnector"
    "tasks.max"                      = tostring(var.tasks_max)
    "topics.regex"                   = local.topic_regex
    "s3.region"                      = data.aws_region.current.name
    "s3.bucket.name"                 = var.bucket.name
    "topics.dir"                     = "topics"
    "flush.size"                     = tostring(var.flush_size)
    "rotate.schedule.interval.ms"    = tostring(var.rotate_schedule_interval_ms)
    "timezone"                       = "UTC"
    "storage.class"                  = "io.confluent.connect.s3.storage.S3Storage"
    "format.class"                   = "io.confluent.connect.s3.format.json.JsonFormat"
    "partitioner.class"              = "io.confluent.connect.storage.partitioner.DefaultPartitioner"
    "schema.compatibility"           = "NONE"
    "key.converter"                  = "org.apache.kafka.connect.json.JsonConverter"
    "key.converter.schemas.enable"   = "false"
    "value.converter"                = "org.apache.kafka.connect.json.JsonConverter"
    "value.converter.schemas.enable" = "false"
    },
    var.bucket.kms_key_arn != null ? {
      "s3.sse.kms.key.id" = var.bucket.kms_key_arn
      "s3.ssea.name"      = "aws:kms"
    } : {},
    var.extra_connector_configuration,
  )
}

# --- plugin -----------------------------------------------------------------------------------------

resource "aws_s3_object" "plugin" {
  bucket      = local.plugin_bucket
  key         = local.plugin_key
  source      = var.plugin.local_path
  source_hash = filemd5(var.plugin.local_path)

  tags = var.tags
}

resource "aws_mskconnect_custom_plugin" "this" {
  name         = "${var.name}-confluent-s3-sink-${replace(var.plugin.version, ".", "-")}"
  description  = "Confluent S3 sink connector ${var.plugin.version}"
  content_type = "ZIP"

  location {
    s3 {
      bucket_arn     = "arn:${data.aws_partition.current.partition}:s3:::${local.plugin_bucket}"
      file_key       = aws_s3_object.plugin.key
      object_version = aws_s3_object.plugin.version_id
    }
  }
}

resource "aws_mskconnect_worker_configuration" "this" {
  name        = "${var.name}-worker"
  description = "JSON converters without schemas (the REST Proxy posts plain JSON values)"

  properties_file_content = <<-PROPS
    key.converter=org.apache.kafka.connect.json.JsonConverter
    key.converter.schemas.enable=false
    value.converter=org.apache.kafka.connect.json.JsonConverter
    value.converter.schemas.enable=false
  PROPS

  lifecycle {
    create_before_destroy = true
  }
}

# --- logs -------------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "this" {
  name              = "/msk-connect/${var.name}"
  retention_in_days = var.log_retention_in_days
  kms_key_id        = var.log_kms_key_arn

  tags = var.tags
}

# --- service execution role (least privilege: this cluster, these topics, this bucket) --------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["kafkaconnect.amazonaws.com"]
    }
    # Confused-deputy protection: only MSK Connect acting for this account may assume the role.
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

data "aws_iam_policy_document" "this" {
  statement {
    sid = "Cluster"
    # The workers' producers for Connect's internal topics are idempotent by default (Kafka >= 3.0 clients).
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]
    resources = [var.msk.cluster_arn]
  }

  statement {
    sid       = "ReadPipelineTopics"
    actions   = ["kafka-cluster:ReadData", "kafka-cluster:DescribeTopic"]
    resources = ["${var.msk.topic_arn_prefix}/${local.topic_pattern}"]
  }

  statement {
    sid = "ConnectInternalTopics"
    actions = [
      "kafka-cluster:CreateTopic",
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:ReadData",
      "kafka-cluster:WriteData",
    ]
    # AWS documents `__amazon_msk_connect_*`; its state-management page names them `__msk_connect_<kind>_<connector>_<id>`.
    resources = [
      "${var.msk.topic_arn_prefix}/__amazon_msk_connect_*",
      "${var.msk.topic_arn_prefix}/__msk_connect_*",
    ]
  }

  statement {
    sid     = "ConsumerGroups"
    actions = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
    resources = [
      "${var.msk.group_arn_prefix}/${local.connector_group}",
      "${var.msk.group_arn_prefix}/__amazon_msk_connect_*",
      "${var.msk.group_arn_prefix}/__msk_connect_*",
    ]
  }

  statement {
    sid       = "ListBucket"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"]
    resources = [var.bucket.arn]
  }

  statement {
    sid = "WriteTopicsPrefix"
    actions = [
      "s3:PutObject",
      "s3:GetObject",
      "s3:AbortMultipartUpload",
      "s3:ListMultipartUploadParts",
    ]
    resources = ["${var.bucket.arn}/topics/*"]
  }

  dynamic "statement" {
    for_each = var.bucket.kms_key_arn != null ? [1] : []
    content {
      sid       = "BucketKey"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [var.bucket.kms_key_arn]
    }
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = "${substr(var.name, 0, 30)}-"
  description        = "MSK Connect S3 sink ${var.name}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "this" {
  name   = "s3-sink"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

# --- connector --------------------------------------------------------------------------------------

resource "aws_mskconnect_connector" "this" {
  name                 = var.name
  kafkaconnect_version = var.kafkaconnect_version

  capacity {
    provisioned_capacity {
      mcu_count    = var.capacity.mcu_count
      worker_count = var.capacity.worker_count
    }
  }

  connector_configuration = local.connector_configuration

  kafka_cluster {
    apache_kafka_cluster {
      bootstrap_servers = var.msk.bootstrap_brokers_sasl_iam

      vpc {
        security_groups = var.security_group_ids
        subnets         = var.subnet_ids
      }
    }
  }

  kafka_cluster_client_authentication {
    authentication_type = "IAM"
  }

  kafka_cluster_encryption_in_transit {
    encryption_type = "TLS"
  }

  plugin {
    custom_plugin {
      arn      = aws_mskconnect_custom_plugin.this.arn
      revision = aws_mskconnect_custom_plugin.this.latest_revision
    }
  }

  worker_configuration {
    arn      = aws_mskconnect_worker_configuration.this.arn
    revision = aws_mskconnect_worker_configuration.this.latest_revision
  }

  log_delivery {
    worker_log_delivery {
      cloudwatch_logs {
        enabled   = true
        log_group = aws_cloudwatch_log_group.this.name
      }
    }
  }

  service_execution_role_arn = aws_iam_role.this.arn

  # The role's policy must exist before the workers start, or they fail to authenticate.
  depends_on = [aws_iam_role_policy.this]
}
