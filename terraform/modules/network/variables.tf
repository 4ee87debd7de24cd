variable "name" {
  description = "Name prefix of every resource of the module (for example `pdp-demo`)."
  type        = string
}

variable "cidr_block" {
  description = "IPv4 CIDR block of the VPC."
  type        = string
  default     = "10.20.0.0/16"

  validation {
    condition     = can(cidrhost(var.cidr_block, 0))
    error_message = "cidr_block must be a valid IPv4 CIDR block, for example 10.20.0.0/16."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread the subnets over (MSK brokers are a multiple of it; MWAA uses the first two)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 2 && var.az_count <= 3
    error_message = "az_count must be 2 or 3 (MSK and MWAA need at least two zones)."
  }
}

variable "availability_zones" {
  description = "Explicit availability zone names. Null means the first `az_count` zones the region reports as available."
  type        = list(string)
  default     = null
}

variable "subnet_newbits" {
  description = "Bits added to the VPC prefix for each subnet (8 turns a /16 into /24 subnets)."
  type        = number
  default     = 8
}

variable "create_public_subnets" {
  description = "Create public subnets with an internet gateway (needed for a NAT gateway or a public Kafka client)."
  type        = bool
  default     = true
}

variable "enable_nat_gateway" {
  description = "Give the private subnets outbound internet through one NAT gateway (the Kafka client's user data and MWAA's pip install download packages). Needs public subnets."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "Interface VPC endpoints to create in the private subnets, keyed by a short name, value the service suffix (`sts` becomes com.amazonaws.<region>.sts). MSK Connect workers have no internet: STS is what their IAM authentication needs."
  type        = map(string)
  default = {
    sts = "sts"
  }
}

variable "security_groups" {
  description = <<-EOT
    Security groups to create, keyed by role. Every group allows all egress inside the VPC and HTTPS (443) to anywhere
    (package downloads and AWS APIs); ingress comes from `ingress_rules`.
  EOT
  type = map(object({
    description = string
  }))
  default = {
    msk     = { description = "MSK brokers" }
    client  = { description = "EC2 Kafka client running the Confluent REST Proxy" }
    connect = { description = "MSK Connect workers" }
    mwaa    = { description = "MWAA environment" }
    db      = { description = "RDS MySQL source database" }
  }
}

variable "ingress_rules" {
  description = <<-EOT
    Ingress rules between the groups, keyed by a unique rule name: traffic from `source` (a key of `security_groups`,
    or `vpc` for the whole VPC CIDR) to `target` on ports `from_port`-`to_port`
    (leave the ports null with protocol "-1" for all traffic).
  EOT
  type = map(object({
    target      = string
    source      = string
    from_port   = optional(number)
    to_port     = optional(number)
    protocol    = optional(string, "tcp")
    description = string
  }))
  default = {
    msk_from_client  = { target = "msk", source = "client", from_port = 9098, to_port = 9098, description = "Kafka IAM/TLS from the REST Proxy client" }
    msk_from_connect = { target = "msk", source = "connect", from_port = 9098, to_port = 9098, description = "Kafka IAM/TLS from MSK Connect workers" }
    client_from_vpc  = { target = "client", source = "vpc", from_port = 8082, to_port = 8082, description = "REST Proxy from the VPC (internal NLB and its health checks)" }
    mwaa_self        = { target = "mwaa", source = "mwaa", protocol = "-1", description = "MWAA components talk to each other (all traffic, as MWAA requires)" }
    db_from_client   = { target = "db", source = "client", from_port = 3306, to_port = 3306, description = "MySQL from the Kafka client (one-shot loader and emulator)" }
  }
}

variable "flow_logs" {
  description = "VPC flow logs to a CloudWatch log group (null disables them). `kms_key_arn` encrypts the log group."
  type = object({
    traffic_type      = optional(string, "ALL")
    retention_in_days = optional(number, 365)
    kms_key_arn       = optional(string)
  })
  default = {}
}

variable "tags" {
  description = "Tags added to every resource of the module."
  type        = map(string)
  default     = {}
}
