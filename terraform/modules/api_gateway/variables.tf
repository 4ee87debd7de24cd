variable "name" {
  description = "Name of the REST API (also the prefix of its API key, usage plan and log group)."
  type        = string
}

variable "description" {
  description = "Description of the REST API."
  type        = string
  default     = "Pinterest data pipeline ingest API: /{proxy+} to the Kafka REST Proxy, /streams/... to Kinesis"
}

variable "rest_proxy_url" {
  description = "Base URL of the Kafka REST Proxy that `/{proxy+}` forwards to, without a trailing slash (e.g. `http://10.0.1.23:8082`, or the NLB DNS name when `vpc_link_id` is set)."
  type        = string

  validation {
    condition     = can(regex("^https?://[^/]+$", var.rest_proxy_url))
    error_message = "rest_proxy_url must be http(s)://host[:port] with no path and no trailing slash."
  }
}

variable "vpc_link_id" {
  description = "ID of a VPC link (to an NLB in front of a private REST Proxy). Null connects over the internet (public proxy, or LocalStack)."
  type        = string
  default     = null
}

variable "kinesis_role_arn" {
  description = "ARN of the role API Gateway assumes to call Kinesis (the iam module's `api_gateway_kinesis_role_arn`)."
  type        = string
}

variable "stage_name" {
  description = "Name of the deployment stage (the last part of the invoke URL)."
  type        = string
  default     = "dev"

  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,128}$", var.stage_name))
    error_message = "stage_name may contain only letters, digits, '_' and '-'."
  }
}

variable "endpoint_type" {
  description = "Endpoint type of the REST API: `REGIONAL`, `EDGE` or `PRIVATE`."
  type        = string
  default     = "REGIONAL"

  validation {
    condition     = contains(["REGIONAL", "EDGE", "PRIVATE"], var.endpoint_type)
    error_message = "endpoint_type must be REGIONAL, EDGE or PRIVATE."
  }
}

variable "access_logs_enabled" {
  description = "Write stage access logs (one JSON line per request) to a CloudWatch log group the module creates. On AWS they need the account's API Gateway CloudWatch role (see `manage_account_cloudwatch_role`)."
  type        = bool
  default     = true
}

variable "access_log_retention_in_days" {
  description = "Days the access logs are kept."
  type        = number
  default     = 365
}

variable "access_log_kms_key_arn" {
  description = "KMS key that encrypts the access log group (null: CloudWatch Logs' own encryption)."
  type        = string
  default     = null
}

variable "execution_logging_level" {
  description = "Execution logging of every method: `OFF`, `ERROR` or `INFO` (not `OFF` needs the account's API Gateway CloudWatch role)."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["OFF", "ERROR", "INFO"], var.execution_logging_level)
    error_message = "execution_logging_level must be OFF, ERROR or INFO."
  }
}

variable "metrics_enabled" {
  description = "Publish per-method CloudWatch metrics."
  type        = bool
  default     = true
}

variable "xray_tracing_enabled" {
  description = "Trace requests with AWS X-Ray."
  type        = bool
  default     = true
}

variable "throttling" {
  description = "Stage-wide throttling of every method (requests per second and burst). The emulator batches records, so requests per second stay far below records per second."
  type = object({
    rate_limit  = optional(number, 1000)
    burst_limit = optional(number, 2000)
  })
  default  = {}
  nullable = false
}

variable "usage_plan" {
  description = "Usage plan of the API key: its own throttle and an optional quota (`quota_limit` requests per `quota_period` of DAY, WEEK or MONTH; null for no quota)."
  type = object({
    rate_limit   = optional(number, 1000)
    burst_limit  = optional(number, 2000)
    quota_limit  = optional(number)
    quota_period = optional(string, "DAY")
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["DAY", "WEEK", "MONTH"], var.usage_plan.quota_period)
    error_message = "usage_plan.quota_period must be DAY, WEEK or MONTH."
  }
}

variable "manage_account_cloudwatch_role" {
  description = "Set `cloudwatch_role_arn` as the account's API Gateway CloudWatch Logs role (an account- and region-wide setting that access and execution logs need on AWS). False leaves the account setting alone."
  type        = bool
  default     = false
}

variable "cloudwatch_role_arn" {
  description = "Role API Gateway uses to write logs (the iam module's `api_gateway_cloudwatch_role_arn`); used when `manage_account_cloudwatch_role` is true."
  type        = string
  default     = null
}

variable "web_acl_arn" {
  description = "ARN of a WAFv2 web ACL to associate with the stage (null for none)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}

variable "api_key_required" {
  description = "Require the API key (x-api-key header) on every method. False builds a course-compatible API whose unmodified scripts need no key (stage throttling still applies); keep true anywhere reachable by others."
  type        = bool
  default     = true
  nullable    = false
}

variable "invoke_scheme" {
  description = "Scheme of the invoke URL, sent to the REST Proxy (X-Forwarded-Proto) for the consumer API's base_uri."
  type        = string
  default     = "https"

  validation {
    condition     = contains(["http", "https"], var.invoke_scheme)
    error_message = "invoke_scheme must be http or https."
  }
}

variable "invoke_base_path" {
  description = "Path of the invoke URL before the API's own paths, sent to the REST Proxy (X-Forwarded-Prefix) for the consumer API's base_uri; the proxy fills in `{api_id}` and `{stage}`. `/{stage}` on AWS; `/_aws/execute-api/{api_id}/{stage}` on LocalStack."
  type        = string
  default     = "/{stage}"

  validation {
    condition     = can(regex("^(/[A-Za-z0-9_.{}-]+)*$", var.invoke_base_path))
    error_message = "invoke_base_path must be empty or /segments of letters, digits, '_', '.', '-' and {api_id}/{stage}."
  }
}
