# Plan-time checks of the Databricks role, on the exact policy JSON AWS would receive: its trust, and that it
# grants exactly the actions the notebooks need on exactly the lake prefixes, keys and streams passed in
# (mocked AWS provider, offline).

mock_provider "aws" {
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
  name        = "pdp-demo-databricks"
  bucket_arn  = "arn:aws:s3:::user-demo-bucket"
  kms_key_arn = "arn:aws:kms:us-east-1:123456789012:key/lake"
  kinesis_stream_arns = [
    "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-demo-pin",
    "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-demo-geo",
    "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-demo-user",
  ]
}

run "instance_profile_role_is_least_privilege" {
  command = plan

  assert {
    condition     = aws_iam_role.this.name == "pdp-demo-databricks" && aws_iam_instance_profile.this[0].name == "pdp-demo-databricks" && aws_iam_instance_profile.this[0].role == "pdp-demo-databricks"
    error_message = "The role and its instance profile share one name."
  }

  # Only EC2 may assume the role by default (the instance profile); no Unity Catalog trust.
  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy) == {
      Version = "2012-10-17"
      Statement = [{
        Sid       = "Ec2AssumesRoleForTheInstanceProfile"
        Effect    = "Allow"
        Action    = "sts:AssumeRole"
        Principal = { Service = "ec2.amazonaws.com" }
      }]
    }
    error_message = "By default only EC2 (the instance profile) may assume the role."
  }

  # Every statement, its actions and its resources, exactly.
  assert {
    condition = jsondecode(aws_iam_role_policy.this.policy) == {
      Version = "2012-10-17"
      Statement = [
        {
          Sid      = "ListTheLakeBucket"
          Effect   = "Allow"
          Action   = ["s3:ListBucket"]
          Resource = ["arn:aws:s3:::user-demo-bucket"]
        },
        {
          Sid      = "ReadTheLake"
          Effect   = "Allow"
          Action   = ["s3:GetObject"]
          Resource = ["arn:aws:s3:::user-demo-bucket/topics/*"]
        },
        {
          Sid      = "ReadWriteStreamCheckpoints"
          Effect   = "Allow"
          Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
          Resource = ["arn:aws:s3:::user-demo-bucket/checkpoints/*"]
        },
        {
          Sid      = "UseTheLakeKey"
          Effect   = "Allow"
          Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
          Resource = ["arn:aws:kms:us-east-1:123456789012:key/lake"]
        },
        {
          Sid    = "ReadThePipelineStreams"
          Effect = "Allow"
          Action = [
            "kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:ListShards", "kinesis:GetRecords",
            "kinesis:GetShardIterator",
          ]
          Resource = [
            "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-demo-pin",
            "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-demo-geo",
            "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-demo-user",
          ]
        },
      ]
    }
    error_message = "The policy must grant exactly: ListBucket on the bucket, GetObject under topics/, Get/Put/Delete under checkpoints/, Decrypt/GenerateDataKey on the lake key, the five Kinesis read actions on the three streams."
  }

  assert {
    condition = alltrue(flatten([
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement :
      [s.Effect == "Allow", [for r in s.Resource : r != "*"], [for a in s.Action : !strcontains(a, "*")]]
    ]))
    error_message = "No wildcard action, no Resource \"*\", no Deny to reason about."
  }

  assert {
    condition     = output.policy_json == aws_iam_role_policy.this.policy && output.assume_role_policy_json == aws_iam_role.this.assume_role_policy
    error_message = "The module outputs the policies it attaches."
  }
}

run "unity_catalog_credential_trust" {
  command = plan

  variables {
    unity_catalog = { external_id = "0a1b2c3d-databricks-account" }
  }

  assert {
    condition = jsondecode(aws_iam_role.this.assume_role_policy).Statement == [
      {
        Sid       = "Ec2AssumesRoleForTheInstanceProfile"
        Effect    = "Allow"
        Action    = "sts:AssumeRole"
        Principal = { Service = "ec2.amazonaws.com" }
      },
      {
        Sid       = "UnityCatalogAssumesRole"
        Effect    = "Allow"
        Action    = "sts:AssumeRole"
        Principal = { AWS = "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL" }
        Condition = { StringEquals = { "sts:ExternalId" = "0a1b2c3d-databricks-account" } }
      },
      {
        Sid       = "ExplicitSelfRoleAssumption"
        Effect    = "Allow"
        Action    = "sts:AssumeRole"
        Principal = { AWS = "arn:aws:iam::123456789012:root" }
        Condition = { ArnLike = { "aws:PrincipalArn" = "arn:aws:iam::123456789012:role/pdp-demo-databricks" } }
      },
    ]
    error_message = "On top of EC2: the Databricks UC master role with the credential's external id, and the role itself (Databricks requires self-assuming credential roles), nothing else of the account."
  }
}

run "unity_catalog_only" {
  command = plan

  variables {
    create_instance_profile = false
    unity_catalog = {
      external_id     = "abc"
      master_role_arn = "arn:aws-us-gov:iam::044793339203:role/unity-catalog-prod-UCMasterRole-1QRFA8SGY15OJ"
    }
  }

  assert {
    condition     = length(aws_iam_instance_profile.this) == 0 && output.instance_profile_arn == null
    error_message = "No instance profile when it is turned off."
  }

  assert {
    condition = [for s in jsondecode(aws_iam_role.this.assume_role_policy).Statement : [s.Sid, s.Principal]] == [
      ["UnityCatalogAssumesRole", { AWS = "arn:aws-us-gov:iam::044793339203:role/unity-catalog-prod-UCMasterRole-1QRFA8SGY15OJ" }],
      ["ExplicitSelfRoleAssumption", { AWS = "arn:aws:iam::123456789012:root" }],
    ]
    error_message = "Without an instance profile EC2 may not assume the role; master_role_arn replaces the commercial UC master role."
  }
}

run "stream_key_and_sse_s3_lake" {
  command = plan

  variables {
    kms_key_arn          = null
    kinesis_kms_key_arns = ["arn:aws:kms:us-east-1:123456789012:key/streams"]
    read_prefixes        = ["topics/", "extra/"]
  }

  assert {
    condition = {
      for s in jsondecode(aws_iam_role_policy.this.policy).Statement : s.Sid => [s.Action, s.Resource]
      if contains(["UseTheLakeKey", "DecryptTheStreams", "ReadTheLake"], s.Sid)
      } == {
      ReadTheLake       = [["s3:GetObject"], ["arn:aws:s3:::user-demo-bucket/topics/*", "arn:aws:s3:::user-demo-bucket/extra/*"]]
      DecryptTheStreams = [["kms:Decrypt"], ["arn:aws:kms:us-east-1:123456789012:key/streams"]]
    }
    error_message = "No lake key statement without a lake key; a customer managed stream key gets kms:Decrypt, and only that key; every read prefix is readable."
  }
}

run "rejects_a_role_nothing_can_assume" {
  command = plan

  variables {
    create_instance_profile = false
  }

  expect_failures = [aws_iam_role.this]
}

run "rejects_prefixes_that_widen_access" {
  command = plan

  variables {
    read_prefixes  = ["*"]
    write_prefixes = ["/checkpoints"]
  }

  expect_failures = [var.read_prefixes, var.write_prefixes]
}

run "rejects_missing_streams" {
  command = plan

  variables {
    kinesis_stream_arns = []
  }

  expect_failures = [var.kinesis_stream_arns]
}
