output "environment_name" {
  description = "Name of the MWAA environment."
  value       = aws_mwaa_environment.this.name
}

output "environment_arn" {
  description = "ARN of the MWAA environment."
  value       = aws_mwaa_environment.this.arn
}

output "webserver_url" {
  description = "Airflow UI host name (open `https://<url>`; PRIVATE_ONLY needs a route into the VPC)."
  value       = try(aws_mwaa_environment.this.webserver_url, null)
}

output "dag_bucket_name" {
  description = "Name of the DAG bucket."
  value       = module.dag_bucket.bucket_name
}

output "dag_bucket_arn" {
  description = "ARN of the DAG bucket."
  value       = module.dag_bucket.bucket_arn
}

output "dag_object_keys" {
  description = "Keys of the uploaded DAG files."
  value       = sort([for o in aws_s3_object.dags : o.key])
}

output "execution_role_arn" {
  description = "ARN of the execution role."
  value       = aws_iam_role.execution.arn
}

output "secrets_prefix" {
  description = "Secrets Manager prefix of the environment's Airflow secrets (`<prefix>/connections/<conn_id>`, `<prefix>/variables/<key>`)."
  value       = var.secrets_prefix
}

output "connections_prefix" {
  description = "Secrets Manager prefix Airflow reads connections from: the connection `<conn_id>` is the secret `<connections_prefix>/<conn_id>` (as configured in `secrets.backend_kwargs`)."
  value       = local.connections_prefix
}

output "variables_prefix" {
  description = "Secrets Manager prefix Airflow reads Variables from: the Variable `<key>` is the secret `<variables_prefix>/<key>`."
  value       = local.variables_prefix
}

output "airflow_variable_secret_names" {
  description = "Secrets Manager names of the Airflow Variables the module stored, keyed by variable."
  value       = { for k, s in aws_secretsmanager_secret.variables : k => s.name }
}
