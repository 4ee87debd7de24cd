output "instance_id" {
  description = "ID of the EC2 Kafka client (`aws ssm start-session --target <id>`)."
  value       = aws_instance.this.id
}

output "private_ip" {
  description = "Private IP of the instance."
  value       = aws_instance.this.private_ip
}

output "public_ip" {
  description = "Public IP of the instance (null in a private subnet)."
  value       = try(aws_instance.this.public_ip, null)
}

output "role_name" {
  description = "Name of the instance role (attach more policies to it, e.g. the source_db loader's)."
  value       = aws_iam_role.this.name
}

output "role_arn" {
  description = "ARN of the instance role."
  value       = aws_iam_role.this.arn
}

output "rest_proxy_url" {
  description = "URL of the REST Proxy inside the VPC: the NLB's when there is one, else the instance's private address."
  value       = var.load_balancer != null ? "http://${try(aws_lb.this[0].dns_name, "")}:${var.rest_proxy_port}" : "http://${aws_instance.this.private_ip}:${var.rest_proxy_port}"
}

output "nlb_arn" {
  description = "ARN of the internal NLB in front of the REST Proxy (null without one); what an API Gateway VPC link targets."
  value       = try(aws_lb.this[0].arn, null)
}

output "nlb_dns_name" {
  description = "DNS name of the internal NLB (null without one)."
  value       = try(aws_lb.this[0].dns_name, null)
}

output "target_group_arn" {
  description = "ARN of the NLB target group that health-checks the REST Proxy (null without an NLB)."
  value       = try(aws_lb_target_group.this[0].arn, null)
}

output "user_data" {
  description = "The rendered user data script (for review; it contains no secrets)."
  value       = local.user_data
}

output "vpc_link_id" {
  description = "ID of the API Gateway VPC link to the NLB (null without one): the api_gateway module's `vpc_link_id`."
  value       = try(aws_api_gateway_vpc_link.this[0].id, null)
}
