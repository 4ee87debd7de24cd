terraform {
  # One minimum for the whole repository (README: Terraform >= 1.11): terraform test's `override_during`
  # (1.11), the S3 backend's `use_lockfile` (1.10), mock providers (1.7). The AWS provider stays on 5.x (6.0
  # is a major release with breaking changes; it deprecates aws_region's `name`, used here); 5.100 is tested.
  required_version = ">= 1.11"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.100"
    }
  }

  # State stays in the default local file (terraform.tfstate in this directory, gitignored): a fresh
  # LocalStack keeps nothing, so the local stack supervisor drops this state when it restarts LocalStack.
}
