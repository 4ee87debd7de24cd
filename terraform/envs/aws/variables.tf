variable "user_id" {
  description = "Identifier every pipeline name derives from (topics `<user_id>.pin`, streams `streaming-<user_id>-pin`, bucket `user-<user_id>-bucket`)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*[a-z0-9]$", var.user_id))
    error_message = "user_id must be lower-case letters, digits, '.' or '-' and start and end with a letter or digit (it becomes part of an S3 bucket name)."
  }
}

variable "prefix" {
  description = "Prefix of the infrastructure names (VPC, cluster, connector, roles, MWAA): `<prefix>-<user_id>`."
  type        = string
  default     = "pdp"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,9}$", var.prefix))
    error_message = "prefix must be 1-10 lower-case letters, digits or '-', starting with a letter."
  }
}

variable "region" {
  description = "AWS region of the whole platform."
  type        = string
  default     = "us-east-1"
}

variable "extra_tags" {
  description = "Tags added to the default tags of every resource (e.g. Owner, CostCenter)."
  type        = map(string)
  default     = {}
}

variable "network" {
  description = "VPC settings: CIDR, number of availability zones (2 or 3; MSK runs one broker per zone) and the NAT gateway (the Kafka client and MWAA download packages through it)."
  type = object({
    cidr_block         = optional(string, "10.20.0.0/16")
    az_count           = optional(number, 2)
    availability_zones = optional(list(string))
    enable_nat_gateway = optional(bool, true)
    flow_logs          = optional(bool, true)
  })
  default  = {}
  nullable = false
}

variable "msk" {
  description = "MSK cluster settings."
  type = object({
    kafka_version        = optional(string, "3.8.x")
    broker_instance_type = optional(string, "kafka.t3.small")
    broker_volume_size   = optional(number, 20)
  })
  default  = {}
  nullable = false
}

variable "kafka_client" {
  description = "EC2 Kafka client (REST Proxy) settings: instance type and software versions (see the kafka_client module's `software`)."
  type = object({
    instance_type        = optional(string, "t3.small")
    kafka_version        = optional(string, "3.8.1")
    msk_iam_auth_version = optional(string, "2.3.2")
    confluent_version    = optional(string, "7.7.1")
  })
  default  = {}
  nullable = false
}

variable "s3_sink" {
  description = <<-EOT
    MSK Connect S3 sink: `plugin_path` is the Confluent S3 sink zip you downloaded from
    https://www.confluent.io/hub/confluentinc/kafka-connect-s3 (relative to terraform/envs/aws or absolute);
    `flush_size` records per S3 object; `rotate_schedule_interval_ms` commits smaller files after that long.
  EOT
  type = object({
    plugin_path                 = optional(string, "../../../.local/downloads/confluentinc-kafka-connect-s3-10.6.7.zip")
    plugin_version              = optional(string, "10.6.7")
    flush_size                  = optional(number, 500)
    rotate_schedule_interval_ms = optional(number, 60000)
    mcu_count                   = optional(number, 1)
    worker_count                = optional(number, 1)
  })
  default  = {}
  nullable = false

  validation {
    condition     = fileexists(var.s3_sink.plugin_path)
    error_message = "s3_sink.plugin_path must point at the Confluent S3 sink zip: download confluentinc-kafka-connect-s3-<version>.zip from https://www.confluent.io/hub/confluentinc/kafka-connect-s3 (Download button) to .local/downloads/ or set s3_sink.plugin_path in terraform.tfvars."
  }
}

variable "kinesis_stream_mode" {
  description = "Capacity mode of the three Kinesis streams: ON_DEMAND or PROVISIONED (one shard each)."
  type        = string
  default     = "PROVISIONED"
}

variable "api" {
  description = "API Gateway settings: stage name, whether this deployment sets the account-wide API Gateway CloudWatch role (access logs need one per account and region), the API key's daily quota, and whether the API key is required (`key_required`, default true: false opens the API to anyone who has its URL)."
  type = object({
    stage_name                     = optional(string, "dev")
    manage_account_cloudwatch_role = optional(bool, true)
    quota_per_day                  = optional(number)
    key_required                   = optional(bool, true)
  })
  default  = {}
  nullable = false
}

variable "databricks" {
  description = <<-EOT
    What Databricks gets (the databricks_access module): an IAM role reading the lake (`topics/`), writing
    stream checkpoints (`checkpoints/`), using the lake key and reading the three streams, with an EC2 instance
    profile (`instance_profile`, on by default). `unity_catalog` also lets a Unity Catalog service credential
    (Kinesis) or storage credential (the lake) use the role: set `external_id` to the id Databricks shows when you
    create the credential (`master_role_arn` defaults to Databricks' commercial UC master role).
  EOT
  type = object({
    instance_profile = optional(bool, true)
    unity_catalog = optional(object({
      external_id     = string
      master_role_arn = optional(string, "arn:aws:iam::414351767826:role/unity-catalog-prod-UCMasterRole-14S5ZJVKOTYTL")
    }))
  })
  default  = {}
  nullable = false
}

variable "mwaa" {
  description = "MWAA settings: on/off, Airflow version, class, and the DAG folder and requirements file uploaded to the DAG bucket (paths relative to terraform/envs/aws)."
  type = object({
    create            = optional(bool, true)
    airflow_version   = optional(string, "3.0.6")
    environment_class = optional(string, "mw1.small")
    max_workers       = optional(number, 2)
    dags_dir          = optional(string, "../../../airflow/dags")
    requirements_path = optional(string, "../../../airflow/requirements.txt")
  })
  default  = {}
  nullable = false
}

variable "mwaa_public_webserver" {
  description = "Make the Airflow UI reachable from the internet (still behind AWS IAM sign-in). False keeps it inside the VPC (PRIVATE_ONLY)."
  type        = bool
  default     = false
}

variable "source_db" {
  description = "Optional RDS MySQL source database and its one-shot loader (off by default; the emulator can read a local SQLite file instead)."
  type = object({
    create         = optional(bool, false)
    instance_class = optional(string, "db.t4g.micro")
    engine_version = optional(string, "8.0")
    rows           = optional(number, 11000)
    project_root   = optional(string, "../../..")
  })
  default  = {}
  nullable = false
}

variable "force_destroy" {
  description = "Let `terraform destroy` empty and delete the lake and DAG buckets (the lake is derived data you can re-ingest). Set false to keep data safe from a destroy."
  type        = bool
  default     = true
}
