output "invoke_url" {
  description = "Base URL of the API stage on LocalStack (`<localstack_endpoint>/_aws/execute-api/<api id>/<stage>`); append `/topics/<topic>` or `/streams/<stream>/record`."
  value       = "${local.endpoint}/_aws/execute-api/${module.api_gateway.rest_api_id}/${module.api_gateway.stage_name}"
}

output "api_id" {
  description = "ID of the REST API."
  value       = module.api_gateway.rest_api_id
}

output "stage_name" {
  description = "Name of the API stage."
  value       = module.api_gateway.stage_name
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

output "region" {
  description = "AWS region of the environment."
  value       = var.region
}
