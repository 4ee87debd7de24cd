variable "user_id" {
  description = "Identifier every pipeline name derives from; streams are named `streaming-<user_id>-<dataset>`."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]+$", var.user_id))
    error_message = "user_id may contain only letters, digits, '_', '.' and '-' (it becomes part of a stream name)."
  }
}

variable "datasets" {
  description = "Datasets that get a stream each (docs/data-contracts.md 3.2: pin, geo, user)."
  type        = set(string)
  default     = ["pin", "geo", "user"]
}

variable "stream_mode" {
  description = "Capacity mode of every stream: `ON_DEMAND` (scales itself, billed per stream-hour and GB) or `PROVISIONED` (fixed `shard_count`)."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "Shards per stream when `stream_mode` is `PROVISIONED` (ignored on demand)."
  type        = number
  default     = 1

  validation {
    condition     = var.shard_count >= 1
    error_message = "shard_count must be at least 1."
  }
}

variable "retention_period" {
  description = "Hours a record stays readable (24 to 8760)."
  type        = number
  default     = 24

  validation {
    condition     = var.retention_period >= 24 && var.retention_period <= 8760
    error_message = "retention_period must be between 24 and 8760 hours."
  }
}

variable "kms_key_id" {
  description = "KMS key (ARN, id or alias) for server-side encryption of every stream. Defaults to the AWS managed key `alias/aws/kinesis`."
  type        = string
  default     = "alias/aws/kinesis"
  nullable    = false
}

variable "shard_level_metrics" {
  description = "Enhanced shard-level CloudWatch metrics to enable (for example `IncomingBytes`, `IteratorAgeMilliseconds`); empty means none (they cost extra)."
  type        = list(string)
  default     = []
}

variable "enforce_consumer_deletion" {
  description = "Let `terraform destroy` delete a stream that still has registered (enhanced fan-out) consumers."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every stream."
  type        = map(string)
  default     = {}
}
