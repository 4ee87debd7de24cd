variable "name" {
  description = "Name of the IAM role and of its instance profile (the same name, so registering the instance profile in Databricks needs no separate role ARN)."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9+=,.@_-]{1,64}$", var.name))
    error_message = "name must be 1-64 characters from [a-zA-Z0-9+=,.@_-] (an IAM role name)."
  }
}

variable "bucket_arn" {
  description = "ARN of the lake bucket (the storage module's `bucket_arn`)."
  type        = string

  validation {
    condition     = can(regex("^arn:[a-z-]+:s3:::[a-z0-9][a-z0-9.-]+$", var.bucket_arn))
    error_message = "bucket_arn must be an S3 bucket ARN (arn:<partition>:s3:::<bucket>), without a key."
  }
}

variable "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the lake (the storage module's `kms_key_arn`): the role may Decrypt and GenerateDataKey with it. Null for SSE-S3 or the AWS managed `aws/s3` key."
  type        = string
  default     = null
}

variable "read_prefixes" {
  description = "Key prefixes of the lake the role may read (s3:GetObject): the S3 sink's `topics/` (docs/data-contracts.md 3.4)."
  type        = list(string)
  default     = ["topics/"]

  validation {
    condition     = alltrue([for p in var.read_prefixes : can(regex("^[^/*][^*]*/$", p))])
    error_message = "read_prefixes must be key prefixes ending in '/', without a leading '/' or '*'."
  }
}

variable "write_prefixes" {
  description = "Key prefixes of the lake the role may read, write and delete: the stream notebook's `checkpoints/` (one checkpoint per table under `checkpoints/stream/<dataset>`)."
  type        = list(string)
  default     = ["checkpoints/"]

  validation {
    condition     = alltrue([for p in var.write_prefixes : can(regex("^[^/*][^*]*/$", p))])
    error_message = "write_prefixes must be key prefixes ending in '/', without a leading '/' or '*'."
  }
}

variable "kinesis_stream_arns" {
  description = "ARNs of the Kinesis streams the role may read (the kinesis module's `stream_arns` values)."
  type        = list(string)

  validation {
    condition     = length(var.kinesis_stream_arns) > 0 && alltrue([for arn in var.kinesis_stream_arns : can(regex("^arn:[a-z-]+:kinesis:[a-z0-9-]+:[0-9]{12}:stream/[a-zA-Z0-9_.-]+$", arn))])
    error_message = "kinesis_stream_arns must list at least one Kinesis stream ARN (arn:<partition>:kinesis:<region>:<account>:stream/<name>)."
  }
}

variable "kinesis_kms_key_arns" {
  description = "ARNs of customer managed KMS keys that encrypt the streams (the role may Decrypt with them). Empty for the AWS managed key `alias/aws/kinesis`, which needs no grant."
  type        = list(string)
  default     = []
}

variable "create_instance_profile" {
  description = "Create an EC2 instance profile for the role (and let EC2 assume it): Databricks clusters launched with the instance profile read Kinesis and the lake with the role."
  type        = bool
  default     = true
}

variable "unity_catalog" {
  description = <<-EOT
    Also let a Unity Catalog service credential (Kinesis) or storage credential (the lake) use the role: the
    Databricks UC master role may assume it with `external_id` (shown by Databricks when you create the
    credential; your Databricks account id when an account admin creates it), and the role may assume itself.
    `master_role_arn` is Databricks' UC master role for the commercial AWS partition (GovCloud uses another).
    Null (the default) adds no such trust.
  EOT
  type = object({
    external_id     = string
    master_role_arn = optional(string, "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL")
  })
  default = null

  validation {
    condition     = var.unity_catalog == null || try(length(var.unity_catalog.external_id) > 0 && can(regex("^arn:[a-z-]+:iam::[0-9]{12}:role/.+$", var.unity_catalog.master_role_arn)), false)
    error_message = "unity_catalog needs a non-empty external_id and master_role_arn must be an IAM role ARN."
  }
}

variable "max_session_duration" {
  description = "Maximum session duration of the role in seconds (3600 to 43200)."
  type        = number
  default     = 3600

  validation {
    condition     = var.max_session_duration >= 3600 && var.max_session_duration <= 43200
    error_message = "max_session_duration must be between 3600 and 43200 seconds."
  }
}

variable "permissions_boundary" {
  description = "ARN of a permissions boundary policy for the role (null for none)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to the role and the instance profile."
  type        = map(string)
  default     = {}
}
