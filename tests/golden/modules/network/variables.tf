variable "vpc_id" {
  description = "VPC to use; null: the VPC of subnet_ids, or the region's default VPC when none are given."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Subnets to use; empty: every subnet of the VPC."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups to use; empty: the VPC's default security group."
  type        = list(string)
  default     = []
}
