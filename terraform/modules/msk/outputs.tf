output "arn" {
  description = "ARN of the MSK cluster."
  value       = aws_msk_cluster.this.arn
}

output "cluster_name" {
  description = "Name of the MSK cluster."
  value       = aws_msk_cluster.this.cluster_name
}

output "cluster_uuid" {
  description = "UUID of the cluster (part of its topic and group ARNs)."
  value       = try(aws_msk_cluster.this.cluster_uuid, null)
}

output "topic_arn_prefix" {
  description = "Prefix of the cluster's topic ARNs: append a topic name or pattern (`<prefix>/<topic>`)."
  value       = "arn:${data.aws_partition.current.partition}:kafka:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:topic/${aws_msk_cluster.this.cluster_name}/${try(aws_msk_cluster.this.cluster_uuid, "*")}"
}

output "group_arn_prefix" {
  description = "Prefix of the cluster's consumer group ARNs: append a group name or pattern (`<prefix>/<group>`)."
  value       = "arn:${data.aws_partition.current.partition}:kafka:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:group/${aws_msk_cluster.this.cluster_name}/${try(aws_msk_cluster.this.cluster_uuid, "*")}"
}

output "bootstrap_brokers_sasl_iam" {
  description = "Comma-separated `host:9098` list for clients using IAM authentication over TLS."
  value       = try(aws_msk_cluster.this.bootstrap_brokers_sasl_iam, null)
}

output "zookeeper_connect_string" {
  description = "ZooKeeper connection string (empty for KRaft clusters)."
  value       = try(aws_msk_cluster.this.zookeeper_connect_string, null)
}

output "configuration_arn" {
  description = "ARN of the MSK configuration."
  value       = aws_msk_configuration.this.arn
}

output "kms_key_arn" {
  description = "KMS key encrypting the brokers' storage (null means the AWS managed key)."
  value       = local.kms_key_arn
}

output "broker_log_group_name" {
  description = "CloudWatch log group of the broker logs."
  value       = aws_cloudwatch_log_group.broker.name
}
