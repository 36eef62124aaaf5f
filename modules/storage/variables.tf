variable "bucket_name" {
  description = "Name of the work bucket."
  type        = string
}

variable "create_bucket" {
  description = "Create the bucket; false: it exists already and is only looked up."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let destroy delete the bucket with every object in it (created buckets only)."
  type        = bool
  default     = false
}

variable "expiration_days" {
  description = "Delete objects under lifecycle_prefix after this many days; null or 0 disables (created buckets only)."
  type        = number
  default     = null
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Abort unfinished multipart uploads after this many days; null or 0 disables (created buckets only)."
  type        = number
  default     = 7
}

variable "lifecycle_prefix" {
  description = "Key prefix the lifecycle rule applies to; \"\" is the whole bucket (created buckets only)."
  type        = string
  default     = ""
}
