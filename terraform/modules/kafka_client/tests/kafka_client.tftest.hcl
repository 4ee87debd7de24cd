# Plan-time checks of the Kafka client module against a mocked AWS provider.

mock_provider "aws" {
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }
  mock_data "aws_partition" {
    defaults = {
      partition = "aws"
    }
  }
  mock_data "aws_ssm_parameter" {
    defaults = {
      value = "ami-0123456789abcdef0"
    }
  }
  mock_data "aws_subnet" {
    defaults = {
      vpc_id = "vpc-0123456789abcdef0"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name               = "pdp-test-client"
  subnet_id          = "subnet-aaaa"
  security_group_ids = ["sg-client"]
  msk = {
    cluster_arn                = "arn:aws:kafka:eu-west-1:123456789012:cluster/pdp-test-msk/1111-2222"
    topic_arn_prefix           = "arn:aws:kafka:eu-west-1:123456789012:topic/pdp-test-msk/1111-2222"
    group_arn_prefix           = "arn:aws:kafka:eu-west-1:123456789012:group/pdp-test-msk/1111-2222"
    bootstrap_brokers_sasl_iam = "b-1.example:9098,b-2.example:9098"
  }
  topics = { pin = "demo.pin", geo = "demo.geo", user = "demo.user" }
  tags   = { Project = "pinterest-data-pipeline" }
}

run "private_hardened_instance" {
  command = plan

  assert {
    condition     = aws_instance.this.metadata_options[0].http_tokens == "required"
    error_message = "IMDSv2 must be required."
  }

  assert {
    condition     = aws_instance.this.root_block_device[0].encrypted == true
    error_message = "The root volume must be encrypted."
  }

  assert {
    condition     = aws_instance.this.associate_public_ip_address == false && aws_instance.this.ami == "ami-0123456789abcdef0"
    error_message = "Private by default, Amazon Linux 2023 from the public SSM parameter."
  }

  assert {
    condition     = endswith(aws_iam_role_policy_attachment.ssm.policy_arn, ":policy/AmazonSSMManagedInstanceCore")
    error_message = "The role carries the SSM Session Manager policy."
  }

  assert {
    condition     = data.aws_iam_policy_document.msk.statement[0].resources == toset([var.msk.cluster_arn]) && contains(data.aws_iam_policy_document.msk.statement[0].actions, "kafka-cluster:WriteDataIdempotently")
    error_message = "Cluster actions (including idempotent writes) are limited to this cluster."
  }

  assert {
    condition = data.aws_iam_policy_document.msk.statement[1].resources == toset([
      "${var.msk.topic_arn_prefix}/demo.geo",
      "${var.msk.topic_arn_prefix}/demo.pin",
      "${var.msk.topic_arn_prefix}/demo.user",
    ])
    error_message = "Topic actions are limited to the pipeline's three topics."
  }

  assert {
    condition     = alltrue([for s in data.aws_iam_policy_document.msk.statement : alltrue([for r in s.resources : r != "*"])])
    error_message = "No statement may use Resource \"*\"."
  }

  assert {
    condition     = length(aws_lb.this) == 0 && length(aws_api_gateway_vpc_link.this) == 0
    error_message = "No load balancer or VPC link unless asked for."
  }
}

run "user_data_installs_and_configures_the_proxy" {
  command = plan

  assert {
    condition = alltrue([for t in ["demo.pin", "demo.geo", "demo.user"] :
    strcontains(output.user_data, "--topic \"${t}\"")])
    error_message = "User data creates the three topics."
  }

  assert {
    condition     = length(regexall("--create --if-not-exists", output.user_data)) == 3
    error_message = "Topic creation is idempotent (--if-not-exists)."
  }

  assert {
    condition     = strcontains(output.user_data, "client.sasl.mechanism=AWS_MSK_IAM") && strcontains(output.user_data, "client.security.protocol=SASL_SSL")
    error_message = "The REST Proxy authenticates with IAM over TLS."
  }

  assert {
    condition     = strcontains(output.user_data, "listeners=http://0.0.0.0:8082") && strcontains(output.user_data, "systemctl enable --now kafka-rest")
    error_message = "The REST Proxy runs as a systemd service on 8082."
  }

  assert {
    condition     = strcontains(output.user_data, "bootstrap.servers=b-1.example:9098,b-2.example:9098")
    error_message = "The proxy points at the IAM bootstrap brokers."
  }

  assert {
    condition = alltrue([
      strcontains(output.user_data, "https://archive.apache.org/dist/kafka/3.8.1/kafka_2.13-3.8.1.tgz"),
      strcontains(output.user_data, "/v2.3.2/aws-msk-iam-auth-2.3.2-all.jar"),
      strcontains(output.user_data, "https://packages.confluent.io/archive/7.7/confluent-community-7.7.1.tar.gz"),
    ])
    error_message = "Downloads follow the version variables."
  }
}

run "public_with_nlb" {
  command = plan

  variables {
    associate_public_ip_address = true
    software                    = { confluent_version = "7.8.0" }
    load_balancer               = { subnet_ids = ["subnet-aaaa", "subnet-bbbb"] }
  }

  assert {
    condition     = aws_lb.this[0].internal && aws_lb.this[0].load_balancer_type == "network"
    error_message = "The load balancer is an internal NLB."
  }

  assert {
    condition     = aws_lb_target_group.this[0].port == 8082 && aws_lb_target_group.this[0].health_check[0].path == "/" && aws_lb_target_group.this[0].health_check[0].protocol == "HTTP"
    error_message = "The target group health-checks the REST Proxy on 8082."
  }

  assert {
    condition     = aws_lb_listener.this[0].port == 8082 && aws_instance.this.associate_public_ip_address
    error_message = "The listener forwards 8082; the instance can be public."
  }

  assert {
    condition     = length(aws_api_gateway_vpc_link.this) == 1
    error_message = "A VPC link to the NLB is created for API Gateway."
  }

  assert {
    condition     = strcontains(output.user_data, "/archive/7.8/confluent-community-7.8.0.tar.gz")
    error_message = "The Confluent version variable drives the download."
  }
}
