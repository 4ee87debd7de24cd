output "connector_arn" {
  description = "ARN of the MSK Connect connector."
  value       = aws_mskconnect_connector.this.arn
}

output "connector_name" {
  description = "Name of the connector."
  value       = aws_mskconnect_connector.this.name
}

output "connector_configuration" {
  description = "The connector's settings (docs/data-contracts.md 3.4)."
  value       = local.connector_configuration
}

output "custom_plugin_arn" {
  description = "ARN of the Confluent S3 sink custom plugin."
  value       = aws_mskconnect_custom_plugin.this.arn
}

output "plugin_s3_uri" {
  description = "Where the plugin zip was uploaded."
  value       = "s3://${local.plugin_bucket}/${local.plugin_key}"
}

output "worker_configuration_arn" {
  description = "ARN of the worker configuration."
  value       = aws_mskconnect_worker_configuration.this.arn
}

output "service_execution_role_arn" {
  description = "ARN of the connector's service execution role."
  value       = aws_iam_role.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the workers."
  value       = aws_cloudwatch_log_group.this.name
}
