output "role_arn" {
  description = "ARN of the Databricks role (for a Unity Catalog credential, or the `iam_role_arn` of the instance profile registration)."
  value       = try(aws_iam_role.this.arn, null)
}

output "role_name" {
  description = "Name of the Databricks role."
  value       = try(aws_iam_role.this.name, null)
}

output "instance_profile_arn" {
  description = "ARN of the instance profile to register in Databricks and set in a cluster's `aws_attributes.instance_profile_arn` (null when not created)."
  value       = try(aws_iam_instance_profile.this[0].arn, null)
}

output "instance_profile_name" {
  description = "Name of the instance profile (null when not created)."
  value       = try(aws_iam_instance_profile.this[0].name, null)
}

output "policy_json" {
  description = "The role's inline permissions policy (JSON), known at plan time."
  value       = jsonencode(local.policy)
}

output "assume_role_policy_json" {
  description = "The role's trust policy (JSON), known at plan time."
  value       = jsonencode(local.assume_role_policy)
}
