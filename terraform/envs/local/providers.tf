# The AWS provider pointed at LocalStack: every service this environment uses goes to one endpoint,
# with LocalStack's fixed test credentials (not secrets: LocalStack accepts any key).
provider "aws" {
  # checkov:skip=CKV_AWS_41:LocalStack's well-known dummy credentials ("test"), not an AWS key; envs/aws takes credentials from the environment.
  region     = var.region
  access_key = "test"
  secret_key = "test"

  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true

  endpoints {
    apigateway = local.endpoint
    cloudwatch = local.endpoint
    iam        = local.endpoint
    kinesis    = local.endpoint
    kms        = local.endpoint
    logs       = local.endpoint
    s3         = local.endpoint
    sts        = local.endpoint
  }

  default_tags {
    tags = local.tags
  }
}
