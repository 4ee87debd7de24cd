variable "name_prefix" {
  description = "Prefix of every role and policy name (for example the user_id), so several deployments can share an account."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9+=,.@_-]{1,38}$", var.name_prefix))
    error_message = "name_prefix must be 1-38 characters from [a-zA-Z0-9+=,.@_-] (IAM role names are at most 64 characters)."
  }
}

variable "create_api_gateway_kinesis_role" {
  description = "Create the role API Gateway assumes to call Kinesis for the `/streams/...` routes."
  type        = bool
  default     = true
}

variable "kinesis_stream_arns" {
  description = "ARNs of the streams the API may write to, describe, create and delete (the kinesis module's `stream_arns` values)."
  type        = list(string)
  default     = []
}

variable "kinesis_kms_key_arns" {
  description = "ARNs of customer managed KMS keys that encrypt the streams (the API role may generate data keys with them). Empty for the AWS managed key `alias/aws/kinesis`, which needs no grant."
  type        = list(string)
  default     = []
}

variable "create_api_gateway_cloudwatch_role" {
  description = "Create the role API Gateway uses to write execution and access logs to CloudWatch (an account-wide setting: set it once per account and region)."
  type        = bool
  default     = false
}

variable "roles" {
  description = <<-EOT
    Further service roles, keyed by a short name (the role is named `<name_prefix>-<key>`). Each is assumed by
    `trusted_services` (optionally only from `source_account`), carries one inline policy made of `statements`
    and any `managed_policy_arns`; `create_instance_profile` adds an EC2 instance profile. Modules that own their roles (msk_connect, kafka_client, mwaa) may create
    them themselves instead.
  EOT
  type = map(object({
    description      = optional(string, "")
    trusted_services = list(string)
    source_account   = optional(string)
    statements = optional(list(object({
      sid       = optional(string)
      effect    = optional(string, "Allow")
      actions   = list(string)
      resources = list(string)
      conditions = optional(list(object({
        test     = string
        variable = string
        values   = list(string)
      })), [])
    })), [])
    managed_policy_arns     = optional(list(string), [])
    create_instance_profile = optional(bool, false)
  }))
  default = {}
}

variable "permissions_boundary" {
  description = "ARN of a permissions boundary policy attached to every role (null for none)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every role."
  type        = map(string)
  default     = {}
}
