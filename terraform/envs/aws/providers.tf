# Credentials and account come from the environment (AWS_PROFILE, AWS_ACCESS_KEY_ID/..., SSO, instance role):
# nothing here names a key. Every resource carries the default tags.
provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}
