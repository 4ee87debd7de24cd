variable "name" {
  description = "Name of the connector (and prefix of its plugin, worker configuration, role and log group)."
  type        = string
}

variable "user_id" {
  description = "Pipeline user id: the connector sinks every topic matching `<user_id>.` (topics.regex)."
  type        = string
}

variable "bucket" {
  description = "The lake bucket the connector writes to (name, ARN, and the KMS key of its default encryption, null for SSE-S3)."
  type = object({
    name        = string
    arn         = string
    kms_key_arn = optional(string)
  })
}

variable "plugin" {
  description = <<-EOT
    The Confluent S3 sink connector plugin. `local_path` is the zip downloaded from Confluent Hub
    (https://www.confluent.io/hub/confluentinc/kafka-connect-s3 -> Download, `confluentinc-kafka-connect-s3-<version>.zip`);
    Terraform uploads it to `s3://<bucket>/<key_prefix><file name>` and registers it as an MSK Connect custom plugin.
  EOT
  type = object({
    version    = optional(string, "10.6.7")
    local_path = string
    bucket     = optional(string)
    key_prefix = optional(string, "artifacts/msk-connect/")
  })
}

variable "msk" {
  description = "The MSK cluster: ARN, topic and group ARN prefixes (`<prefix>/<name>`) and IAM bootstrap brokers."
  type = object({
    cluster_arn                = string
    topic_arn_prefix           = string
    group_arn_prefix           = string
    bootstrap_brokers_sasl_iam = string
  })
}

variable "subnet_ids" {
  description = "Private subnets of the connector's workers (no internet: S3 gateway and STS interface endpoints serve them)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the workers (must reach the brokers on 9098)."
  type        = list(string)
}

variable "kafkaconnect_version" {
  description = "Kafka Connect version of the MSK Connect runtime."
  type        = string
  default     = "2.7.1"
}

variable "capacity" {
  description = "Provisioned capacity: MSK Connect units per worker (1, 2, 4 or 8) and number of workers."
  type = object({
    mcu_count    = optional(number, 1)
    worker_count = optional(number, 1)
  })
  default = {}
}

variable "flush_size" {
  description = "Records per S3 object (`flush.size`)."
  type        = number
  default     = 500

  validation {
    condition     = var.flush_size >= 1
    error_message = "flush_size must be at least 1."
  }
}

variable "rotate_schedule_interval_ms" {
  description = "Wall-clock interval after which open files are committed even below `flush.size` (`rotate.schedule.interval.ms`, -1 disables)."
  type        = number
  default     = 60000
}

variable "tasks_max" {
  description = "Maximum number of connector tasks (`tasks.max`)."
  type        = number
  default     = 1
}

variable "extra_connector_configuration" {
  description = "More connector settings merged over the module's (docs/data-contracts.md 3.4) settings."
  type        = map(string)
  default     = {}
}

variable "log_retention_in_days" {
  description = "Retention of the connector's CloudWatch log group."
  type        = number
  default     = 365
}

variable "log_kms_key_arn" {
  description = "KMS key encrypting the log group (null: CloudWatch's own encryption)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
