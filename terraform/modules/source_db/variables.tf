variable "create" {
  description = "Create the database and its loader (the environment keeps this off by default)."
  type        = bool
  default     = true
}

variable "name" {
  description = "Identifier of the DB instance (and prefix of its subnet group, parameter group and loader)."
  type        = string
}

variable "subnet_ids" {
  description = "Private subnets of the DB subnet group (at least two availability zones)."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the instance (allow 3306 from the loader / emulator host only)."
  type        = list(string)
}

variable "engine_version" {
  description = "MySQL engine version (major or full, e.g. `8.0` or `8.4`)."
  type        = string
  default     = "8.0"
}

variable "instance_class" {
  description = "DB instance class."
  type        = string
  default     = "db.t4g.micro"
}

variable "allocated_storage" {
  description = "Storage in GiB (gp3)."
  type        = number
  default     = 20
}

variable "db_name" {
  description = "Database the source tables live in (docs/data-contracts.md 3.1)."
  type        = string
  default     = "pinterest_data"
}

variable "master_username" {
  description = "Master user name; its password is generated and kept in Secrets Manager by RDS."
  type        = string
  default     = "admin"
}

variable "kms_key_arn" {
  description = "KMS key encrypting storage and the master user secret (null: the AWS managed keys)."
  type        = string
  default     = null
}

variable "backup_retention_period" {
  description = "Days of automated backups."
  type        = number
  default     = 7
}

variable "deletion_protection" {
  description = "Refuse to delete the instance (turn on for anything you cannot regenerate)."
  type        = bool
  default     = false
}

variable "skip_final_snapshot" {
  description = "Delete without a final snapshot (the data is synthetic and can be regenerated)."
  type        = bool
  default     = true
}

variable "multi_az" {
  description = "Standby in a second availability zone."
  type        = bool
  default     = false
}

variable "loader" {
  description = <<-EOT
    One-shot loader: an SSM Run Command document that, on the EC2 Kafka client (`instance_id`, whose role is
    `instance_role_name`), downloads the project's `emulation` package from `s3://<artifacts_bucket>/<artifacts_prefix>`,
    installs its database dependencies and runs `python -m emulation seed --rows <rows> --db-url mysql+pymysql://...`
    with the password read from Secrets Manager. `project_root` is the local repository root Terraform uploads
    `emulation/*.py` from. Null: no loader.
  EOT
  type = object({
    instance_id           = string
    instance_role_name    = string
    artifacts_bucket      = string
    artifacts_bucket_arn  = string
    artifacts_kms_key_arn = optional(string)
    artifacts_prefix      = optional(string, "artifacts/loader/")
    project_root          = string
    rows                  = optional(number, 11000)
    pip_packages          = optional(list(string), ["SQLAlchemy==2.1.9", "PyMySQL==1.2.4", "python-dotenv==1.2.4", "tqdm==4.70.1", "requests==2.34.2", "boto3==1.44.8"])
  })
  default = null
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
