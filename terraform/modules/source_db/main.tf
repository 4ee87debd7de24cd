# Optional RDS MySQL source database (docs/data-contracts.md 3.1): private, encrypted, master password
# generated and kept in Secrets Manager by RDS, plus a one-shot loader (an SSM Run Command document run on the
# EC2 Kafka client) that seeds it with the project's synthetic generator.

data "aws_region" "current" {}

locals {
  create_loader = var.create && var.loader != null
  loader_files  = local.create_loader ? fileset(var.loader.project_root, "emulation/**/*.py") : toset([])
  secret_arn    = try(aws_db_instance.this[0].master_user_secret[0].secret_arn, null)
}

resource "aws_db_subnet_group" "this" {
  count = var.create ? 1 : 0

  name_prefix = "${var.name}-"
  description = "Private subnets of ${var.name}"
  subnet_ids  = var.subnet_ids
  tags        = var.tags
}

resource "aws_db_parameter_group" "this" {
  count = var.create ? 1 : 0

  name_prefix = "${var.name}-"
  family      = "mysql${join(".", slice(split(".", var.engine_version), 0, 2))}"
  description = "TLS-only connections and slow query log for ${var.name}"

  parameter {
    name  = "require_secure_transport"
    value = "1"
  }

  parameter {
    name  = "slow_query_log"
    value = "1"
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_db_instance" "this" {
  count = var.create ? 1 : 0

  #checkov:skip=CKV_AWS_157:Multi-AZ is a variable (multi_az); the seeded source data is synthetic and regenerable, so the default saves the standby's cost.
  #checkov:skip=CKV_AWS_293:Deletion protection is a variable (deletion_protection); off by default so `make destroy` removes the throwaway synthetic database.
  #checkov:skip=CKV_AWS_118:Enhanced monitoring needs an extra role and costs more; the database is a small, short-lived source for the emulator.
  #checkov:skip=CKV_AWS_353:Performance Insights is not needed for a short-lived, seeded source database.
  #checkov:skip=CKV_AWS_354:Performance Insights is off (see CKV_AWS_353), so it has no key to set.

  identifier     = var.name
  engine         = "mysql"
  engine_version = var.engine_version
  instance_class = var.instance_class
  db_name        = var.db_name
  username       = var.master_username

  manage_master_user_password   = true
  master_user_secret_kms_key_id = var.kms_key_arn

  allocated_storage = var.allocated_storage
  storage_type      = "gp3"
  storage_encrypted = true
  kms_key_id        = var.kms_key_arn

  db_subnet_group_name   = aws_db_subnet_group.this[0].name
  parameter_group_name   = aws_db_parameter_group.this[0].name
  vpc_security_group_ids = var.security_group_ids
  publicly_accessible    = false
  multi_az               = var.multi_az

  iam_database_authentication_enabled = true
  auto_minor_version_upgrade          = true
  enabled_cloudwatch_logs_exports     = ["error", "slowquery"]
  backup_retention_period             = var.backup_retention_period
  copy_tags_to_snapshot               = true
  deletion_protection                 = var.deletion_protection
  skip_final_snapshot                 = var.skip_final_snapshot
  final_snapshot_identifier           = var.skip_final_snapshot ? null : "${var.name}-final"
  apply_immediately                   = true

  tags = var.tags
}

# --- one-shot loader --------------------------------------------------------------------------------

resource "aws_s3_object" "loader_files" {
  for_each = local.loader_files

  bucket      = var.loader.artifacts_bucket
  key         = "${var.loader.artifacts_prefix}${each.value}"
  source      = "${var.loader.project_root}/${each.value}"
  source_hash = filemd5("${var.loader.project_root}/${each.value}")

  tags = var.tags
}

data "aws_iam_policy_document" "loader" {
  count = local.create_loader ? 1 : 0

  statement {
    sid       = "ReadMasterSecret"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [local.secret_arn]
  }

  statement {
    sid       = "ListLoaderArtifacts"
    actions   = ["s3:ListBucket"]
    resources = [var.loader.artifacts_bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.loader.artifacts_prefix}*"]
    }
  }

  statement {
    sid       = "ReadLoaderArtifacts"
    actions   = ["s3:GetObject"]
    resources = ["${var.loader.artifacts_bucket_arn}/${var.loader.artifacts_prefix}*"]
  }

  dynamic "statement" {
    for_each = var.loader.artifacts_kms_key_arn != null ? [1] : []
    content {
      sid       = "DecryptArtifacts"
      actions   = ["kms:Decrypt"]
      resources = [var.loader.artifacts_kms_key_arn]
    }
  }
}

resource "aws_iam_role_policy" "loader" {
  count = local.create_loader ? 1 : 0

  name   = "${var.name}-loader"
  role   = var.loader.instance_role_name
  policy = data.aws_iam_policy_document.loader[0].json
}

resource "aws_ssm_document" "loader" {
  count = local.create_loader ? 1 : 0

  name            = "${var.name}-seed-source-db"
  document_type   = "Command"
  document_format = "JSON"

  content = jsonencode({
    schemaVersion = "2.2"
    description   = "Seed ${var.db_name} on ${var.name} with the project's synthetic generator (python -m emulation seed)."
    parameters = {
      Rows = {
        type           = "String"
        description    = "Rows per source table."
        default        = tostring(var.loader.rows)
        allowedPattern = "^[0-9]+$"
      }
    }
    mainSteps = [{
      action = "aws:runShellScript"
      name   = "seed"
      inputs = {
        timeoutSeconds = "3600"
        runCommand = split("\n", templatefile("${path.module}/templates/seed.sh.tftpl", {
          region       = data.aws_region.current.name
          s3_uri       = "s3://${var.loader.artifacts_bucket}/${var.loader.artifacts_prefix}"
          pip_packages = join(" ", var.loader.pip_packages)
          secret_arn   = local.secret_arn
          db_host      = aws_db_instance.this[0].address
          db_port      = aws_db_instance.this[0].port
          db_name      = var.db_name
        }))
      }
    }]
  })

  tags = var.tags
}
