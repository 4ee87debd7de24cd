variable "name" {
  description = "Name prefix of the instance, its role, profile and optional load balancer."
  type        = string
}

variable "subnet_id" {
  description = "Subnet of the instance: a private subnet (default; reach it with SSM Session Manager) or a public one."
  type        = string
}

variable "associate_public_ip_address" {
  description = "Give the instance a public IP (only when `subnet_id` is a public subnet)."
  type        = bool
  default     = false
}

variable "security_group_ids" {
  description = "Security groups of the instance (must reach the brokers on 9098 and accept 8082 from the load balancer or API)."
  type        = list(string)
}

variable "instance_type" {
  description = "EC2 instance type (the REST Proxy's JVM wants about 1 GiB)."
  type        = string
  default     = "t3.small"
}

variable "ami_id" {
  description = "AMI of the instance. Null means the latest Amazon Linux 2023 (x86_64) from the public SSM parameter."
  type        = string
  default     = null
}

variable "root_volume" {
  description = "Root volume: size in GiB, type, and the KMS key that encrypts it (null means the AWS managed EBS key)."
  type = object({
    size        = optional(number, 20)
    type        = optional(string, "gp3")
    kms_key_arn = optional(string)
  })
  default = {}
}

variable "msk" {
  description = "The MSK cluster the client talks to: its ARN, topic and group ARN prefixes (`<prefix>/<name>`), and the IAM bootstrap brokers."
  type = object({
    cluster_arn                = string
    topic_arn_prefix           = string
    group_arn_prefix           = string
    bootstrap_brokers_sasl_iam = string
  })
}

variable "topics" {
  description = "Topics to create (idempotently) at boot, keyed by dataset (pin, geo, user)."
  type        = map(string)
}

variable "topic_partitions" {
  description = "Partitions of each created topic."
  type        = number
  default     = 1
}

variable "topic_replication_factor" {
  description = "Replication factor of each created topic (at most the number of brokers)."
  type        = number
  default     = 2
}

variable "topic_name_patterns" {
  description = "Topic name patterns the instance role may use (IAM wildcards). Empty means exactly `topics`."
  type        = list(string)
  default     = []
}

variable "group_name_patterns" {
  description = "Consumer group name patterns the instance role may use (IAM wildcards), for checking topics with the console consumer."
  type        = list(string)
  default     = ["console-consumer-*"]
}

variable "software" {
  description = "Versions and download URLs of what the user data installs (Java from the distribution, the Apache Kafka client, the MSK IAM auth library, Confluent's community package with the REST Proxy)."
  type = object({
    java_package          = optional(string, "java-17-amazon-corretto-headless")
    kafka_version         = optional(string, "3.8.1")
    kafka_scala_version   = optional(string, "2.13")
    msk_iam_auth_version  = optional(string, "2.3.2")
    confluent_version     = optional(string, "7.7.1")
    kafka_download_base   = optional(string, "https://archive.apache.org/dist/kafka")
    msk_iam_download_base = optional(string, "https://github.com/aws/aws-msk-iam-auth/releases/download")
    confluent_archive     = optional(string, "https://packages.confluent.io/archive")
  })
  default = {}
}

variable "rest_proxy_port" {
  description = "Port the Confluent REST Proxy listens on."
  type        = number
  default     = 8082
}

variable "load_balancer" {
  description = <<-EOT
    Internal Network Load Balancer in front of the REST Proxy (what an API Gateway VPC link needs when the client is
    private), and the API Gateway (REST API) VPC link to it unless `create_vpc_link` is false. Null means neither.
    Its target group health-checks `GET /` on the REST Proxy port.
  EOT
  type = object({
    subnet_ids          = list(string)
    deletion_protection = optional(bool, false)
    access_logs_bucket  = optional(string)
    create_vpc_link     = optional(bool, true)
  })
  default = null
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
