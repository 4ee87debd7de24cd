# The data-lake bucket: private, versioned, encrypted (SSE-KMS with a key of its own by default),
# TLS-only, owner-enforced, with lifecycle housekeeping and optional access logging.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  bucket_name    = coalesce(var.bucket_name, "user-${var.user_id}-bucket")
  use_kms        = var.sse_algorithm == "aws:kms"
  create_kms_key = local.use_kms && var.create_kms_key
  kms_key_arn    = local.create_kms_key ? aws_kms_key.this[0].arn : (local.use_kms ? var.kms_key_arn : null)
}

# --- KMS key (optional) ----------------------------------------------------------------------------

data "aws_iam_policy_document" "kms" {
  count = local.create_kms_key ? 1 : 0

  # checkov:skip=CKV_AWS_109:A key policy's Resource "*" means "this key"; the account root statement is the default key policy that lets IAM policies grant use.
  # checkov:skip=CKV_AWS_111:A key policy's Resource "*" means "this key"; the account root statement is the default key policy that lets IAM policies grant use.
  # checkov:skip=CKV_AWS_356:A key policy's Resource "*" means "this key"; it cannot name other resources.
  statement {
    sid       = "AccountAdministersKeyThroughIAM"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "S3UsesKeyForThisAccount"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "this" {
  count = local.create_kms_key ? 1 : 0

  description             = "Encrypts the objects of the data-lake bucket ${local.bucket_name}"
  deletion_window_in_days = var.kms_key_deletion_window_in_days
  enable_key_rotation     = true
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = local.create_kms_key ? 1 : 0

  # KMS aliases allow letters, digits, '/', '_' and '-' but no '.', which bucket names (and user ids) may hold.
  name          = "alias/${replace(local.bucket_name, ".", "-")}"
  target_key_id = aws_kms_key.this[0].key_id
}

# --- bucket ----------------------------------------------------------------------------------------

resource "aws_s3_bucket" "this" {
  # checkov:skip=CKV_AWS_144:Cross-region replication doubles storage cost; the lake is rebuilt from the source database and topics.
  # checkov:skip=CKV2_AWS_62:Nothing consumes S3 event notifications in this pipeline (readers poll the lake layout).
  # checkov:skip=CKV_AWS_18:Access logging is an input (access_logging); it needs a separate log bucket the caller owns.
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = aws_s3_bucket.this.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = var.versioning_enabled ? "Enabled" : "Suspended"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.sse_algorithm
      kms_master_key_id = local.kms_key_arn
    }
    bucket_key_enabled = local.use_kms ? var.bucket_key_enabled : null
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  count = var.lifecycle_rules == null ? 0 : 1

  bucket = aws_s3_bucket.this.id

  rule {
    id     = "housekeeping"
    status = "Enabled"

    # Whole bucket: an explicit empty prefix, the form S3 returns (an empty filter block reads back differently).
    filter {
      prefix = ""
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.lifecycle_rules.abort_incomplete_multipart_upload_days
    }

    dynamic "noncurrent_version_expiration" {
      for_each = var.lifecycle_rules.noncurrent_version_expiration_days == null ? [] : [var.lifecycle_rules.noncurrent_version_expiration_days]

      content {
        noncurrent_days = noncurrent_version_expiration.value
      }
    }
  }

  # Versioning must exist before rules about non-current versions.
  depends_on = [aws_s3_bucket_versioning.this]
}

resource "aws_s3_bucket_logging" "this" {
  count = var.access_logging == null ? 0 : 1

  bucket        = aws_s3_bucket.this.id
  target_bucket = var.access_logging.target_bucket
  target_prefix = var.access_logging.target_prefix
}

data "aws_iam_policy_document" "bucket" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.bucket.json

  # A bucket policy is only accepted once the public access block is in place.
  depends_on = [aws_s3_bucket_public_access_block.this]
}
