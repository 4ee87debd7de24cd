# Plan-time checks of the REST API: routes and integrations in the rendered OpenAPI body, API keys on every
# method, throttling, logging, usage plan and redeployment trigger, against a mocked AWS provider (offline).

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
}

variables {
  name             = "demo-api"
  rest_proxy_url   = "http://10.0.1.23:8082"
  kinesis_role_arn = "arn:aws:iam::123456789012:role/demo-apigw-kinesis"
}

run "openapi_routes_and_integrations" {
  command = plan

  assert {
    condition = toset(keys(jsondecode(aws_api_gateway_rest_api.this.body).paths)) == toset([
      "/{proxy+}", "/streams", "/streams/{stream-name}", "/streams/{stream-name}/record", "/streams/{stream-name}/records",
      "/streams/{stream-name}/sharditerator",
    ])
    error_message = "The API must have exactly the proxy and the /streams routes."
  }

  # Every operation of every path requires the API key.
  assert {
    condition = alltrue(flatten([
      for path, item in jsondecode(aws_api_gateway_rest_api.this.body).paths : [
        for method, op in item : op.security == [{ api_key = [] }] if method != "parameters"
      ]
    ]))
    error_message = "Every method must require the API key."
  }

  assert {
    condition     = jsondecode(aws_api_gateway_rest_api.this.body).components.securitySchemes.api_key == { type = "apiKey", name = "x-api-key", in = "header" }
    error_message = "The API key must be read from the x-api-key header."
  }

  assert {
    condition = jsondecode(aws_api_gateway_rest_api.this.body).paths["/{proxy+}"]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"] == {
      type                = "http_proxy"
      httpMethod          = "ANY"
      uri                 = "http://10.0.1.23:8082/{proxy}"
      connectionType      = "INTERNET"
      passthroughBehavior = "when_no_match"
      requestParameters = {
        "integration.request.path.proxy"                = "method.request.path.proxy"
        "integration.request.header.X-Forwarded-Host"   = "method.request.header.Host"
        "integration.request.header.X-Forwarded-Proto"  = "'https'"
        "integration.request.header.X-Forwarded-Prefix" = "'/{stage}'"
        "integration.request.header.X-Forwarded-Api-Id" = "context.apiId"
        "integration.request.header.X-Forwarded-Stage"  = "context.stage"
      }
      timeoutInMillis = 29000
      responses       = { default = { statusCode = "200" } }
    }
    error_message = "/{proxy+} must be an HTTP proxy to the REST Proxy over the internet when no VPC link is given."
  }

  # Each /streams operation is an AWS integration calling the right Kinesis action with the API role.
  assert {
    condition = {
      for op in [
        ["/streams", "get"], ["/streams/{stream-name}", "get"], ["/streams/{stream-name}", "post"],
        ["/streams/{stream-name}", "delete"], ["/streams/{stream-name}/record", "put"], ["/streams/{stream-name}/records", "put"],
        ] : "${op[0]} ${op[1]}" => [
        jsondecode(aws_api_gateway_rest_api.this.body).paths[op[0]][op[1]]["x-amazon-apigateway-integration"].type,
        jsondecode(aws_api_gateway_rest_api.this.body).paths[op[0]][op[1]]["x-amazon-apigateway-integration"].uri,
        jsondecode(aws_api_gateway_rest_api.this.body).paths[op[0]][op[1]]["x-amazon-apigateway-integration"].credentials,
      ]
      } == {
      "/streams get"                       = ["aws", "arn:aws:apigateway:eu-west-1:kinesis:action/ListStreams", var.kinesis_role_arn]
      "/streams/{stream-name} get"         = ["aws", "arn:aws:apigateway:eu-west-1:kinesis:action/DescribeStream", var.kinesis_role_arn]
      "/streams/{stream-name} post"        = ["aws", "arn:aws:apigateway:eu-west-1:kinesis:action/CreateStream", var.kinesis_role_arn]
      "/streams/{stream-name} delete"      = ["aws", "arn:aws:apigateway:eu-west-1:kinesis:action/DeleteStream", var.kinesis_role_arn]
      "/streams/{stream-name}/record put"  = ["aws", "arn:aws:apigateway:eu-west-1:kinesis:action/PutRecord", var.kinesis_role_arn]
      "/streams/{stream-name}/records put" = ["aws", "arn:aws:apigateway:eu-west-1:kinesis:action/PutRecords", var.kinesis_role_arn]
    }
    error_message = "The /streams methods must map onto ListStreams, DescribeStream, CreateStream, DeleteStream, PutRecord and PutRecords."
  }

  # docs/data-contracts.md 3.5: the client sends Data as a JSON object; the integration base64-encodes its JSON text.
  assert {
    condition = strcontains(
      jsondecode(aws_api_gateway_rest_api.this.body).paths["/streams/{stream-name}/record"].put["x-amazon-apigateway-integration"].requestTemplates["application/json"],
      "\"Data\": \"$util.base64Encode($input.json('$.Data'))\"",
    )
    error_message = "PutRecord must base64-encode the JSON of Data."
  }

  assert {
    condition = strcontains(
      jsondecode(aws_api_gateway_rest_api.this.body).paths["/streams/{stream-name}/records"].put["x-amazon-apigateway-integration"].requestTemplates["application/json"],
      "$util.base64Encode($input.json(\"$.Records[$foreach.index].Data\"))",
    )
    error_message = "PutRecords must base64-encode the JSON of each record's Data."
  }

  # Partition keys are rendered by $input.json (a whole JSON string literal, escaped), never pasted raw.
  assert {
    condition = alltrue([
      strcontains(
        jsondecode(aws_api_gateway_rest_api.this.body).paths["/streams/{stream-name}/record"].put["x-amazon-apigateway-integration"].requestTemplates["application/json"],
        "\"PartitionKey\": $input.json('$.PartitionKey')",
      ),
      strcontains(
        jsondecode(aws_api_gateway_rest_api.this.body).paths["/streams/{stream-name}/records"].put["x-amazon-apigateway-integration"].requestTemplates["application/json"],
        "\"PartitionKey\": $input.json(\"$.Records[$foreach.index].PartitionKey\")",
      ),
    ])
    error_message = "PutRecord and PutRecords must render each PartitionKey with $input.json."
  }

  # Every Kinesis request that names a stream takes it from the path, escaped for a JSON string.
  assert {
    condition = alltrue([
      for op in [
        ["/streams/{stream-name}", "get"], ["/streams/{stream-name}", "post"], ["/streams/{stream-name}", "delete"],
        ["/streams/{stream-name}/record", "put"], ["/streams/{stream-name}/records", "put"],
        ] : strcontains(
        jsondecode(aws_api_gateway_rest_api.this.body).paths[op[0]][op[1]]["x-amazon-apigateway-integration"].requestTemplates["application/json"],
        "\"StreamName\": \"$util.escapeJavaScript($input.params('stream-name'))\"",
      )
    ])
    error_message = "Every StreamName must be the path parameter passed through $util.escapeJavaScript."
  }

  assert {
    condition     = aws_api_gateway_rest_api.this.api_key_source == "HEADER"
    error_message = "API keys come from the header."
  }

  assert {
    condition     = aws_api_gateway_deployment.this.triggers.redeployment == sha1(aws_api_gateway_rest_api.this.body)
    error_message = "A new deployment must be made exactly when the OpenAPI body changes."
  }

  assert {
    condition     = one(aws_api_gateway_method_settings.all.settings).throttling_rate_limit == 1000 && one(aws_api_gateway_method_settings.all.settings).throttling_burst_limit == 2000
    error_message = "Every method must be throttled."
  }

  assert {
    condition     = aws_api_gateway_method_settings.all.method_path == "*/*" && one(aws_api_gateway_method_settings.all.settings).data_trace_enabled == false
    error_message = "Method settings apply to every method and never log bodies."
  }

  assert {
    condition     = length(aws_api_gateway_stage.this.access_log_settings) == 1 && aws_cloudwatch_log_group.access[0].retention_in_days == 365
    error_message = "The stage must write access logs to a log group with retention."
  }

  assert {
    condition     = aws_api_gateway_stage.this.stage_name == "dev" && one(aws_api_gateway_usage_plan.this.api_stages).stage == "dev"
    error_message = "The usage plan must cover the stage."
  }

  assert {
    condition     = aws_api_gateway_usage_plan_key.this.key_type == "API_KEY" && aws_api_gateway_api_key.this.enabled
    error_message = "An enabled API key must belong to the usage plan."
  }

  assert {
    condition     = length(aws_api_gateway_account.this) == 0 && length(aws_wafv2_web_acl_association.this) == 0
    error_message = "The account setting and WAF are left alone unless asked for."
  }
}

run "private_proxy_through_vpc_link" {
  command = plan

  variables {
    rest_proxy_url                 = "http://nlb-123.elb.eu-west-1.amazonaws.com:8082"
    vpc_link_id                    = "abc123"
    manage_account_cloudwatch_role = true
    cloudwatch_role_arn            = "arn:aws:iam::123456789012:role/demo-apigw-cloudwatch"
    access_logs_enabled            = false
    usage_plan                     = { quota_limit = 100000 }
  }

  assert {
    condition     = jsondecode(aws_api_gateway_rest_api.this.body).paths["/{proxy+}"]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"].connectionType == "VPC_LINK"
    error_message = "A VPC link id must switch the proxy to a VPC_LINK connection."
  }

  assert {
    condition     = jsondecode(aws_api_gateway_rest_api.this.body).paths["/{proxy+}"]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"].connectionId == "abc123"
    error_message = "The proxy must use the given VPC link."
  }

  assert {
    condition     = aws_api_gateway_account.this[0].cloudwatch_role_arn == "arn:aws:iam::123456789012:role/demo-apigw-cloudwatch"
    error_message = "The account's CloudWatch role must be set when asked for."
  }

  assert {
    condition     = length(aws_cloudwatch_log_group.access) == 0 && length(aws_api_gateway_stage.this.access_log_settings) == 0
    error_message = "Access logs can be turned off."
  }

  assert {
    condition     = one(aws_api_gateway_usage_plan.this.quota_settings).limit == 100000 && one(aws_api_gateway_usage_plan.this.quota_settings).period == "DAY"
    error_message = "The usage plan quota must be applied."
  }
}

run "rejects_proxy_url_with_path" {
  command = plan

  variables {
    rest_proxy_url = "http://10.0.1.23:8082/"
  }

  expect_failures = [var.rest_proxy_url]
}

run "stream_read_routes" {
  command = plan

  assert {
    condition = (
      endswith(jsondecode(aws_api_gateway_rest_api.this.body).paths["/streams/{stream-name}/sharditerator"].get["x-amazon-apigateway-integration"].uri, "kinesis:action/GetShardIterator")
      && endswith(jsondecode(aws_api_gateway_rest_api.this.body).paths["/streams/{stream-name}/records"].get["x-amazon-apigateway-integration"].uri, "kinesis:action/GetRecords")
    )
    error_message = "GET .../sharditerator and GET .../records must map to GetShardIterator and GetRecords."
  }
}

run "keyless_api" {
  command = plan

  variables {
    api_key_required = false
  }

  assert {
    condition = alltrue(flatten([
      for path, item in jsondecode(aws_api_gateway_rest_api.this.body).paths : [
        for method, op in item : op.security == [] if method != "parameters"
      ]
    ]))
    error_message = "With api_key_required = false no method may require the API key."
  }
}
