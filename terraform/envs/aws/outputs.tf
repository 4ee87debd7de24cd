# What the emulator, the notebooks and the operator need. `make apply` writes `terraform output -json` to
# .local/outputs/aws.json; the names invoke_url, api_key, bucket_name, stream_names, topics and region are the
# same as terraform/envs/local's, so the emulator reads either file the same way.

output "invoke_url" {
  description = "Base URL of the API stage; append `/topics/<topic>` (batch path) or `/streams/<stream>/record` (stream path)."
  value       = module.api_gateway.invoke_url
}

output "api_key" {
  description = "Value of the API key (send it as the `x-api-key` header)."
  value       = module.api_gateway.api_key_value
  sensitive   = true
}

output "bucket_name" {
  description = "Name of the lake bucket."
  value       = module.storage.bucket_name
}

output "stream_names" {
  description = "Kinesis stream name per dataset (pin, geo, user)."
  value       = module.kinesis.stream_names
}

output "topics" {
  description = "Kafka topic per dataset (pin, geo, user): `<user_id>.<dataset>`."
  value       = local.topics
}

output "user_id" {
  description = "The user_id every data name derives from (the emulator reads it)."
  value       = var.user_id
}

output "region" {
  description = "AWS region of the environment."
  value       = var.region
}

output "msk_bootstrap_brokers" {
  description = "MSK bootstrap brokers for IAM authentication (port 9098), reachable inside the VPC."
  value       = module.msk.bootstrap_brokers_sasl_iam
}

output "msk_cluster_arn" {
  description = "ARN of the MSK cluster."
  value       = module.msk.arn
}

output "kafka_client_instance_id" {
  description = "EC2 Kafka client (REST Proxy); open a shell with `aws ssm start-session --target <id>`."
  value       = module.kafka_client.instance_id
}

output "rest_proxy_url" {
  description = "REST Proxy URL inside the VPC (internal NLB)."
  value       = module.kafka_client.rest_proxy_url
}

output "rest_proxy_target_group_arn" {
  description = "NLB target group that health-checks the REST Proxy (`aws elbv2 describe-target-health --target-group-arn ...`)."
  value       = module.kafka_client.target_group_arn
}

output "s3_sink_connector_name" {
  description = "Name of the MSK Connect S3 sink connector."
  value       = module.msk_connect.connector_name
}

output "mwaa_webserver_url" {
  description = "Airflow UI host of the MWAA environment (null when MWAA is off)."
  value       = try(module.mwaa[0].webserver_url, null)
}

output "mwaa_secrets_prefix" {
  description = "Secrets Manager prefix of this deployment's Airflow secrets, `airflow/<prefix>-<user_id>` (null when MWAA is off); the exact names are in `airflow_secret_names`."
  value       = try(module.mwaa[0].secrets_prefix, null)
}

output "airflow_secret_names" {
  description = "The Secrets Manager names MWAA reads (and may read: nothing else): `connections_prefix` (connection `<id>` is the secret `<connections_prefix>/<id>`), `variables_prefix`, and `databricks_connection`, the full name of the secret to create for the DAG's `databricks_default` connection. Null when MWAA is off."
  value = try({
    connections_prefix    = module.mwaa[0].connections_prefix
    variables_prefix      = module.mwaa[0].variables_prefix
    databricks_connection = "${module.mwaa[0].connections_prefix}/databricks_default"
  }, null)
}

output "mwaa_dag_bucket" {
  description = "DAG bucket of the MWAA environment (null when MWAA is off)."
  value       = try(module.mwaa[0].dag_bucket_name, null)
}

output "source_db_secret_arn" {
  description = "Secrets Manager secret with the source database's master credentials (null when source_db is off)."
  value       = module.source_db.master_user_secret_arn
}

output "source_db_loader_command" {
  description = "The command that seeds the source database with the synthetic generator (null when source_db is off)."
  value       = module.source_db.loader_command
}

output "databricks_instance_profile_arn" {
  description = "Instance profile for Databricks clusters (register it in the workspace, then set it as the job cluster's `aws_attributes.instance_profile_arn`): reads the lake and the streams, writes stream checkpoints. Null with `databricks.instance_profile = false`."
  value       = module.databricks_access.instance_profile_arn
}

output "databricks_role_arn" {
  description = "IAM role behind the instance profile (the Databricks cross-account role needs iam:PassRole on it; a Unity Catalog service or storage credential names it)."
  value       = module.databricks_access.role_arn
}

output "lake_kms_key_arn" {
  description = "KMS key that encrypts the lake bucket (SSE-KMS); the Databricks role may Decrypt and GenerateDataKey with it."
  value       = module.storage.kms_key_arn
}
