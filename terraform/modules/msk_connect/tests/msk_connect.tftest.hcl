# Plan-time checks of the MSK Connect S3 sink module against a mocked AWS provider.

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
  name    = "pdp-test-s3-sink"
  user_id = "demo"
  bucket = {
    name        = "user-demo-bucket"
    arn         = "arn:aws:s3:::user-demo-bucket"
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/lake"
  }
  plugin = {
    local_path = "./tests/fixtures/confluentinc-kafka-connect-s3-test.zip"
  }
  msk = {
    cluster_arn                = "arn:aws:kafka:eu-west-1:123456789012:cluster/pdp-test-msk/1111-2222"
    topic_arn_prefix           = "arn:aws:kafka:eu-west-1:123456789012:topic/pdp-test-msk/1111-2222"
    group_arn_prefix           = "arn:aws:kafka:eu-west-1:123456789012:group/pdp-test-msk/1111-2222"
    bootstrap_brokers_sasl_iam = "b-1.example:9098,b-2.example:9098"
  }
  subnet_ids         = ["subnet-aaaa", "subnet-bbbb"]
  security_group_ids = ["sg-connect"]
  tags               = { Project = "pinterest-data-pipeline" }
}

run "connector_settings_follow_design_3_4" {
  command = plan

  assert {
    condition = alltrue([
      aws_mskconnect_connector.this.connector_configuration["connector.class"] == "io.confluent.connect.s3.S3SinkConnector",
      aws_mskconnect_connector.this.connector_configuration["topics.regex"] == "demo\\..*",
      aws_mskconnect_connector.this.connector_configuration["s3.bucket.name"] == "user-demo-bucket",
      aws_mskconnect_connector.this.connector_configuration["flush.size"] == "500",
      aws_mskconnect_connector.this.connector_configuration["format.class"] == "io.confluent.connect.s3.format.json.JsonFormat",
      aws_mskconnect_connector.this.connector_configuration["storage.class"] == "io.confluent.connect.s3.storage.S3Storage",
      aws_mskconnect_connector.this.connector_configuration["partitioner.class"] == "io.confluent.connect.storage.partitioner.DefaultPartitioner",
      aws_mskconnect_connector.this.connector_configuration["topics.dir"] == "topics",
      aws_mskconnect_connector.this.connector_configuration["s3.region"] == "eu-west-1",
      aws_mskconnect_connector.this.connector_configuration["rotate.schedule.interval.ms"] == "60000",
    ])
    error_message = "The connector must write the layout of docs/data-contracts.md 3.4 for every topic of the user."
  }

  assert {
    condition = alltrue([for k in ["key.converter", "value.converter"] :
      aws_mskconnect_connector.this.connector_configuration[k] == "org.apache.kafka.connect.json.JsonConverter" &&
    aws_mskconnect_connector.this.connector_configuration["${k}.schemas.enable"] == "false"])
    error_message = "JSON converters without schemas."
  }

  assert {
    condition     = aws_mskconnect_connector.this.kafka_cluster_client_authentication[0].authentication_type == "IAM" && aws_mskconnect_connector.this.kafka_cluster_encryption_in_transit[0].encryption_type == "TLS"
    error_message = "The connector authenticates with IAM over TLS."
  }

  assert {
    condition     = aws_mskconnect_connector.this.kafka_cluster[0].apache_kafka_cluster[0].bootstrap_servers == "b-1.example:9098,b-2.example:9098"
    error_message = "The connector uses the IAM bootstrap brokers."
  }

  assert {
    condition     = aws_mskconnect_connector.this.log_delivery[0].worker_log_delivery[0].cloudwatch_logs[0].enabled && aws_cloudwatch_log_group.this.name == "/msk-connect/pdp-test-s3-sink"
    error_message = "Worker logs go to CloudWatch."
  }

  assert {
    condition     = aws_s3_object.plugin.bucket == "user-demo-bucket" && aws_s3_object.plugin.key == "artifacts/msk-connect/confluentinc-kafka-connect-s3-test.zip" && aws_mskconnect_custom_plugin.this.content_type == "ZIP"
    error_message = "Terraform uploads the plugin zip and registers it."
  }

  assert {
    condition     = strcontains(aws_mskconnect_worker_configuration.this.properties_file_content, "value.converter.schemas.enable=false")
    error_message = "The worker configuration uses schemaless JSON."
  }

  assert {
    condition     = data.aws_iam_policy_document.this.statement[5].resources == toset(["arn:aws:s3:::user-demo-bucket/topics/*"])
    error_message = "The connector may write only under topics/ in the lake bucket."
  }

  assert {
    condition     = data.aws_iam_policy_document.this.statement[1].resources == toset(["arn:aws:kafka:eu-west-1:123456789012:topic/pdp-test-msk/1111-2222/demo.*"])
    error_message = "The connector may read only the user's topics."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.this.statement : alltrue([for r in s.resources : r != "*"])])
    error_message = "No statement may use Resource \"*\"."
  }
}

run "flush_size_and_dotted_user" {
  command = plan

  variables {
    user_id    = "team.a"
    flush_size = 1000
  }

  assert {
    condition     = aws_mskconnect_connector.this.connector_configuration["topics.regex"] == "team\\.a\\..*" && aws_mskconnect_connector.this.connector_configuration["flush.size"] == "1000"
    error_message = "Dots in user ids are escaped and flush.size follows the variable."
  }
}

run "rejects_zero_flush_size" {
  command = plan

  variables {
    flush_size = 0
  }

  expect_failures = [var.flush_size]
}
