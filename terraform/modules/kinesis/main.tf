# The stream path's Kinesis data streams, one per dataset (`streaming-<user_id>-pin|geo|user`),
# encrypted with KMS. Created with for_each, so Terraform creates them in parallel.

locals {
  streams = { for dataset in var.datasets : dataset => "streaming-${var.user_id}-${dataset}" }
}

resource "aws_kinesis_stream" "this" {
  for_each = local.streams

  name                      = each.value
  shard_count               = var.stream_mode == "PROVISIONED" ? var.shard_count : null
  retention_period          = var.retention_period
  encryption_type           = "KMS"
  kms_key_id                = var.kms_key_id
  shard_level_metrics       = var.shard_level_metrics
  enforce_consumer_deletion = var.enforce_consumer_deletion

  stream_mode_details {
    stream_mode = var.stream_mode
  }

  tags = merge(var.tags, { Dataset = each.key })
}
