# Plan-time checks of the MSK module against a mocked AWS provider.

mock_provider "aws" {
  mock_resource "aws_msk_cluster" {
    override_during = plan
    defaults = {
      arn          = "arn:aws:kafka:eu-west-1:123456789012:cluster/pdp-test-msk/1111-2222"
      cluster_uuid = "1111-2222"
    }
  }
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
  name               = "pdp-test-msk"
  subnet_ids         = ["subnet-aaaa", "subnet-bbbb"]
  security_group_ids = ["sg-msk"]
  tags               = { Project = "pinterest-data-pipeline" }
}

run "secure_defaults" {
  command = plan

  assert {
    condition     = aws_msk_cluster.this.client_authentication[0].sasl[0].iam == true && aws_msk_cluster.this.client_authentication[0].unauthenticated == false
    error_message = "Clients authenticate with IAM only."
  }

  assert {
    condition     = aws_msk_cluster.this.encryption_info[0].encryption_in_transit[0].client_broker == "TLS" && aws_msk_cluster.this.encryption_info[0].encryption_in_transit[0].in_cluster
    error_message = "TLS between clients and brokers and inside the cluster."
  }

  assert {
    condition     = length(aws_kms_key.this) == 1 && aws_kms_key.this[0].enable_key_rotation
    error_message = "A customer managed key with rotation encrypts the brokers' storage."
  }

  assert {
    condition     = aws_msk_cluster.this.logging_info[0].broker_logs[0].cloudwatch_logs[0].enabled && aws_msk_cluster.this.logging_info[0].broker_logs[0].cloudwatch_logs[0].log_group == "/msk/pdp-test-msk/broker"
    error_message = "Broker logs go to the module's CloudWatch log group."
  }

  assert {
    condition     = aws_msk_cluster.this.number_of_broker_nodes == 2 && aws_msk_cluster.this.kafka_version == "3.8.x"
    error_message = "One broker per subnet, default Kafka version 3.8.x."
  }

  assert {
    condition     = aws_msk_cluster.this.broker_node_group_info[0].connectivity_info[0].public_access[0].type == "DISABLED"
    error_message = "Brokers are never public."
  }

  assert {
    condition     = strcontains(aws_msk_configuration.this.server_properties, "auto.create.topics.enable=true") && strcontains(aws_msk_configuration.this.server_properties, "default.replication.factor=2")
    error_message = "The configuration enables topic auto-creation and replicates over the brokers."
  }

  assert {
    condition     = output.topic_arn_prefix == "arn:aws:kafka:eu-west-1:123456789012:topic/pdp-test-msk/1111-2222"
    error_message = "Topic ARN prefix names this cluster."
  }

  assert {
    condition     = aws_msk_cluster.this.tags["Project"] == "pinterest-data-pipeline"
    error_message = "Tags reach the cluster."
  }
}

run "bring_your_own_key_and_settings" {
  command = plan

  variables {
    kafka_version      = "3.6.0"
    encryption_at_rest = { create_kms_key = false, kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/abc" }
    server_properties  = { "num.partitions" = "3" }
  }

  assert {
    condition     = length(aws_kms_key.this) == 0 && aws_msk_cluster.this.encryption_info[0].encryption_at_rest_kms_key_arn == "arn:aws:kms:eu-west-1:123456789012:key/abc"
    error_message = "A given key replaces the module's."
  }

  assert {
    condition     = strcontains(aws_msk_configuration.this.server_properties, "num.partitions=3") && aws_msk_configuration.this.kafka_versions == toset(["3.6.0"])
    error_message = "Overrides merge over the defaults and the configuration follows the Kafka version."
  }
}

run "needs_two_zones" {
  command = plan

  variables {
    subnet_ids = ["subnet-aaaa"]
  }

  expect_failures = [var.subnet_ids]
}
