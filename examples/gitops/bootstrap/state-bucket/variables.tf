variable "bucket_name" {
  description = "Name of the state bucket (globally unique), as in the environment files' backend.bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "Encrypt state with this KMS key (SSE-KMS, as backend.kms_key_id); null: S3-managed keys (SSE-S3)."
  type        = string
  default     = null
}

variable "noncurrent_version_expiration_days" {
  description = "Delete earlier versions of a state file after this many days; null or 0 keeps them all."
  type        = number
  default     = 90
}

variable "create_lock_table" {
  description = "Also create a DynamoDB lock table (only for backend.lock: {dynamodb_table: NAME})."
  type        = bool
  default     = false
}

variable "lock_table_name" {
  description = "Name of the DynamoDB lock table; null: BUCKET_NAME-locks."
  type        = string
  default     = null
}

variable "state_key_prefix" {
  description = "Key prefix of the state files, which state_access_policy_json is limited to (towergen's default keys are towergen/NAME/terraform.tfstate)."
  type        = string
  default     = "towergen/"
}
