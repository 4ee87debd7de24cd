output "db_instance_identifier" {
  description = "Identifier of the DB instance (null when not created)."
  value       = try(aws_db_instance.this[0].identifier, null)
}

output "address" {
  description = "Host name of the DB instance (null when not created)."
  value       = try(aws_db_instance.this[0].address, null)
}

output "port" {
  description = "Port of the DB instance (null when not created)."
  value       = try(aws_db_instance.this[0].port, null)
}

output "db_name" {
  description = "Name of the source database."
  value       = var.db_name
}

output "master_user_secret_arn" {
  description = "Secrets Manager secret holding the master user name and password (JSON keys `username`, `password`)."
  value       = local.secret_arn
}

output "db_url_template" {
  description = "SQLAlchemy URL of the database with the password left out (read it from the secret)."
  value       = var.create ? "mysql+pymysql://${var.master_username}:<password from ${coalesce(local.secret_arn, "the master user secret")}>@${try(aws_db_instance.this[0].address, "")}:${try(aws_db_instance.this[0].port, 3306)}/${var.db_name}" : null
}

output "loader_document_name" {
  description = "Name of the SSM document that seeds the database (null without a loader)."
  value       = try(aws_ssm_document.loader[0].name, null)
}

output "loader_command" {
  description = "The exact command that runs the one-shot loader (null without a loader)."
  value       = local.create_loader ? "aws ssm send-command --region ${data.aws_region.current.name} --document-name ${try(aws_ssm_document.loader[0].name, "")} --instance-ids ${var.loader.instance_id} --parameters Rows=${var.loader.rows} --comment 'seed ${var.db_name}'" : null
}
