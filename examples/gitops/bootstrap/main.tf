# Bootstrap, once per state bucket: the bucket every environment file's backend section names.
# Its own state stays in this folder (terraform.tfstate, local) until you move it into the
# bucket it made (README.md). towergen does not render this root; run it by hand:
#
#   terraform init && terraform apply -var state_bucket=acme-towergen-state \
#     -var account_id=333333333333 -var github_repository=acme/batch-environments \
#     -var 'deploy_role_arns=["arn:aws:iam::111111111111:role/towergen-deploy","arn:aws:iam::222222222222:role/towergen-deploy"]'

provider "aws" {
  region = var.region

  # the state bucket lives in the shared tooling account, never in a workload account
  allowed_account_ids = [var.account_id]
}

module "state" {
  # A copy of towergen's modules/state-bucket (towergen's tests keep it identical), so that this
  # folder works on its own; or "git::https://<towergen repository>//modules/state-bucket?ref=<tag>".
  source = "./state-bucket"

  bucket_name = var.state_bucket
}

# The identity CI runs Terraform as (towergen.yml: the OIDC role) needs this on the state.
resource "aws_iam_policy" "state_access" {
  name        = "towergen-state-access"
  description = "Read and write towergen environments' Terraform state in ${var.state_bucket}."
  policy      = module.state.state_access_policy_json
}
