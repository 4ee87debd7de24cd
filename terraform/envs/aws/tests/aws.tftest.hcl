# Plan of the whole AWS environment against a mocked AWS provider: every module is composed, names derive from
# user_id, and the settings that matter (encryption, public access, IAM auth, connector, streams, tags) hold.

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["us-east-1a", "us-east-1b", "us-east-1c"]
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "us-east-1"
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
  mock_data "aws_ssm_parameter" {
    defaults = {
      value = "ami-0123456789abcdef0"
    }
  }
  mock_data "aws_subnet" {
    defaults = {
      vpc_id = "vpc-0123456789abcdef0"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
  mock_resource "aws_msk_cluster" {
    override_during = plan
    defaults = {
      arn                        = "arn:aws:kafka:us-east-1:123456789012:cluster/pdp-demo-msk/1111-2222"
      cluster_uuid               = "1111-2222"
      bootstrap_brokers_sasl_iam = "b-1.pdp-demo-msk.example:9098,b-2.pdp-demo-msk.example:9098"
    }
  }
  mock_resource "aws_lb" {
    override_during = plan
    defaults = {
      arn      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/pdp-demo-kafka-client-nlb/abc"
      dns_name = "pdp-demo-kafka-client-nlb-abc.elb.us-east-1.amazonaws.com"
    }
  }
  mock_resource "aws_instance" {
    override_during = plan
    defaults = {
      id         = "i-0123456789abcdef0"
      private_ip = "10.20.0.10"
    }
  }
  mock_resource "aws_api_gateway_vpc_link" {
    override_during = plan
    defaults = {
      id = "vpclink1"
    }
  }
}

# Known key ARNs at plan time, so assertions can see through the modules' conditionals on them.
override_resource {
  target          = module.storage.aws_kms_key.this[0]
  override_during = plan
  values = {
    arn = "arn:aws:kms:us-east-1:123456789012:key/lake"
  }
}

override_resource {
  target          = module.msk.aws_kms_key.this[0]
  override_during = plan
  values = {
    arn = "arn:aws:kms:us-east-1:123456789012:key/msk"
  }
}

# Known ARNs of the lake bucket, the streams and the Databricks role, so the Databricks policy and outputs can
# be checked at plan time.
override_resource {
  target          = module.storage.aws_s3_bucket.this
  override_during = plan
  values = {
    arn = "arn:aws:s3:::user-demo-bucket"
  }
}

override_resource {
  target          = module.kinesis.aws_kinesis_stream.this["pin"]
  override_during = plan
  values = {
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-demo-pin"
  }
}

override_resource {
  target          = module.kinesis.aws_kinesis_stream.this["geo"]
  override_during = plan
  values = {
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-demo-geo"
  }
}

override_resource {
  target          = module.kinesis.aws_kinesis_stream.this["user"]
  override_during = plan
  values = {
    arn = "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-demo-user"
  }
}

override_resource {
  target          = module.databricks_access.aws_iam_role.this
  override_during = plan
  values = {
    arn = "arn:aws:iam::123456789012:role/pdp-demo-databricks"
  }
}

override_resource {
  target          = module.databricks_access.aws_iam_instance_profile.this[0]
  override_during = plan
  values = {
    arn = "arn:aws:iam::123456789012:instance-profile/pdp-demo-databricks"
  }
}

# The checks run on a copy of terraform/ alone, so the files the environment uploads come from the modules'
# test fixtures (the defaults point at ../../../airflow and the downloaded plugin zip).
variables {
  user_id = "demo"
  s3_sink = {
    plugin_path = "../../modules/msk_connect/tests/fixtures/confluentinc-kafka-connect-s3-test.zip"
  }
  mwaa = {
    dags_dir          = "../../modules/mwaa/tests/fixtures/dags"
    requirements_path = "../../modules/mwaa/tests/fixtures/requirements.txt"
  }
}

run "plans_the_whole_platform" {
  command = plan

  assert {
    condition     = length(module.network.private_subnet_ids) == 2 && length(module.network.public_subnet_ids) == 2
    error_message = "The network has private and public subnets in two zones."
  }

  assert {
    condition     = module.msk.cluster_name == "pdp-demo-msk"
    error_message = "The cluster name derives from prefix and user_id."
  }

  assert {
    condition     = output.kafka_client_instance_id == "i-0123456789abcdef0"
    error_message = "The Kafka client is part of the plan."
  }

  assert {
    condition     = module.msk_connect.connector_name == "pdp-demo-s3-sink"
    error_message = "The S3 sink connector is part of the plan."
  }

  assert {
    condition     = length(module.mwaa) == 1 && module.mwaa[0].environment_name == "pdp-demo-airflow"
    error_message = "MWAA is part of the plan by default."
  }

  assert {
    condition     = module.source_db.db_instance_identifier == null && module.source_db.loader_command == null
    error_message = "The source database is off by default."
  }
}

run "outputs_the_emulator_contract" {
  command = plan

  assert {
    condition     = output.bucket_name == "user-demo-bucket"
    error_message = "Lake bucket is user-<user_id>-bucket (docs/data-contracts.md 3.2)."
  }

  assert {
    condition     = output.stream_names == { pin = "streaming-demo-pin", geo = "streaming-demo-geo", user = "streaming-demo-user" }
    error_message = "Streams are streaming-<user_id>-<dataset> (docs/data-contracts.md 3.2)."
  }

  assert {
    condition     = output.topics == { pin = "demo.pin", geo = "demo.geo", user = "demo.user" }
    error_message = "Topics are <user_id>.<dataset> (docs/data-contracts.md 3.2)."
  }

  assert {
    condition     = output.region == "us-east-1" && output.user_id == "demo" && output.msk_bootstrap_brokers == "b-1.pdp-demo-msk.example:9098,b-2.pdp-demo-msk.example:9098"
    error_message = "Region and IAM bootstrap brokers are output."
  }

  assert {
    condition     = output.rest_proxy_url == "http://pdp-demo-kafka-client-nlb-abc.elb.us-east-1.amazonaws.com:8082"
    error_message = "The REST Proxy sits behind the internal NLB."
  }
}

run "security_settings" {
  command = plan

  assert {
    condition     = module.msk.kms_key_arn == "arn:aws:kms:us-east-1:123456789012:key/msk"
    error_message = "MSK storage is encrypted with a customer managed key."
  }

  assert {
    condition     = module.storage.sse_algorithm == "aws:kms" && module.storage.kms_key_arn == "arn:aws:kms:us-east-1:123456789012:key/lake"
    error_message = "The lake bucket is encrypted with SSE-KMS."
  }

  assert {
    condition     = module.mwaa[0].dag_bucket_name == "airflow-pdp-demo-airflow-123456789012"
    error_message = "The DAG bucket derives from the environment and the account."
  }

  assert {
    condition     = module.msk_connect.connector_configuration["topics.regex"] == "demo\\..*" && module.msk_connect.connector_configuration["flush.size"] == "500"
    error_message = "The connector sinks every topic of the user, flush.size 500 by default."
  }

  assert {
    condition     = module.msk_connect.connector_configuration["s3.bucket.name"] == "user-demo-bucket"
    error_message = "The connector writes to the lake bucket."
  }

  assert {
    condition     = join(",", module.mwaa[0].dag_object_keys) == "dags/pipeline_dag.py,dags/sub/helpers.py"
    error_message = "Every DAG file under mwaa.dags_dir is uploaded to the DAG bucket."
  }

  assert {
    condition     = strcontains(module.kafka_client.user_data, "client.sasl.mechanism=AWS_MSK_IAM") && strcontains(module.kafka_client.user_data, "--topic \"demo.pin\"")
    error_message = "The REST Proxy uses IAM auth and the client creates the user's topics."
  }

  assert {
    condition     = local.tags == { Project = "pinterest-data-pipeline", Environment = "aws", UserId = "demo", ManagedBy = "terraform" }
    error_message = "Default tags name the project, environment and user."
  }
}

run "databricks_access_and_airflow_secret_names" {
  command = plan

  assert {
    condition = (
      output.databricks_instance_profile_arn == "arn:aws:iam::123456789012:instance-profile/pdp-demo-databricks"
      && output.databricks_role_arn == "arn:aws:iam::123456789012:role/pdp-demo-databricks"
      && output.lake_kms_key_arn == "arn:aws:kms:us-east-1:123456789012:key/lake"
    )
    error_message = "The Databricks instance profile, its role and the lake key are output (make deploy-job reads databricks_instance_profile_arn)."
  }

  # The Databricks role reads this lake, this key and these three streams: the module gets the right inputs.
  assert {
    condition = {
      for s in jsondecode(module.databricks_access.policy_json).Statement : s.Sid => toset(s.Resource)
      } == {
      ListTheLakeBucket          = toset(["arn:aws:s3:::user-demo-bucket"])
      ReadTheLake                = toset(["arn:aws:s3:::user-demo-bucket/topics/*"])
      ReadWriteStreamCheckpoints = toset(["arn:aws:s3:::user-demo-bucket/checkpoints/*"])
      UseTheLakeKey              = toset(["arn:aws:kms:us-east-1:123456789012:key/lake"])
      ReadThePipelineStreams = toset([
        "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-demo-pin",
        "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-demo-geo",
        "arn:aws:kinesis:us-east-1:123456789012:stream/streaming-demo-user",
      ])
    }
    error_message = "The Databricks policy must cover the lake bucket, its key and the three pipeline streams."
  }

  assert {
    condition = output.airflow_secret_names == {
      connections_prefix    = "airflow/pdp-demo/connections"
      variables_prefix      = "airflow/pdp-demo/variables"
      databricks_connection = "airflow/pdp-demo/connections/databricks_default"
    }
    error_message = "airflow_secret_names must name the secrets under this deployment's MWAA prefix."
  }

  assert {
    condition     = jsondecode(module.databricks_access.assume_role_policy_json).Statement[*].Sid == ["Ec2AssumesRoleForTheInstanceProfile"]
    error_message = "By default only the instance profile (EC2) may assume the Databricks role."
  }
}

run "other_user_and_options" {
  command = plan

  variables {
    user_id    = "team-a"
    extra_tags = { Owner = "data" }
    s3_sink = {
      plugin_path = "../../modules/msk_connect/tests/fixtures/confluentinc-kafka-connect-s3-test.zip"
      flush_size  = 2000
    }
    mwaa       = { create = false }
    source_db  = { create = true, project_root = "../../modules/source_db/tests/fixtures/project" }
    databricks = { instance_profile = false, unity_catalog = { external_id = "databricks-account-id" } }
  }

  assert {
    condition     = module.msk.cluster_name == "pdp-team-a-msk" && output.topics["pin"] == "team-a.pin" && output.bucket_name == "user-team-a-bucket"
    error_message = "Every name follows the user_id."
  }

  assert {
    condition     = module.msk_connect.connector_configuration["topics.regex"] == "team-a\\..*" && module.msk_connect.connector_configuration["flush.size"] == "2000"
    error_message = "topics.regex follows the user_id; flush.size follows the variable."
  }

  assert {
    condition     = length(module.mwaa) == 0 && output.mwaa_webserver_url == null && output.airflow_secret_names == null
    error_message = "MWAA can be turned off (and then there are no Airflow secret names)."
  }

  assert {
    condition = (
      output.databricks_instance_profile_arn == null
      && jsondecode(module.databricks_access.assume_role_policy_json).Statement[*].Sid == ["UnityCatalogAssumesRole", "ExplicitSelfRoleAssumption"]
      && jsondecode(module.databricks_access.assume_role_policy_json).Statement[0].Condition.StringEquals["sts:ExternalId"] == "databricks-account-id"
    )
    error_message = "databricks.unity_catalog trusts a Unity Catalog credential; the instance profile can be turned off."
  }

  assert {
    condition     = module.source_db.db_name == "pinterest_data" && module.source_db.loader_command != null && local.tags["Owner"] == "data"
    error_message = "The source database can be turned on; extra tags merge into the defaults."
  }
}

run "rejects_missing_plugin_zip" {
  command = plan

  variables {
    s3_sink = { plugin_path = "./no-such-plugin.zip" }
  }

  expect_failures = [var.s3_sink]
}
