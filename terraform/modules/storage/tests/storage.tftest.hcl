# Plan-time checks of the lake bucket's security defaults, against a mocked AWS provider (offline).

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
}

variables {
  user_id = "demo"
}

run "defaults_are_secure" {
  command = plan

  assert {
    condition     = aws_s3_bucket.this.bucket == "user-demo-bucket"
    error_message = "The bucket must be named user-<user_id>-bucket by default."
  }

  assert {
    condition     = aws_s3_bucket.this.force_destroy == false
    error_message = "force_destroy must be off by default."
  }

  assert {
    condition = alltrue([
      aws_s3_bucket_public_access_block.this.block_public_acls,
      aws_s3_bucket_public_access_block.this.block_public_policy,
      aws_s3_bucket_public_access_block.this.ignore_public_acls,
      aws_s3_bucket_public_access_block.this.restrict_public_buckets,
    ])
    error_message = "Every public access block setting must be on."
  }

  assert {
    condition     = one(aws_s3_bucket_ownership_controls.this.rule).object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs must be disabled (BucketOwnerEnforced)."
  }

  assert {
    condition     = one(aws_s3_bucket_versioning.this.versioning_configuration).status == "Enabled"
    error_message = "Versioning must be enabled by default."
  }

  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm == "aws:kms"
    error_message = "The bucket must default to SSE-KMS."
  }

  assert {
    condition     = length(aws_kms_key.this) == 1 && aws_kms_key.this[0].enable_key_rotation
    error_message = "The module must create its own KMS key with rotation on."
  }

  assert {
    condition     = aws_kms_alias.this[0].name == "alias/user-demo-bucket"
    error_message = "The KMS key alias must name the bucket."
  }

  assert {
    condition     = one(aws_s3_bucket_lifecycle_configuration.this[0].rule).abort_incomplete_multipart_upload[0].days_after_initiation == 7 && one(one(aws_s3_bucket_lifecycle_configuration.this[0].rule).noncurrent_version_expiration).noncurrent_days == 90
    error_message = "Incomplete multipart uploads must be aborted after 7 days, non-current versions expire after 90."
  }

  assert {
    condition     = length(aws_s3_bucket_logging.this) == 0
    error_message = "Access logging is off unless a target bucket is given."
  }

  # The TLS-only bucket policy: a Deny of s3:* for everyone when aws:SecureTransport is false.
  assert {
    condition = anytrue([
      for s in data.aws_iam_policy_document.bucket.statement :
      s.effect == "Deny" && contains(s.actions, "s3:*") && anytrue([
        for c in s.condition : c.test == "Bool" && c.variable == "aws:SecureTransport" && contains(c.values, "false")
      ])
    ])
    error_message = "The bucket policy must deny every request without TLS."
  }
}

run "sse_s3_without_kms_key" {
  command = plan

  variables {
    sse_algorithm = "AES256"
  }

  assert {
    condition     = length(aws_kms_key.this) == 0
    error_message = "No KMS key with SSE-S3."
  }

  assert {
    condition     = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm == "AES256"
    error_message = "SSE-S3 was asked for."
  }
}

run "existing_kms_key_name_and_logging" {
  command = plan

  variables {
    bucket_name    = "my-lake"
    force_destroy  = true
    create_kms_key = false
    kms_key_arn    = "arn:aws:kms:eu-west-1:123456789012:key/abc"
    access_logging = { target_bucket = "my-logs" }
  }

  assert {
    condition     = aws_s3_bucket.this.bucket == "my-lake" && aws_s3_bucket.this.force_destroy
    error_message = "bucket_name and force_destroy must be honoured."
  }

  assert {
    condition     = length(aws_kms_key.this) == 0 && one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).kms_master_key_id == "arn:aws:kms:eu-west-1:123456789012:key/abc"
    error_message = "The given KMS key must be used and none created."
  }

  assert {
    condition     = aws_s3_bucket_logging.this[0].target_bucket == "my-logs" && aws_s3_bucket_logging.this[0].target_prefix == "s3-access-logs/"
    error_message = "Access logs must go to the given bucket."
  }
}

run "lifecycle_can_be_left_out" {
  command = plan

  variables {
    lifecycle_rules = null
  }

  assert {
    condition     = length(aws_s3_bucket_lifecycle_configuration.this) == 0
    error_message = "lifecycle_rules = null must create no lifecycle configuration."
  }
}

run "rejects_unknown_encryption" {
  command = plan

  variables {
    sse_algorithm = "DES"
  }

  expect_failures = [var.sse_algorithm]
}

run "kms_alias_is_valid_for_a_user_id_with_dots" {
  command = plan

  variables {
    user_id = "jane.doe"
  }

  assert {
    condition     = aws_s3_bucket.this.bucket == "user-jane.doe-bucket"
    error_message = "The bucket name keeps the user id as it is."
  }

  assert {
    condition     = aws_kms_alias.this[0].name == "alias/user-jane-doe-bucket"
    error_message = "The KMS alias must replace the dots KMS does not accept."
  }

  assert {
    condition     = can(regex("^alias/[a-zA-Z0-9/_-]+$", aws_kms_alias.this[0].name))
    error_message = "The KMS alias must match KMS's alias name pattern."
  }
}
