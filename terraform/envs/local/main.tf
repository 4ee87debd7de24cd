# The local environment: the modules LocalStack supports (storage, kinesis, iam, api_gateway), composed as in
# envs/aws, applied by `make local-up`. The API's /{proxy+} route forwards to the local Kafka REST Proxy.

locals {
  endpoint = trimsuffix(var.localstack_endpoint, "/")
  datasets = ["pin", "geo", "user"]
  topics   = { for dataset in local.datasets : dataset => "${var.user_id}.${dataset}" }
  tags = {
    Project     = "pinterest-data-pipeline"
    Environment = "local"
    UserId      = var.user_id
  }
}

module "storage" {
  source = "../../modules/storage"

  user_id       = var.user_id
  force_destroy = true # local data is disposable

  # LocalStack 4.9.2 never returns the x-amz-transition-default-minimum-object-size header, so the provider's
  # read-after-write wait for a lifecycle configuration runs into its timeout (about 55 s of every fresh
  # apply). Multipart-upload housekeeping is moot on a throwaway LocalStack; envs/aws keeps the rules.
  lifecycle_rules = null
}

module "kinesis" {
  source = "../../modules/kinesis"

  user_id     = var.user_id
  datasets    = local.datasets
  stream_mode = "ON_DEMAND"
}

module "iam" {
  source = "../../modules/iam"

  name_prefix                        = var.user_id
  kinesis_stream_arns                = values(module.kinesis.stream_arns)
  create_api_gateway_cloudwatch_role = true
}

module "api_gateway" {
  source = "../../modules/api_gateway"

  name                = "${var.user_id}-pinterest-api"
  rest_proxy_url      = var.rest_proxy_url
  kinesis_role_arn    = module.iam.api_gateway_kinesis_role_arn
  cloudwatch_role_arn = module.iam.api_gateway_cloudwatch_role_arn

  manage_account_cloudwatch_role = true

  api_key_required = var.api_key_required
  invoke_scheme    = "http"
  invoke_base_path = "/_aws/execute-api/{api_id}/{stage}" # LocalStack's invoke URL path
}
