# EC2 Kafka client: Amazon Linux 2023 in a private (or public) subnet, reached with SSM Session Manager (no SSH
# key), IMDSv2 only, encrypted root volume, least-privilege MSK IAM access, and user data that installs Java,
# the Kafka CLI, the MSK IAM auth library and the Confluent REST Proxy (systemd, port 8082, IAM auth), then
# creates the pipeline's topics idempotently. Optionally an internal NLB in front of the REST Proxy and the
# API Gateway VPC link to it (what a private client needs for the API's `/{proxy+}` route).

data "aws_ssm_parameter" "al2023" {
  count = var.ami_id == null ? 1 : 0

  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
}

data "aws_partition" "current" {}

data "aws_region" "current" {}

locals {
  ami_id         = coalesce(var.ami_id, try(nonsensitive(data.aws_ssm_parameter.al2023[0].value), null))
  topic_patterns = length(var.topic_name_patterns) > 0 ? var.topic_name_patterns : sort(values(var.topics))

  user_data = templatefile("${path.module}/templates/user_data.sh.tftpl", {
    region              = data.aws_region.current.name
    bootstrap_brokers   = var.msk.bootstrap_brokers_sasl_iam
    topics              = sort(values(var.topics))
    partitions          = var.topic_partitions
    replication_factor  = var.topic_replication_factor
    rest_proxy_port     = var.rest_proxy_port
    rest_proxy_id       = var.name
    java_package        = var.software.java_package
    kafka_version       = var.software.kafka_version
    kafka_scala_version = var.software.kafka_scala_version
    kafka_url           = "${var.software.kafka_download_base}/${var.software.kafka_version}/kafka_${var.software.kafka_scala_version}-${var.software.kafka_version}.tgz"
    msk_iam_url         = "${var.software.msk_iam_download_base}/v${var.software.msk_iam_auth_version}/aws-msk-iam-auth-${var.software.msk_iam_auth_version}-all.jar"
    confluent_version   = var.software.confluent_version
    confluent_url       = "${var.software.confluent_archive}/${join(".", slice(split(".", var.software.confluent_version), 0, 2))}/confluent-community-${var.software.confluent_version}.tar.gz"
  })
}

# --- IAM --------------------------------------------------------------------------------------------

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

data "aws_iam_policy_document" "msk" {
  statement {
    sid = "Cluster"
    # Kafka >= 3.0 producers (the REST Proxy's) are idempotent by default, which IAM authorises on the cluster.
    actions   = ["kafka-cluster:Connect", "kafka-cluster:DescribeCluster", "kafka-cluster:WriteDataIdempotently"]
    resources = [var.msk.cluster_arn]
  }

  statement {
    sid = "Topics"
    actions = [
      "kafka-cluster:CreateTopic",
      "kafka-cluster:DescribeTopic",
      "kafka-cluster:DescribeTopicDynamicConfiguration",
      "kafka-cluster:WriteData",
      "kafka-cluster:ReadData",
    ]
    resources = [for t in local.topic_patterns : "${var.msk.topic_arn_prefix}/${t}"]
  }

  statement {
    sid       = "ConsumerGroups"
    actions   = ["kafka-cluster:AlterGroup", "kafka-cluster:DescribeGroup"]
    resources = [for g in var.group_name_patterns : "${var.msk.group_arn_prefix}/${g}"]
  }
}

resource "aws_iam_role" "this" {
  name_prefix        = "${substr(var.name, 0, 30)}-"
  description        = "Kafka client ${var.name}: MSK IAM auth on the pipeline topics, SSM Session Manager"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy" "msk" {
  name   = "msk-iam-auth"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.msk.json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "this" {
  name_prefix = "${substr(var.name, 0, 30)}-"
  role        = aws_iam_role.this.name
  tags        = var.tags
}

# --- instance ---------------------------------------------------------------------------------------

resource "aws_instance" "this" {
  ami                         = local.ami_id
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  vpc_security_group_ids      = var.security_group_ids
  associate_public_ip_address = var.associate_public_ip_address
  iam_instance_profile        = aws_iam_instance_profile.this.name
  ebs_optimized               = true
  monitoring                  = true
  user_data_base64            = base64gzip(local.user_data)
  user_data_replace_on_change = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    volume_size           = var.root_volume.size
    volume_type           = var.root_volume.type
    encrypted             = true
    kms_key_id            = var.root_volume.kms_key_arn
    delete_on_termination = true
  }

  tags        = merge(var.tags, { Name = var.name })
  volume_tags = merge(var.tags, { Name = var.name })

  lifecycle {
    ignore_changes = [ami]
  }
}

# --- optional internal NLB in front of the REST Proxy ----------------------------------------------

resource "aws_lb" "this" {
  # checkov:skip=CKV_AWS_150:Deletion protection is an input (load_balancer.deletion_protection), off by default so `make destroy` removes the NLB; checkov only resolved that default once the mwaa module used the storage module.
  count = var.load_balancer != null ? 1 : 0

  name                             = substr("${var.name}-nlb", 0, 32)
  internal                         = true
  load_balancer_type               = "network"
  subnets                          = var.load_balancer.subnet_ids
  enable_deletion_protection       = var.load_balancer.deletion_protection
  enable_cross_zone_load_balancing = true

  dynamic "access_logs" {
    for_each = var.load_balancer.access_logs_bucket != null ? [1] : []
    content {
      bucket  = var.load_balancer.access_logs_bucket
      prefix  = "nlb/${var.name}"
      enabled = true
    }
  }

  tags = var.tags
}

resource "aws_lb_target_group" "this" {
  count = var.load_balancer != null ? 1 : 0

  name               = substr("${var.name}-rest", 0, 32)
  port               = var.rest_proxy_port
  protocol           = "TCP"
  target_type        = "instance"
  vpc_id             = data.aws_subnet.instance.vpc_id
  preserve_client_ip = "false"

  health_check {
    enabled             = true
    protocol            = "HTTP"
    port                = tostring(var.rest_proxy_port)
    path                = "/"
    matcher             = "200"
    interval            = 30
    healthy_threshold   = 3
    unhealthy_threshold = 3
  }

  tags = var.tags
}

data "aws_subnet" "instance" {
  id = var.subnet_id
}

resource "aws_lb_target_group_attachment" "this" {
  count = var.load_balancer != null ? 1 : 0

  target_group_arn = aws_lb_target_group.this[0].arn
  target_id        = aws_instance.this.id
  port             = var.rest_proxy_port
}

resource "aws_lb_listener" "this" {
  count = var.load_balancer != null ? 1 : 0

  load_balancer_arn = aws_lb.this[0].arn
  port              = var.rest_proxy_port
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[0].arn
  }

  tags = var.tags
}

resource "aws_api_gateway_vpc_link" "this" {
  count = try(var.load_balancer.create_vpc_link, false) ? 1 : 0

  name        = "${var.name}-rest-proxy"
  description = "API Gateway to the REST Proxy NLB of ${var.name}"
  target_arns = [aws_lb.this[0].arn]

  tags = var.tags
}
