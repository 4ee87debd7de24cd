variable "user_id" {
  description = "Identifier every pipeline name derives from (topics `<user_id>.pin`, streams `streaming-<user_id>-pin`, bucket `user-<user_id>-bucket`)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]*[a-z0-9]$", var.user_id))
    error_message = "user_id must be lower-case letters, digits, '.' or '-' and start and end with a letter or digit (it becomes part of an S3 bucket name)."
  }
}

variable "localstack_endpoint" {
  description = "Base URL of LocalStack's gateway; every AWS API of this environment is called there."
  type        = string
  default     = "http://127.0.0.1:4566"

  validation {
    condition     = can(regex("^https?://[^/]+/?$", var.localstack_endpoint))
    error_message = "localstack_endpoint must be http(s)://host:port."
  }
}

variable "rest_proxy_url" {
  description = "Base URL of the local Kafka REST Proxy that the API's `/{proxy+}` route forwards to."
  type        = string
  default     = "http://127.0.0.1:8082"
}

variable "region" {
  description = "AWS region LocalStack emulates."
  type        = string
  default     = "us-east-1"
}

variable "api_key_required" {
  description = "Require the API key on every method (`PIPELINE_API_KEY_REQUIRED=false make local-up` sets false: unmodified course scripts then need no key)."
  type        = bool
  default     = true
  nullable    = false
}
