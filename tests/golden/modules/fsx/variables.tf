variable "name" {
  description = "Prefix of every resource name (the environment name)."
  type        = string
}

variable "vpc_id" {
  description = "VPC of the file system's security group."
  type        = string
}

variable "subnet_id" {
  description = "Subnet of the file system (only used when it is created: a file system never moves)."
  type        = string
}

variable "client_security_group_ids" {
  description = "Security groups of the instances that mount the file system."
  type        = list(string)
}

variable "storage_gib" {
  description = "Storage capacity, GiB: 1200 or a multiple of 2400 (SCRATCH_1: 1200, 2400 or a multiple of 3600)."
  type        = number
  default     = 1200
}

variable "deployment_type" {
  description = "SCRATCH_1, SCRATCH_2, PERSISTENT_1 or PERSISTENT_2."
  type        = string
  default     = "SCRATCH_2"

  validation {
    condition     = contains(["SCRATCH_1", "SCRATCH_2", "PERSISTENT_1", "PERSISTENT_2"], var.deployment_type)
    error_message = "The deployment_type must be SCRATCH_1, SCRATCH_2, PERSISTENT_1 or PERSISTENT_2."
  }
}

variable "per_unit_storage_throughput" {
  description = "MB/s per TiB: required for PERSISTENT types (50, 100 or 200 for PERSISTENT_1; 125, 250, 500 or 1000 for PERSISTENT_2), null for scratch."
  type        = number
  default     = null
}
