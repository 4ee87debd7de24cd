# Plan-time checks of the network module against a mocked AWS provider (no account needed).

mock_provider "aws" {
  mock_data "aws_availability_zones" {
    defaults = {
      names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    }
  }
  mock_data "aws_region" {
    defaults = {
      name = "eu-west-1"
    }
  }
  mock_data "aws_iam_policy_document" {
    defaults = {
      json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
    }
  }
}

variables {
  name = "pdp-test"
  tags = { Project = "pinterest-data-pipeline" }
}

run "defaults_two_private_subnets_with_nat" {
  command = plan

  assert {
    condition     = length(aws_subnet.private) == 2 && length(aws_subnet.public) == 2
    error_message = "Two zones by default: two private and two public subnets."
  }

  assert {
    condition     = toset([for s in aws_subnet.private : s.availability_zone]) == toset(["eu-west-1a", "eu-west-1b"])
    error_message = "Private subnets must spread over two distinct zones."
  }

  assert {
    condition     = alltrue([for s in aws_subnet.public : s.map_public_ip_on_launch == false])
    error_message = "Public subnets must not hand out public IPs by default."
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1 && length(aws_route.private_nat) == 1
    error_message = "One NAT gateway routes the private subnets to the internet."
  }

  assert {
    condition     = aws_vpc_endpoint.s3.vpc_endpoint_type == "Gateway" && aws_vpc_endpoint.s3.service_name == "com.amazonaws.eu-west-1.s3"
    error_message = "S3 must have a gateway endpoint."
  }

  assert {
    condition     = aws_vpc_endpoint.interface["sts"].service_name == "com.amazonaws.eu-west-1.sts" && aws_vpc_endpoint.interface["sts"].private_dns_enabled
    error_message = "STS must have an interface endpoint with private DNS (MSK Connect IAM auth)."
  }

  assert {
    condition     = toset(keys(aws_security_group.this)) == toset(["msk", "client", "connect", "mwaa", "db"])
    error_message = "One security group per role."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.from_group["msk_from_connect"].from_port == 9098 && aws_vpc_security_group_ingress_rule.from_group["msk_from_client"].to_port == 9098
    error_message = "Brokers accept only the IAM/TLS port 9098 from the client and the connector."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.from_group["mwaa_self"].ip_protocol == "-1" && aws_vpc_security_group_ingress_rule.from_group["mwaa_self"].from_port == null
    error_message = "MWAA's group allows all traffic from itself."
  }

  assert {
    condition     = length(aws_flow_log.this) == 1 && aws_flow_log.this[0].traffic_type == "ALL"
    error_message = "VPC flow logs are on by default."
  }

  assert {
    condition     = aws_vpc.this.tags["Project"] == "pinterest-data-pipeline" && aws_vpc.this.tags["Name"] == "pdp-test"
    error_message = "Tags reach the resources."
  }
}

run "three_zones_private_only" {
  command = plan

  variables {
    az_count              = 3
    create_public_subnets = false
    enable_nat_gateway    = true
    flow_logs             = null
  }

  assert {
    condition     = length(aws_subnet.private) == 3 && length(aws_subnet.public) == 0
    error_message = "Three private subnets and no public ones."
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 0 && length(aws_internet_gateway.this) == 0
    error_message = "No NAT gateway without public subnets."
  }

  assert {
    condition     = length(aws_flow_log.this) == 0
    error_message = "Flow logs can be turned off."
  }
}

run "explicit_zones_skip_the_lookup" {
  command = plan

  variables {
    availability_zones = ["eu-west-1c", "eu-west-1a"]
  }

  assert {
    condition     = aws_subnet.private["0"].availability_zone == "eu-west-1c" && length(data.aws_availability_zones.available) == 0
    error_message = "Explicit zones are used in order, without a lookup."
  }
}

run "rejects_one_zone" {
  command = plan

  variables {
    az_count = 1
  }

  expect_failures = [var.az_count]
}
