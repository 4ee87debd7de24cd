# The ingest REST API, defined once in openapi.json.tftpl: `/{proxy+}` proxied to the Kafka REST Proxy (batch
# path) and `/streams/...` mapped onto Kinesis (stream path). Every method needs an API key (unless
# api_key_required is false); the stage has
# access logs, throttling and a usage plan; a new deployment is made exactly when the OpenAPI body changes.

data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  body = templatefile("${path.module}/openapi.json.tftpl", {
    title            = var.name
    description      = var.description
    rest_proxy_url   = var.rest_proxy_url
    vpc_link_id      = var.vpc_link_id
    kinesis_role_arn = var.kinesis_role_arn
    api_key_required = var.api_key_required
    invoke_scheme    = var.invoke_scheme
    invoke_base_path = var.invoke_base_path
    region           = data.aws_region.current.name
    partition        = data.aws_partition.current.partition
  })

  access_log_format = jsonencode({
    requestId      = "$context.requestId"
    ip             = "$context.identity.sourceIp"
    requestTime    = "$context.requestTime"
    httpMethod     = "$context.httpMethod"
    resourcePath   = "$context.resourcePath"
    path           = "$context.path"
    status         = "$context.status"
    protocol       = "$context.protocol"
    responseLength = "$context.responseLength"
    apiKeyId       = "$context.identity.apiKeyId"
    errorMessage   = "$context.error.message"
    integration    = "$context.integration.status"
    latency        = "$context.responseLatency"
  })
}

resource "aws_api_gateway_rest_api" "this" {
  name           = var.name
  description    = var.description
  body           = local.body
  api_key_source = "HEADER"

  endpoint_configuration {
    types = [var.endpoint_type]
  }

  tags = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "OpenAPI body ${sha1(local.body)}"

  triggers = {
    redeployment = sha1(local.body)
  }

  lifecycle {
    create_before_destroy = true
  }
}

# --- logging ---------------------------------------------------------------------------------------

resource "aws_api_gateway_account" "this" {
  count = var.manage_account_cloudwatch_role ? 1 : 0

  cloudwatch_role_arn = var.cloudwatch_role_arn

  lifecycle {
    precondition {
      condition     = var.cloudwatch_role_arn != null
      error_message = "cloudwatch_role_arn is required when manage_account_cloudwatch_role is true."
    }
  }
}

resource "aws_cloudwatch_log_group" "access" {
  count = var.access_logs_enabled ? 1 : 0

  # checkov:skip=CKV_AWS_158:The KMS key is an input (access_log_kms_key_arn); access logs hold request metadata only, never bodies.
  name              = "/aws/apigateway/${var.name}/${var.stage_name}/access"
  retention_in_days = var.access_log_retention_in_days
  kms_key_id        = var.access_log_kms_key_arn
  tags              = var.tags
}

# --- stage -----------------------------------------------------------------------------------------

resource "aws_api_gateway_stage" "this" {
  # checkov:skip=CKV_AWS_120:Caching does not apply to an ingest API: nearly every call is a PUT/POST that must reach the backend.
  # checkov:skip=CKV2_AWS_51:Backends authenticate API Gateway by network (VPC link) and IAM role, not by client certificate.
  # checkov:skip=CKV2_AWS_29:WAF is an input (web_acl_arn); API keys, a usage plan and throttling guard the API by default.
  # checkov:skip=CKV2_AWS_77:WAF (and so its Log4j managed rule) is an input; the backends are Kinesis and the REST Proxy, no Log4j in the request path of the API itself.
  rest_api_id          = aws_api_gateway_rest_api.this.id
  deployment_id        = aws_api_gateway_deployment.this.id
  stage_name           = var.stage_name
  xray_tracing_enabled = var.xray_tracing_enabled

  dynamic "access_log_settings" {
    for_each = var.access_logs_enabled ? [1] : []

    content {
      destination_arn = aws_cloudwatch_log_group.access[0].arn
      format          = local.access_log_format
    }
  }

  tags = var.tags

  depends_on = [aws_api_gateway_account.this]
}

resource "aws_api_gateway_method_settings" "all" {
  # checkov:skip=CKV_AWS_225:Caching does not apply to an ingest API (see the stage).
  # checkov:skip=CKV_AWS_308:Caching is off, so there is no cache to encrypt.
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this.stage_name
  method_path = "*/*"

  settings {
    metrics_enabled        = var.metrics_enabled
    logging_level          = var.execution_logging_level
    data_trace_enabled     = false
    throttling_rate_limit  = var.throttling.rate_limit
    throttling_burst_limit = var.throttling.burst_limit
  }
}

resource "aws_wafv2_web_acl_association" "this" {
  count = var.web_acl_arn == null ? 0 : 1

  resource_arn = aws_api_gateway_stage.this.arn
  web_acl_arn  = var.web_acl_arn
}

# --- API key and usage plan ------------------------------------------------------------------------

# No `value`: API Gateway generates the key at apply time; Terraform keeps it (sensitive) in state and outputs.
resource "aws_api_gateway_api_key" "this" {
  name        = "${var.name}-key"
  description = "Key of the ${var.name} API clients (emulator, notebooks)"
  enabled     = true
  tags        = var.tags
}

resource "aws_api_gateway_usage_plan" "this" {
  name        = "${var.name}-plan"
  description = "Throttle and quota of the ${var.name} API key"

  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.this.stage_name
  }

  throttle_settings {
    rate_limit  = var.usage_plan.rate_limit
    burst_limit = var.usage_plan.burst_limit
  }

  dynamic "quota_settings" {
    for_each = var.usage_plan.quota_limit == null ? [] : [var.usage_plan]

    content {
      limit  = quota_settings.value.quota_limit
      period = quota_settings.value.quota_period
    }
  }

  tags = var.tags
}

resource "aws_api_gateway_usage_plan_key" "this" {
  key_id        = aws_api_gateway_api_key.this.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this.id
}
