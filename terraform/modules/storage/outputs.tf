output "bucket_name" {
  description = "Name of the lake bucket."
  value       = try(aws_s3_bucket.this.bucket, null)
}

output "bucket_arn" {
  description = "ARN of the lake bucket."
  value       = try(aws_s3_bucket.this.arn, null)
}

output "bucket_regional_domain_name" {
  description = "Regional domain name of the lake bucket."
  value       = try(aws_s3_bucket.this.bucket_regional_domain_name, null)
}

output "kms_key_arn" {
  description = "ARN of the KMS key that encrypts the bucket (created here or passed in); null with SSE-S3 or the AWS managed key."
  value       = try(local.kms_key_arn, null)
}

output "kms_key_alias" {
  description = "Alias of the KMS key the module created (null when it created none)."
  value       = try(aws_kms_alias.this[0].name, null)
}

output "sse_algorithm" {
  description = "Default encryption algorithm of the bucket (`aws:kms` or `AES256`)."
  value       = var.sse_algorithm
}
