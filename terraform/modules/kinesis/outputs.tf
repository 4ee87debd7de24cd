output "stream_names" {
  description = "Stream name per dataset, e.g. `{ pin = \"streaming-<user_id>-pin\", ... }`."
  value       = { for dataset, stream in aws_kinesis_stream.this : dataset => try(stream.name, null) }
}

output "stream_arns" {
  description = "Stream ARN per dataset."
  value       = { for dataset, stream in aws_kinesis_stream.this : dataset => try(stream.arn, null) }
}

output "stream_mode" {
  description = "Capacity mode of the streams."
  value       = var.stream_mode
}

output "kms_key_id" {
  description = "KMS key that encrypts the streams."
  value       = var.kms_key_id
}
