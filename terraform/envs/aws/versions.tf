terraform {
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }

  # State: a local file (terraform.tfstate here, gitignored) unless you add a remote backend. For a shared or
  # long-lived deployment copy backend.tf.example to backend.tf (S3 state with S3-native locking) and run
  # `terraform -chdir=terraform/envs/aws init -migrate-state`.
}
