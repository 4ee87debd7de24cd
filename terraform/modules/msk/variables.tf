variable "name" {
  description = "Name of the MSK cluster (and prefix of its configuration, key and log group)."
  type        = string
}

variable "kafka_version" {
  description = "Apache Kafka version of the cluster (an MSK-supported version string such as `3.8.x` or `3.6.0`)."
  type        = string
  default     = "3.8.x"
}

variable "number_of_broker_nodes" {
  description = "Number of brokers; a multiple of the number of subnets. Null means one broker per subnet."
  type        = number
  default     = null
}

variable "broker_instance_type" {
  description = "Broker instance type (`kafka.t3.small` is the cheapest that supports IAM authentication)."
  type        = string
  default     = "kafka.t3.small"
}

variable "broker_volume_size" {
  description = "EBS storage per broker, in GiB."
  type        = number
  default     = 20
}

variable "subnet_ids" {
  description = "Private subnets of the brokers, one per availability zone (2 or 3)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "MSK needs subnets in at least two availability zones."
  }
}

variable "security_group_ids" {
  description = "Security groups of the brokers (must allow 9098 from the clients)."
  type        = list(string)
}

variable "server_properties" {
  description = "Broker settings of the MSK configuration, merged over the module's defaults (auto topic creation, replication, partitions)."
  type        = map(string)
  default     = {}
}

variable "encryption_at_rest" {
  description = "Encryption at rest: the module creates a customer managed KMS key (rotation on) unless `create_kms_key` is false, in which case `kms_key_arn` is used (null means the AWS managed key)."
  type = object({
    create_kms_key          = optional(bool, true)
    kms_key_arn             = optional(string)
    kms_key_deletion_window = optional(number, 30)
  })
  default = {}
}

variable "broker_logs" {
  description = "Broker logs to CloudWatch Logs: retention and optional KMS key of the log group."
  type = object({
    retention_in_days = optional(number, 365)
    kms_key_arn       = optional(string)
  })
  default = {}
}

variable "enhanced_monitoring" {
  description = "MSK enhanced monitoring level (DEFAULT, PER_BROKER, PER_TOPIC_PER_BROKER, PER_TOPIC_PER_PARTITION)."
  type        = string
  default     = "DEFAULT"
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
