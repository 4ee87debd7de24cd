# Plan-time checks of the MWAA module against a mocked AWS provider.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
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
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name               = "pdp-test"
  dags_dir           = "./tests/fixtures/dags"
  requirements_path  = "./tests/fixtures/requirements.txt"
  subnet_ids         = ["subnet-aaaa", "subnet-bbbb"]
  security_group_ids = ["sg-mwaa"]
  airflow_variables  = { pinterest_user_id = "demo" }
  tags               = { Project = "pinterest-data-pipeline" }
}

run "environment_and_dag_bucket" {
  command = plan

  assert {
    condition     = aws_mwaa_environment.this.airflow_version == "3.0.6" && aws_mwaa_environment.this.dag_s3_path == "dags/"
    error_message = "Airflow 3.0.6 by default, DAGs under dags/."
  }

  assert {
    condition     = aws_mwaa_environment.this.webserver_access_mode == "PRIVATE_ONLY" && aws_mwaa_environment.this.network_configuration[0].subnet_ids == toset(["subnet-aaaa", "subnet-bbbb"])
    error_message = "Private networking in the two given subnets."
  }

  assert {
    condition = alltrue([
      aws_mwaa_environment.this.logging_configuration[0].dag_processing_logs[0].enabled,
      aws_mwaa_environment.this.logging_configuration[0].scheduler_logs[0].enabled,
      aws_mwaa_environment.this.logging_configuration[0].task_logs[0].enabled,
      aws_mwaa_environment.this.logging_configuration[0].webserver_logs[0].enabled,
      aws_mwaa_environment.this.logging_configuration[0].worker_logs[0].enabled,
    ])
    error_message = "Every Airflow log type goes to CloudWatch."
  }

  assert {
    condition     = module.dag_bucket.bucket_name == "airflow-pdp-test-123456789012" && output.dag_bucket_name == module.dag_bucket.bucket_name
    error_message = "The DAG bucket name derives from the environment and the account."
  }

  # Its hardening (public access block, versioning, TLS-only policy, lifecycle) is the storage module's, tested there.
  assert {
    condition     = module.dag_bucket.sse_algorithm == "aws:kms" && module.dag_bucket.kms_key_alias == null
    error_message = "The DAG bucket is encrypted with KMS (the AWS managed key: no key of its own)."
  }

  assert {
    condition     = toset(keys(aws_s3_object.dags)) == toset(["pipeline_dag.py", "sub/helpers.py"]) && aws_s3_object.dags["sub/helpers.py"].key == "dags/sub/helpers.py"
    error_message = "Every .py file under dags_dir is uploaded under dags/, nothing else."
  }

  assert {
    condition     = aws_s3_object.requirements[0].key == "requirements.txt" && aws_mwaa_environment.this.requirements_s3_path == "requirements.txt"
    error_message = "requirements.txt is uploaded and used by the environment."
  }

  assert {
    condition     = aws_mwaa_environment.this.airflow_configuration_options["secrets.backend"] == "airflow.providers.amazon.aws.secrets.secrets_manager.SecretsManagerBackend"
    error_message = "Airflow reads connections from Secrets Manager."
  }

  # The prefixes the module outputs are the ones Airflow is configured with and the role may read.
  assert {
    condition = jsondecode(aws_mwaa_environment.this.airflow_configuration_options["secrets.backend_kwargs"]) == {
      connections_prefix = output.connections_prefix
      variables_prefix   = output.variables_prefix
    } && output.connections_prefix == "airflow/connections" && output.variables_prefix == "airflow/variables"
    error_message = "connections_prefix and variables_prefix must be what secrets.backend_kwargs configures."
  }

  assert {
    condition = one([for s in data.aws_iam_policy_document.execution.statement : s if s.sid == "AirflowSecrets"]).resources == toset([
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:airflow/connections/*",
      "arn:aws:secretsmanager:eu-west-1:123456789012:secret:airflow/variables/*",
    ])
    error_message = "The execution role may read exactly the secrets under the two prefixes."
  }

  assert {
    condition     = aws_secretsmanager_secret.variables["pinterest_user_id"].name == "airflow/variables/pinterest_user_id" && aws_secretsmanager_secret_version.variables["pinterest_user_id"].secret_string == "demo"
    error_message = "Airflow Variables are stored where the Secrets Manager backend looks for them."
  }

  assert {
    condition     = data.aws_iam_policy_document.execution.statement[0].resources == toset(["arn:aws:airflow:eu-west-1:123456789012:environment/pdp-test"])
    error_message = "The execution role publishes metrics for this environment only."
  }
}

run "airflow_version_and_no_requirements" {
  command = plan

  variables {
    airflow_version   = "2.11.0"
    requirements_path = null
  }

  assert {
    condition     = aws_mwaa_environment.this.airflow_version == "2.11.0" && length(aws_s3_object.requirements) == 0
    error_message = "Version follows the variable; requirements are optional."
  }
}

run "rejects_missing_requirements_file" {
  command = plan

  variables {
    requirements_path = "./tests/fixtures/missing.txt"
  }

  expect_failures = [var.requirements_path]
}

run "rejects_three_subnets" {
  command = plan

  variables {
    subnet_ids = ["subnet-aaaa", "subnet-bbbb", "subnet-cccc"]
  }

  expect_failures = [var.subnet_ids]
}
