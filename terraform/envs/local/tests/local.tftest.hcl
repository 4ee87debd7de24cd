# The local environment against a mocked AWS provider (offline): the outputs the emulator and the local stack
# supervisor read, and the wiring of the modules. The real apply against LocalStack is
# tests/terraform/test_envs_local.py.

mock_provider "aws" {
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "000000000000"
    }
  }

  mock_data "aws_region" {
    defaults = {
      name = "us-east-1"
    }
  }

  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }

  mock_resource "aws_api_gateway_rest_api" {
    defaults = {
      id = "abc123"
    }
  }

  mock_resource "aws_iam_role" {
    defaults = {
      arn = "arn:aws:iam::000000000000:role/mocked"
    }
  }

  mock_resource "aws_cloudwatch_log_group" {
    defaults = {
      arn = "arn:aws:logs:us-east-1:000000000000:log-group:mocked"
    }
  }

  mock_resource "aws_kms_key" {
    defaults = {
      arn = "arn:aws:kms:us-east-1:000000000000:key/mocked"
    }
  }

  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::mocked"
    }
  }

  mock_resource "aws_kinesis_stream" {
    defaults = {
      arn = "arn:aws:kinesis:us-east-1:000000000000:stream/mocked"
    }
  }
}

variables {
  user_id = "demo"
}

run "names_derive_from_user_id" {
  command = plan

  assert {
    condition     = module.kinesis.stream_mode == "ON_DEMAND"
    error_message = "Local streams are on demand."
  }

  assert {
    condition     = output.stream_names == { pin = "streaming-demo-pin", geo = "streaming-demo-geo", user = "streaming-demo-user" }
    error_message = "Streams must be streaming-<user_id>-pin|geo|user."
  }

  assert {
    condition     = output.topics == { pin = "demo.pin", geo = "demo.geo", user = "demo.user" }
    error_message = "Topics must be <user_id>.pin|geo|user."
  }

  assert {
    condition     = output.region == "us-east-1"
    error_message = "LocalStack's region is us-east-1."
  }
}

# Mocked apply (nothing leaves the machine): the invoke URL is LocalStack's execute-api path of the stage.
run "invoke_url_on_localstack" {
  command = apply

  variables {
    localstack_endpoint = "http://127.0.0.1:4599/"
    rest_proxy_url      = "http://127.0.0.1:18082"
  }

  assert {
    condition     = output.invoke_url == "http://127.0.0.1:4599/_aws/execute-api/abc123/dev"
    error_message = "invoke_url must be <localstack_endpoint>/_aws/execute-api/<api id>/<stage>."
  }

  assert {
    condition     = output.api_id == "abc123" && output.stage_name == "dev"
    error_message = "api_id and stage_name must be the API's."
  }

  assert {
    condition     = output.bucket_name == "user-demo-bucket"
    error_message = "The bucket must be user-<user_id>-bucket."
  }

  assert {
    condition     = jsondecode(module.api_gateway.openapi_body).paths["/{proxy+}"]["x-amazon-apigateway-any-method"]["x-amazon-apigateway-integration"].uri == "http://127.0.0.1:18082/{proxy}"
    error_message = "rest_proxy_url must be the proxy backend."
  }

  assert {
    condition     = jsondecode(module.api_gateway.openapi_body).paths["/streams/{stream-name}/record"].put["x-amazon-apigateway-integration"].credentials == module.iam.api_gateway_kinesis_role_arn
    error_message = "The Kinesis integrations must use the iam module's role."
  }
}

run "rejects_bucket_unsafe_user_id" {
  command = plan

  variables {
    user_id = "Demo_User"
  }

  expect_failures = [var.user_id]
}
