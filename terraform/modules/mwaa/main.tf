# MWAA environment: a versioned, encrypted, private DAG bucket holding the project's DAG files and
# requirements.txt (uploaded by Terraform), a least-privilege execution role, private networking and every
# Airflow log type in CloudWatch. Airflow reads connections (e.g. `databricks_default`) from Secrets Manager.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  account_id  = data.aws_caller_identity.current.account_id
  region      = data.aws_region.current.name
  partition   = data.aws_partition.current.partition
  bucket_name = coalesce(var.dag_bucket_name, "airflow-${var.name}-${local.account_id}")
  dag_files   = fileset(var.dags_dir, "**/*.py")

  # Where Airflow looks up connections and variables: the only secret names the execution role may read.
  connections_prefix = "${var.secrets_prefix}/connections"
  variables_prefix   = "${var.secrets_prefix}/variables"

  airflow_configuration_options = merge({
    "secrets.backend"        = "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
    "secrets.backend_kwargs" = jsonencode({ connections_prefix = local.connections_prefix, variables_prefix = local.variables_prefix })
  }, var.airflow_configuration_options)
}

# --- DAG bucket -------------------------------------------------------------------------------------

# The storage module's bucket: private, owner-enforced, versioned (MWAA needs it), KMS-encrypted (the AWS managed
# key here), TLS-only, with lifecycle housekeeping and optional access logging. One implementation of that
# hardening for the lake and the DAG bucket.
module "dag_bucket" {
  source = "../storage"

  user_id         = "dags" # unused: bucket_name is given
  bucket_name     = local.bucket_name
  force_destroy   = var.force_destroy
  sse_algorithm   = "aws:kms"
  create_kms_key  = false
  lifecycle_rules = { abort_incomplete_multipart_upload_days = 7, noncurrent_version_expiration_days = 30 }
  access_logging  = var.access_logging
  tags            = var.tags
}

# The DAG bucket's resources lived in this module before it used the storage module.
moved {
  from = aws_s3_bucket.dags
  to   = module.dag_bucket.aws_s3_bucket.this
}

moved {
  from = aws_s3_bucket_public_access_block.dags
  to   = module.dag_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.dags
  to   = module.dag_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_logging.dags
  to   = module.dag_bucket.aws_s3_bucket_logging.this
}

moved {
  from = aws_s3_bucket_versioning.dags
  to   = module.dag_bucket.aws_s3_bucket_versioning.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.dags
  to   = module.dag_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.dags
  to   = module.dag_bucket.aws_s3_bucket_lifecycle_configuration.this[0]
}

moved {
  from = aws_s3_bucket_policy.dags
  to   = module.dag_bucket.aws_s3_bucket_policy.this
}

resource "aws_s3_object" "dags" {
  for_each = local.dag_files

  bucket      = module.dag_bucket.bucket_name
  key         = "dags/${each.value}"
  source      = "${var.dags_dir}/${each.value}"
  source_hash = filemd5("${var.dags_dir}/${each.value}")

  tags = var.tags

  depends_on = [module.dag_bucket]
}

resource "aws_s3_object" "requirements" {
  count = var.requirements_path != null ? 1 : 0

  bucket      = module.dag_bucket.bucket_name
  key         = "requirements.txt"
  source      = var.requirements_path
  source_hash = filemd5(var.requirements_path)

  tags = var.tags

  depends_on = [module.dag_bucket]
}

# --- execution role ---------------------------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["airflow.amazonaws.com", "airflow-env.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PublishMetrics"
    actions   = ["airflow:PublishMetrics"]
    resources = ["arn:${local.partition}:airflow:${local.region}:${local.account_id}:environment/${var.name}"]
  }

  statement {
    sid       = "NoBucketListing"
    effect    = "Deny"
    actions   = ["s3:ListAllMyBuckets"]
    resources = [module.dag_bucket.bucket_arn, "${module.dag_bucket.bucket_arn}/*"]
  }

  statement {
    sid       = "ReadDagBucket"
    actions   = ["s3:GetObject*", "s3:GetBucket*", "s3:List*"]
    resources = [module.dag_bucket.bucket_arn, "${module.dag_bucket.bucket_arn}/*"]
  }

  statement {
    sid = "WriteOwnLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:CreateLogGroup",
      "logs:PutLogEvents",
      "logs:GetLogEvents",
      "logs:GetLogRecord",
      "logs:GetLogGroupFields",
      "logs:GetQueryResults",
    ]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:airflow-${var.name}-*"]
  }

  statement {
    sid = "AccountLevelReads"
    # These actions have no resource-level permissions (AWS documents "*" for them).
    actions   = ["logs:DescribeLogGroups", "s3:GetAccountPublicAccessBlock", "cloudwatch:PutMetricData"]
    resources = ["*"]
  }

  statement {
    sid = "CeleryQueue"
    actions = [
      "sqs:ChangeMessageVisibility",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
      "sqs:ReceiveMessage",
      "sqs:SendMessage",
    ]
    resources = ["arn:${local.partition}:sqs:${local.region}:*:airflow-celery-*"]
  }

  statement {
    sid           = "CeleryQueueEncryption"
    actions       = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt"]
    not_resources = ["arn:${local.partition}:kms:*:${local.account_id}:key/*"]
    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["sqs.${local.region}.amazonaws.com"]
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn != null ? [1] : []
    content {
      sid       = "EnvironmentKey"
      actions   = ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey*", "kms:Encrypt"]
      resources = [var.kms_key_arn]
    }
  }

  statement {
    sid     = "AirflowSecrets"
    actions = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [
      "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${local.connections_prefix}/*",
      "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${local.variables_prefix}/*",
    ]
  }
}

resource "aws_iam_role" "execution" {
  name_prefix        = "${substr(var.name, 0, 30)}-"
  description        = "MWAA ${var.name} execution role"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "execution" {
  name   = "mwaa-execution"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

# --- Airflow Variables (read through the Secrets Manager backend) --------------------------------

resource "aws_secretsmanager_secret" "variables" {
  #checkov:skip=CKV_AWS_149:These secrets hold plain, non-sensitive DAG settings (user id, bucket name) that are also in the Terraform state; the AWS managed key is enough.
  #checkov:skip=CKV2_AWS_57:Plain DAG settings, not credentials: there is nothing to rotate.
  for_each = var.airflow_variables

  name                    = "${local.variables_prefix}/${each.key}"
  description             = "Airflow Variable ${each.key} of ${var.name}"
  recovery_window_in_days = 0

  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "variables" {
  for_each = var.airflow_variables

  secret_id     = aws_secretsmanager_secret.variables[each.key].id
  secret_string = each.value
}

# --- environment ------------------------------------------------------------------------------------

resource "aws_mwaa_environment" "this" {
  name                  = var.name
  airflow_version       = var.airflow_version
  environment_class     = var.environment_class
  min_workers           = var.min_workers
  max_workers           = var.max_workers
  execution_role_arn    = aws_iam_role.execution.arn
  source_bucket_arn     = module.dag_bucket.bucket_arn
  dag_s3_path           = "dags/"
  webserver_access_mode = var.webserver_access_mode
  kms_key               = var.kms_key_arn

  requirements_s3_path           = try(aws_s3_object.requirements[0].key, null)
  requirements_s3_object_version = try(aws_s3_object.requirements[0].version_id, null)

  airflow_configuration_options = local.airflow_configuration_options

  network_configuration {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  logging_configuration {
    dag_processing_logs {
      enabled   = true
      log_level = var.log_level
    }
    scheduler_logs {
      enabled   = true
      log_level = var.log_level
    }
    task_logs {
      enabled   = true
      log_level = var.log_level
    }
    webserver_logs {
      enabled   = true
      log_level = var.log_level
    }
    worker_logs {
      enabled   = true
      log_level = var.log_level
    }
  }

  tags = var.tags

  depends_on = [
    aws_iam_role_policy.execution,
    module.dag_bucket,
    aws_s3_object.dags,
  ]
}
