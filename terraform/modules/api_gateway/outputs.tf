output "rest_api_id" {
  description = "ID of the REST API."
  value       = try(aws_api_gateway_rest_api.this.id, null)
}

output "rest_api_arn" {
  description = "ARN of the REST API."
  value       = try(aws_api_gateway_rest_api.this.arn, null)
}

output "execution_arn" {
  description = "Execution ARN of the REST API (for permissions of other services to invoke it)."
  value       = try(aws_api_gateway_rest_api.this.execution_arn, null)
}

output "stage_name" {
  description = "Name of the stage."
  value       = try(aws_api_gateway_stage.this.stage_name, null)
}

output "stage_arn" {
  description = "ARN of the stage."
  value       = try(aws_api_gateway_stage.this.arn, null)
}

output "invoke_url" {
  description = "AWS invoke URL of the stage (`https://<api id>.execute-api.<region>.amazonaws.com/<stage>`). On LocalStack build it from the endpoint (see envs/local)."
  value       = try(aws_api_gateway_stage.this.invoke_url, null)
}

output "deployment_id" {
  description = "ID of the current deployment."
  value       = try(aws_api_gateway_deployment.this.id, null)
}

output "api_key_id" {
  description = "ID of the API key."
  value       = try(aws_api_gateway_api_key.this.id, null)
}

output "api_key_value" {
  description = "Value of the API key (send it as the `x-api-key` header)."
  value       = try(aws_api_gateway_api_key.this.value, null)
  sensitive   = true
}

output "usage_plan_id" {
  description = "ID of the usage plan."
  value       = try(aws_api_gateway_usage_plan.this.id, null)
}

output "access_log_group_name" {
  description = "CloudWatch log group of the stage access logs (null when disabled)."
  value       = try(aws_cloudwatch_log_group.access[0].name, null)
}

output "openapi_body" {
  description = "The rendered OpenAPI 3 document the API is built from (JSON)."
  value       = local.body
}
