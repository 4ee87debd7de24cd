# Plan-time checks of the source database module against a mocked AWS provider.

mock_provider "aws" {
  mock_resource "aws_db_instance" {
    override_during = plan
    defaults = {
      address = "pdp-test-db.abc.eu-west-1.rds.amazonaws.com"
      port    = 3306
      master_user_secret = [{
        secret_arn    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1234"
        kms_key_id    = "alias/aws/secretsmanager"
        secret_status = "active"
      }]
    }
  }
  mock_resource "aws_ssm_document" {
    override_during = plan
    defaults = {
      name = "pdp-test-db-seed-source-db"
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name               = "pdp-test-db"
  subnet_ids         = ["subnet-aaaa", "subnet-bbbb"]
  security_group_ids = ["sg-db"]
  tags               = { Project = "pinterest-data-pipeline" }
}

run "private_encrypted_managed_password" {
  command = plan

  assert {
    condition     = aws_db_instance.this[0].publicly_accessible == false && aws_db_instance.this[0].storage_encrypted
    error_message = "The database is private and encrypted."
  }

  assert {
    condition     = aws_db_instance.this[0].manage_master_user_password && aws_db_instance.this[0].password == null
    error_message = "RDS generates the password and keeps it in Secrets Manager; none is in the configuration."
  }

  assert {
    condition     = aws_db_instance.this[0].engine == "mysql" && aws_db_instance.this[0].db_name == "pinterest_data"
    error_message = "MySQL with the pinterest_data database (docs/data-contracts.md 3.1)."
  }

  assert {
    condition     = aws_db_parameter_group.this[0].family == "mysql8.0" && anytrue([for p in aws_db_parameter_group.this[0].parameter : p.name == "require_secure_transport" && p.value == "1"])
    error_message = "Connections must use TLS."
  }

  assert {
    condition     = length(aws_ssm_document.loader) == 0 && output.loader_command == null
    error_message = "No loader unless configured."
  }
}

run "loader_seeds_with_the_generator" {
  command = plan

  variables {
    loader = {
      instance_id          = "i-0123456789abcdef0"
      instance_role_name   = "pdp-test-client-role"
      artifacts_bucket     = "user-demo-bucket"
      artifacts_bucket_arn = "arn:aws:s3:::user-demo-bucket"
      project_root         = "./tests/fixtures/project"
      rows                 = 500
    }
  }

  assert {
    condition     = contains(keys(aws_s3_object.loader_files), "emulation/__init__.py") && aws_s3_object.loader_files["emulation/__init__.py"].key == "artifacts/loader/emulation/__init__.py"
    error_message = "The project's emulation package is uploaded for the loader."
  }

  assert {
    condition     = strcontains(aws_ssm_document.loader[0].content, "python -m emulation seed --rows") && strcontains(aws_ssm_document.loader[0].content, "mysql+pymysql://")
    error_message = "The loader runs the project's generator against MySQL."
  }

  assert {
    condition     = strcontains(aws_ssm_document.loader[0].content, "rds!db-1234") && strcontains(aws_ssm_document.loader[0].content, "pdp-test-db.abc.eu-west-1.rds.amazonaws.com:3306/pinterest_data?ssl_ca=")
    error_message = "The loader reads the password from the master user secret and connects to this database over verified TLS."
  }

  assert {
    condition     = data.aws_iam_policy_document.loader[0].statement[0].resources == toset(["arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-1234"])
    error_message = "The loader may read only this database's secret."
  }

  assert {
    condition     = output.loader_command == "aws ssm send-command --region eu-west-1 --document-name pdp-test-db-seed-source-db --instance-ids i-0123456789abcdef0 --parameters Rows=500 --comment 'seed pinterest_data'"
    error_message = "The module prints the exact command that runs the loader."
  }
}

run "off_creates_nothing" {
  command = plan

  variables {
    create = false
  }

  assert {
    condition     = length(aws_db_instance.this) == 0 && length(aws_db_subnet_group.this) == 0 && output.address == null
    error_message = "create = false builds nothing."
  }
}
