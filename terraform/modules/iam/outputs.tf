output "api_gateway_kinesis_role_arn" {
  description = "ARN of the role API Gateway assumes for the Kinesis integrations (null when not created)."
  value       = try(aws_iam_role.api_gateway_kinesis[0].arn, null)
}

output "api_gateway_kinesis_role_name" {
  description = "Name of the API Gateway -> Kinesis role (null when not created)."
  value       = try(aws_iam_role.api_gateway_kinesis[0].name, null)
}

output "api_gateway_kinesis_policy_json" {
  description = "The inline policy of the API Gateway -> Kinesis role (JSON; null when not created)."
  value       = try(data.aws_iam_policy_document.api_gateway_kinesis[0].json, null)
}

output "api_gateway_cloudwatch_role_arn" {
  description = "ARN of the API Gateway -> CloudWatch Logs role (null when not created)."
  value       = try(aws_iam_role.api_gateway_cloudwatch[0].arn, null)
}

output "role_arns" {
  description = "ARN per key of `roles`."
  value       = { for name, role in aws_iam_role.this : name => try(role.arn, null) }
}

output "role_names" {
  description = "Role name per key of `roles`."
  value       = { for name, role in aws_iam_role.this : name => try(role.name, null) }
}

output "instance_profile_names" {
  description = "Instance profile name per key of `roles` that asked for one."
  value       = { for name, profile in aws_iam_instance_profile.this : name => try(profile.name, null) }
}
