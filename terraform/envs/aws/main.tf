# The AWS environment: every module of the platform composed into one deployment. All names derive from
# `user_id` (data names: topics, streams, bucket; docs/data-contracts.md 3.2) and `<prefix>-<user_id>`
# (infrastructure names).
#
#   network ── msk ── kafka_client (REST Proxy, NLB, VPC link) ── api_gateway ── iam ── kinesis
#                 └── msk_connect (S3 sink) ── storage (lake bucket)
#   databricks_access (role + instance profile: lake, checkpoints, lake key, streams)
#   mwaa (DAG bucket, Airflow)      source_db (optional RDS MySQL + loader)

locals {
  datasets = ["pin", "geo", "user"]
  topics   = { for d in local.datasets : d => "${var.user_id}.${d}" }

  # Infrastructure names allow only letters, digits and '-' (NLB, MWAA, MSK): dots in user_id become '-'.
  name = "${var.prefix}-${replace(var.user_id, ".", "-")}"

  tags = merge({
    Project     = "pinterest-data-pipeline"
    Environment = "aws"
    UserId      = var.user_id
    ManagedBy   = "terraform"
  }, var.extra_tags)
}

module "network" {
  source = "../../modules/network"

  name               = local.name
  cidr_block         = var.network.cidr_block
  az_count           = var.network.az_count
  availability_zones = var.network.availability_zones
  enable_nat_gateway = var.network.enable_nat_gateway
  flow_logs          = var.network.flow_logs ? {} : null
}

module "storage" {
  source = "../../modules/storage"

  user_id       = var.user_id
  force_destroy = var.force_destroy
}

module "kinesis" {
  source = "../../modules/kinesis"

  user_id     = var.user_id
  datasets    = local.datasets
  stream_mode = var.kinesis_stream_mode
}

module "msk" {
  source = "../../modules/msk"

  name                 = "${local.name}-msk"
  kafka_version        = var.msk.kafka_version
  broker_instance_type = var.msk.broker_instance_type
  broker_volume_size   = var.msk.broker_volume_size
  subnet_ids           = module.network.private_subnet_ids
  security_group_ids   = [module.network.security_group_ids["msk"]]
}

module "kafka_client" {
  source = "../../modules/kafka_client"

  name               = "${local.name}-kafka-client"
  subnet_id          = module.network.private_subnet_ids[0]
  security_group_ids = [module.network.security_group_ids["client"]]
  instance_type      = var.kafka_client.instance_type

  msk = {
    cluster_arn                = module.msk.arn
    topic_arn_prefix           = module.msk.topic_arn_prefix
    group_arn_prefix           = module.msk.group_arn_prefix
    bootstrap_brokers_sasl_iam = module.msk.bootstrap_brokers_sasl_iam
  }
  topics                   = local.topics
  topic_replication_factor = min(2, var.network.az_count)

  software = {
    kafka_version        = var.kafka_client.kafka_version
    msk_iam_auth_version = var.kafka_client.msk_iam_auth_version
    confluent_version    = var.kafka_client.confluent_version
  }

  # Private client: API Gateway reaches the REST Proxy through a VPC link to an internal NLB.
  load_balancer = {
    subnet_ids = module.network.private_subnet_ids
  }
}

module "msk_connect" {
  source = "../../modules/msk_connect"

  name    = "${local.name}-s3-sink"
  user_id = var.user_id

  bucket = {
    name        = module.storage.bucket_name
    arn         = module.storage.bucket_arn
    kms_key_arn = module.storage.kms_key_arn
  }
  plugin = {
    version    = var.s3_sink.plugin_version
    local_path = var.s3_sink.plugin_path
  }
  msk = {
    cluster_arn                = module.msk.arn
    topic_arn_prefix           = module.msk.topic_arn_prefix
    group_arn_prefix           = module.msk.group_arn_prefix
    bootstrap_brokers_sasl_iam = module.msk.bootstrap_brokers_sasl_iam
  }
  subnet_ids                  = module.network.private_subnet_ids
  security_group_ids          = [module.network.security_group_ids["connect"]]
  flush_size                  = var.s3_sink.flush_size
  rotate_schedule_interval_ms = var.s3_sink.rotate_schedule_interval_ms
  capacity = {
    mcu_count    = var.s3_sink.mcu_count
    worker_count = var.s3_sink.worker_count
  }
}

module "iam" {
  source = "../../modules/iam"

  name_prefix                        = substr(local.name, 0, 38)
  kinesis_stream_arns                = values(module.kinesis.stream_arns)
  create_api_gateway_cloudwatch_role = var.api.manage_account_cloudwatch_role
}

module "databricks_access" {
  source = "../../modules/databricks_access"

  name                    = "${substr(local.name, 0, 53)}-databricks"
  bucket_arn              = module.storage.bucket_arn
  kms_key_arn             = module.storage.kms_key_arn
  kinesis_stream_arns     = values(module.kinesis.stream_arns)
  create_instance_profile = var.databricks.instance_profile
  unity_catalog           = var.databricks.unity_catalog
}

module "api_gateway" {
  source = "../../modules/api_gateway"

  name                           = "${local.name}-pinterest-api"
  rest_proxy_url                 = "http://${module.kafka_client.nlb_dns_name}:8082"
  vpc_link_id                    = module.kafka_client.vpc_link_id
  kinesis_role_arn               = module.iam.api_gateway_kinesis_role_arn
  stage_name                     = var.api.stage_name
  manage_account_cloudwatch_role = var.api.manage_account_cloudwatch_role
  cloudwatch_role_arn            = module.iam.api_gateway_cloudwatch_role_arn
  usage_plan                     = { quota_limit = var.api.quota_per_day, quota_period = "DAY" }
  api_key_required               = var.api.key_required
}

module "mwaa" {
  source = "../../modules/mwaa"
  count  = var.mwaa.create ? 1 : 0

  name                  = "${local.name}-airflow"
  airflow_version       = var.mwaa.airflow_version
  environment_class     = var.mwaa.environment_class
  max_workers           = var.mwaa.max_workers
  webserver_access_mode = var.mwaa_public_webserver ? "PUBLIC_ONLY" : "PRIVATE_ONLY"
  dags_dir              = var.mwaa.dags_dir
  requirements_path     = var.mwaa.requirements_path
  force_destroy         = var.force_destroy
  subnet_ids            = slice(module.network.private_subnet_ids, 0, 2)
  security_group_ids    = [module.network.security_group_ids["mwaa"]]

  # Connections and Variables live in Secrets Manager under this deployment's own prefix.
  secrets_prefix = "airflow/${local.name}"
  # The DAG triggers the job <user_id>-pinterest-batch by name; the bucket is the bundle's (databricks.yml).
  airflow_variables = {
    pinterest_user_id = var.user_id
  }
}

module "source_db" {
  source = "../../modules/source_db"

  create             = var.source_db.create
  name               = "${local.name}-source-db"
  instance_class     = var.source_db.instance_class
  engine_version     = var.source_db.engine_version
  subnet_ids         = module.network.private_subnet_ids
  security_group_ids = [module.network.security_group_ids["db"]]

  # The loader runs on the Kafka client (inside the VPC, reachable by SSM) and reads the project's
  # `emulation` package from the lake bucket's artifacts/ prefix.
  loader = {
    instance_id           = module.kafka_client.instance_id
    instance_role_name    = module.kafka_client.role_name
    artifacts_bucket      = module.storage.bucket_name
    artifacts_bucket_arn  = module.storage.bucket_arn
    artifacts_kms_key_arn = module.storage.kms_key_arn
    project_root          = var.source_db.project_root
    rows                  = var.source_db.rows
  }
}
