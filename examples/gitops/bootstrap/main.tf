# Bootstrap, once per state bucket: the bucket every environment file's backend section names.
# Its own state stays in this folder (terraform.tfstate, local) until you move it into the
# bucket it made (README.md). towergen does not render this root; run it by hand:
#
#   terraform init && terraform apply -var state_bucket=acme-towergen-state

provider "aws" {
  region = var.region

  # the state bucket lives in the shared tooling account, never in a workload account
  allowed_account_ids = [var.account_id]
}

module "state" {
  # In your own repository: a copy of towergen's modules/state-bucket, or
  # "git::https://<towergen repository>//modules/state-bucket?ref=<release tag>".
  source = "../../../modules/state-bucket"

  bucket_name = var.state_bucket
}

# The identity CI runs Terraform as (towergen.yml: the OIDC role) needs this on the state.
resource "aws_iam_policy" "state_access" {
  name        = "towergen-state-access"
  description = "Read and write towergen environments' Terraform state in ${var.state_bucket}."
  policy      = module.state.state_access_policy_json
}
