variable "name" {
  description = "Name of the MWAA environment (and prefix of its bucket and role)."
  type        = string
}

variable "airflow_version" {
  description = "Apache Airflow version of the environment (an MWAA-supported version)."
  type        = string
  default     = "3.0.6"
}

variable "environment_class" {
  description = "MWAA environment class (mw1.micro, mw1.small, mw1.medium, mw1.large, ...)."
  type        = string
  default     = "mw1.small"
}

variable "min_workers" {
  description = "Minimum number of Airflow workers."
  type        = number
  default     = 1
}

variable "max_workers" {
  description = "Maximum number of Airflow workers."
  type        = number
  default     = 2
}

variable "dag_bucket_name" {
  description = "Name of the DAG bucket the module creates. Null means `airflow-<name>-<account id>`."
  type        = string
  default     = null
}

variable "force_destroy" {
  description = "Allow `terraform destroy` to delete the DAG bucket with every object version in it."
  type        = bool
  default     = true
}

variable "access_logging" {
  description = "Server access logging of the DAG bucket to another bucket (null disables it)."
  type = object({
    target_bucket = string
    target_prefix = optional(string, "s3-access-logs/mwaa-dags/")
  })
  default = null
}

variable "dags_dir" {
  description = "Local directory of the project's DAG files; every `*.py` under it is uploaded to `dags/` in the bucket."
  type        = string
}

variable "requirements_path" {
  description = "Local path of the `requirements.txt` MWAA installs (null: none)."
  type        = string
  default     = null

  validation {
    condition     = var.requirements_path == null || fileexists(coalesce(var.requirements_path, "/nonexistent"))
    error_message = "requirements_path must point at an existing requirements.txt file."
  }
}

variable "subnet_ids" {
  description = "Exactly two private subnets in different availability zones (with a NAT route or VPC endpoints)."
  type        = list(string)

  validation {
    condition     = length(var.subnet_ids) == 2
    error_message = "MWAA needs exactly two private subnets."
  }
}

variable "security_group_ids" {
  description = "Security groups of the environment (one must allow all traffic from itself)."
  type        = list(string)
}

variable "webserver_access_mode" {
  description = "PRIVATE_ONLY (webserver reachable only from the VPC) or PUBLIC_ONLY (internet, still behind IAM sign-in)."
  type        = string
  default     = "PRIVATE_ONLY"

  validation {
    condition     = contains(["PRIVATE_ONLY", "PUBLIC_ONLY"], var.webserver_access_mode)
    error_message = "webserver_access_mode must be PRIVATE_ONLY or PUBLIC_ONLY."
  }
}

variable "log_level" {
  description = "Log level of every Airflow log type sent to CloudWatch (DEBUG, INFO, WARNING, ERROR, CRITICAL)."
  type        = string
  default     = "INFO"
}

variable "airflow_configuration_options" {
  description = "Airflow configuration overrides, merged over the module's (Secrets Manager backend for connections and variables)."
  type        = map(string)
  default     = {}
}

variable "secrets_prefix" {
  description = "Secrets Manager prefix of the Airflow connections and variables the environment may read (`<prefix>/connections/*`, `<prefix>/variables/*`)."
  type        = string
  default     = "airflow"
}

variable "airflow_variables" {
  description = "Airflow Variables stored as Secrets Manager secrets `<secrets_prefix>/variables/<key>` (plain settings such as the DAG's `pinterest_user_id`; never put credentials here, they would sit in the state)."
  type        = map(string)
  default     = {}
}

variable "kms_key_arn" {
  description = "Customer managed KMS key of the environment (null: an AWS owned key)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
