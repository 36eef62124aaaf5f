output "id" {
  description = "ID of the file system."
  value       = aws_fsx_lustre_file_system.this.id
}

output "dns_name" {
  description = "DNS name the instances mount."
  value       = aws_fsx_lustre_file_system.this.dns_name
}

output "mount_name" {
  description = "Lustre mount name."
  value       = aws_fsx_lustre_file_system.this.mount_name
}

output "security_group_id" {
  description = "Security group of the file system."
  value       = aws_security_group.this.id
}

output "subnet_ids" {
  description = "The subnet the file system lives in (one: Lustre is single-zone), for clients in its zone."
  value       = aws_fsx_lustre_file_system.this.subnet_ids
}
