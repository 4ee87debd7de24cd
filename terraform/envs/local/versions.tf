terraform {
  required_version = ">= 1.7"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }

  # State stays in the default local file (terraform.tfstate in this directory, gitignored): a fresh
  # LocalStack keeps nothing, so the local stack supervisor drops this state when it restarts LocalStack.
}
