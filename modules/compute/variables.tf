variable "name" {
  description = "Prefix of every resource name (the environment name)."
  type        = string
}

variable "provisioning" {
  description = "\"SPOT\" or \"EC2\" (on-demand) for the work compute environment."
  type        = string
  default     = "SPOT"

  validation {
    condition     = contains(["SPOT", "EC2"], var.provisioning)
    error_message = "The provisioning must be \"SPOT\" or \"EC2\"."
  }
}

variable "max_vcpus" {
  description = "Most vCPUs the work compute environment runs at once."
  type        = number
}

variable "min_vcpus" {
  description = "vCPUs kept running when idle (they cost money)."
  type        = number
  default     = 0
}

variable "bid_percentage" {
  description = "Highest spot price as a percentage of the on-demand price (SPOT only)."
  type        = number
  default     = 100
}

variable "allocation_strategy" {
  description = "Batch allocation strategy of the work compute environment (SPOT_PRICE_CAPACITY_OPTIMIZED suits SPOT, BEST_FIT_PROGRESSIVE suits EC2)."
  type        = string

  validation {
    condition     = contains(["BEST_FIT", "BEST_FIT_PROGRESSIVE", "SPOT_CAPACITY_OPTIMIZED", "SPOT_PRICE_CAPACITY_OPTIMIZED"], var.allocation_strategy)
    error_message = "The allocation_strategy must be BEST_FIT, BEST_FIT_PROGRESSIVE, SPOT_CAPACITY_OPTIMIZED or SPOT_PRICE_CAPACITY_OPTIMIZED."
  }
}

variable "head_queue_name" {
  description = "Name of the job queue for the Nextflow head job."
  type        = string
}

variable "work_queue_name" {
  description = "Name of the job queue for the pipeline's tasks."
  type        = string
}

variable "instance_types" {
  description = "Instance types or families of the work compute environment."
  type        = list(string)
  default     = ["optimal"]
}

variable "head_max_vcpus" {
  description = "vCPUs of a separate on-demand compute environment for the head queue; null: the head queue uses the work compute environment."
  type        = number
  default     = null
}

variable "gpu" {
  description = "Run the work compute environment on the GPU (NVIDIA) ECS AMI."
  type        = bool
  default     = false
}

variable "ami_id" {
  description = "AMI for every instance (head and work); null: the ECS-optimized Amazon Linux 2023 AMI from its public SSM parameter (the GPU variant for work instances when gpu is true)."
  type        = string
  default     = null
}

variable "boot_disk_gib" {
  description = "Root volume size of every instance, GiB."
  type        = number
  default     = 50
}

variable "boot_disk_throughput" {
  description = "Root volume (gp3) throughput, MB/s; null: gp3's baseline (125). Forge uses 325 for Fusion without NVMe."
  type        = number
  default     = null
}

variable "ebs_kms_key_arn" {
  description = "A customer managed KMS key for every instance's boot volume; null: the account's default EBS key. The key policy must let the service-linked roles that launch Batch's instances use it (EC2 Auto Scaling User Guide, \"Required AWS KMS key policy for use with encrypted volumes\")."
  type        = string
  default     = null
}

variable "user_data" {
  description = "Launch template user data (MIME multipart), as plain text."
  type        = string
}

variable "instance_profile_arn" {
  description = "ARN of the ECS instance profile."
  type        = string
}

variable "service_role_arn" {
  description = "ARN of a Batch service role; null: the AWSServiceRoleForBatch service-linked role, which Batch needs to update a compute environment in place (launch template, AMI, instance types, subnets)."
  type        = string
  default     = null
}

variable "spot_fleet_role_arn" {
  description = "ARN of the spot fleet role (SPOT only); null for none."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Subnets the instances run in."
  type        = list(string)
}

variable "security_group_ids" {
  description = "Security groups of the instances."
  type        = list(string)
}

variable "instance_tags" {
  description = "Tags for the instances and volumes Batch launches."
  type        = map(string)
  default     = {}
}

variable "unschedulable_job_timeout_seconds" {
  description = "Cancel a job that stays RUNNABLE this long because no instance type can run it (600 to 86400)."
  type        = number
  default     = 14400

  validation {
    condition     = var.unschedulable_job_timeout_seconds >= 600 && var.unschedulable_job_timeout_seconds <= 86400
    error_message = "The unschedulable_job_timeout_seconds must be from 600 to 86400 (an AWS Batch limit)."
  }
}
