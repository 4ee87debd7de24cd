variable "user_id" {
  description = "Identifier every pipeline name derives from; the bucket is `user-<user_id>-bucket` unless `bucket_name` is set."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*[a-z0-9]$", var.user_id))
    error_message = "user_id must be lower-case letters, digits, '.' or '-' (it becomes part of an S3 bucket name)."
  }
}

variable "bucket_name" {
  description = "Name of the lake bucket. Null means `user-<user_id>-bucket`."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete the bucket with every object (and version) still in it."
  type        = bool
  default     = false
}

variable "versioning_enabled" {
  description = "Keep object versions (protects the lake against overwrites and deletes)."
  type        = bool
  default     = true
}

variable "sse_algorithm" {
  description = "Default encryption of the bucket: `aws:kms` (SSE-KMS) or `AES256` (SSE-S3)."
  type        = string
  default     = "aws:kms"

  validation {
    condition     = contains(["aws:kms", "AES256"], var.sse_algorithm)
    error_message = "sse_algorithm must be \"aws:kms\" or \"AES256\"."
  }
}

variable "create_kms_key" {
  description = "With `aws:kms`, create a customer managed key for the bucket (rotation on). False uses `kms_key_arn`."
  type        = bool
  default     = true
}

variable "kms_key_arn" {
  description = "Existing KMS key for SSE-KMS when `create_kms_key` is false (null means the AWS managed key `aws/s3`)."
  type        = string
  default     = null
}

variable "kms_key_deletion_window_in_days" {
  description = "Waiting period before the created KMS key is deleted after a destroy (7-30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.kms_key_deletion_window_in_days >= 7 && var.kms_key_deletion_window_in_days <= 30
    error_message = "kms_key_deletion_window_in_days must be between 7 and 30."
  }
}

variable "bucket_key_enabled" {
  description = "Use S3 Bucket Keys with SSE-KMS (fewer KMS requests, lower cost)."
  type        = bool
  default     = true
}

variable "lifecycle_rules" {
  description = "Lifecycle housekeeping: days after which incomplete multipart uploads are aborted, and after which non-current object versions expire (null keeps them). Null for the whole input creates no lifecycle configuration (envs/local: LocalStack omits the transition-size header the provider waits for, which costs about 55 s per apply)."
  type = object({
    abort_incomplete_multipart_upload_days = optional(number, 7)
    noncurrent_version_expiration_days     = optional(number, 90)
  })
  default = {}
}

variable "access_logging" {
  description = "Server access logging to another bucket (null disables it). The target bucket must accept logs from the S3 logging service."
  type = object({
    target_bucket = string
    target_prefix = optional(string, "s3-access-logs/")
  })
  default = null
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
