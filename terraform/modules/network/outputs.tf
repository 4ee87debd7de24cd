output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "CIDR block of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "Availability zones the subnets are in, in subnet order."
  value       = local.azs
}

output "private_subnet_ids" {
  description = "IDs of the private subnets, one per availability zone, in zone order."
  value       = [for k in sort(keys(aws_subnet.private)) : aws_subnet.private[k].id]
}

output "public_subnet_ids" {
  description = "IDs of the public subnets (empty when `create_public_subnets` is false)."
  value       = [for k in sort(keys(aws_subnet.public)) : aws_subnet.public[k].id]
}

output "security_group_ids" {
  description = "Security group IDs keyed by role (msk, client, connect, mwaa, db, ...)."
  value       = { for k, sg in aws_security_group.this : k => sg.id }
}

output "nat_public_ip" {
  description = "Public IP of the NAT gateway (null without one)."
  value       = try(aws_eip.nat[0].public_ip, null)
}

output "s3_endpoint_id" {
  description = "ID of the S3 gateway endpoint."
  value       = aws_vpc_endpoint.s3.id
}

output "interface_endpoint_ids" {
  description = "IDs of the interface endpoints, keyed like `interface_endpoints`."
  value       = { for k, e in aws_vpc_endpoint.interface : k => e.id }
}

output "flow_log_group_name" {
  description = "CloudWatch log group of the VPC flow logs (null when disabled)."
  value       = try(aws_cloudwatch_log_group.flow_logs[0].name, null)
}
