variable "name" {
  description = "Prefix of every role, profile and policy name (the environment name)."
  type        = string
}

variable "role_names" {
  description = "Names of the job roles and the platform's role (the platform's files name them before they exist)."
  type = object({
    head_job    = string
    compute_job = string
    platform    = string
  })

  validation {
    condition     = alltrue([for n in values(var.role_names) : can(regex("^[A-Za-z0-9+=,.@_-]{1,64}$", n))])
    error_message = "Each role name must be 1 to 64 letters, digits and + = , . @ _ -."
  }
}

variable "credentials_type" {
  description = "How the platform signs in: \"user\" (an IAM user with an access key) or \"role\" (a role it assumes with an External ID; no long-lived secret)."
  type        = string
  default     = "user"

  validation {
    condition     = contains(["user", "role"], var.credentials_type)
    error_message = "The credentials_type must be \"user\" or \"role\"."
  }
}

variable "trusted_principal_arn" {
  description = "credentials_type = \"role\": the platform's AWS principal allowed to assume the role (and tag its session), such as Seqera Cloud's arn:aws:iam::161471496260:role/SeqeraPlatformCloudAccessRole."
  type        = string
  default     = null

  validation {
    condition     = var.credentials_type != "role" || var.trusted_principal_arn != null
    error_message = "A role for the platform needs trusted_principal_arn."
  }
}

variable "external_id" {
  description = "credentials_type = \"role\": the External ID the platform must present (sts:ExternalId)."
  type        = string
  default     = null

  validation {
    condition     = var.credentials_type != "role" || var.external_id != null
    error_message = "A role for the platform needs external_id."
  }
}

variable "ses_from_address" {
  description = "The only address the Nextflow head job may send notification mail from (ses:FromAddress, Nextflow's mail.from); null: no SES permission at all."
  type        = string
  default     = null
}

variable "pipeline_secrets" {
  description = "The platform's pipeline secrets: the platform may create, describe and delete tower-* secrets, and an execution role (<name>-execution) lets the ECS agent read them for the tasks."
  type        = bool
  default     = false
}

variable "aws_managed_policies" {
  description = "Launch policy only: also attach the platform's documented AWS managed policies (AmazonS3ReadOnlyAccess: read every bucket of the account; AmazonEC2ContainerRegistryReadOnly; CloudWatchLogsReadOnlyAccess: read every log group)."
  type        = bool
  default     = false
}

variable "create_user" {
  description = "credentials_type = \"user\": create the IAM user (and access key) that the platform uses."
  type        = bool
  default     = true
}

variable "user_name" {
  description = "Name of the IAM user; null: the value of name."
  type        = string
  default     = null
}

variable "user_policy" {
  description = "The platform's policy: \"launch\" (run pipelines on the queues) or \"forge\" (also update, disable and delete this environment's queues and compute environments, for a platform that manages them)."
  type        = string
  default     = "launch"

  validation {
    condition     = contains(["forge", "launch"], var.user_policy)
    error_message = "The user_policy must be \"forge\" or \"launch\"."
  }
}

variable "buckets" {
  description = "Buckets the platform, the head job and the tasks may use; read_only buckets get no write action. external: a read-only bucket outside this account (public data such as ngi-igenomes), which only the head job and the tasks read. kms_key_arn: the customer managed key the bucket encrypts with (SSE-KMS)."
  type = list(object({
    name        = string
    read_only   = bool
    external    = optional(bool, false)
    kms_key_arn = optional(string)
  }))
  default = []

  validation {
    condition     = alltrue([for b in var.buckets : !b.external || b.read_only])
    error_message = "A bucket outside this account (external) is read only."
  }
}

variable "create_compute_roles" {
  description = "Create the ECS instance role and profile (and the other roles asked for below)."
  type        = bool
  default     = true
}

variable "create_batch_service_role" {
  description = "Create a Batch service role; without one Batch uses its service-linked role, which it needs to update compute environments in place."
  type        = bool
  default     = false
}

variable "create_spot_fleet_role" {
  description = "Create the spot fleet role (spot compute environments)."
  type        = bool
  default     = false
}

variable "job_queue_names" {
  description = "The environment's job queues: the platform and the head job may submit to exactly these, and the forge policy manage them."
  type        = list(string)
  default     = []
}

variable "compute_environment_arns" {
  description = "The environment's compute environments: the forge policy may update and delete exactly these."
  type        = list(string)
  default     = []
}

variable "ebs_kms_key_arn" {
  description = "With ebs_autoscale: the customer managed KMS key the instances' new volumes encrypt with (the account's default EBS key, which amazon-ebs-autoscale uses); the instance role may use it through EC2 to create and attach them. null: the AWS managed key, which needs no permission."
  type        = string
  default     = null
}

variable "ebs_autoscale" {
  description = "Let each instance create, attach and delete its own EBS volumes (amazon-ebs-autoscale)."
  type        = bool
  default     = false
}

variable "fsx" {
  description = "Let the forge policy manage FSx for Lustre file systems."
  type        = bool
  default     = false
}
