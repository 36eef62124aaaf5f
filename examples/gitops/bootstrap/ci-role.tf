# The identity GitHub Actions runs as (towergen.yml: vars.TOWERGEN_CI_ROLE_ARN), through OIDC:
# no stored AWS keys. It may only read and write the state and assume the deploy role that each
# environment file names (assume_role.role_arn); that role, in each workload account, holds the
# permissions to build the environments and trusts this role (README.md).

resource "aws_iam_openid_connect_provider" "github" {
  url            = "https://token.actions.githubusercontent.com"
  client_id_list = ["sts.amazonaws.com"]
}

data "aws_iam_policy_document" "ci_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.github.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    # pull requests of this repository (plan) and the approved apply environment on main
    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values = [
        "repo:${var.github_repository}:pull_request",
        "repo:${var.github_repository}:environment:towergen-apply",
      ]
    }
  }
}

resource "aws_iam_role" "ci" {
  name               = "towergen-ci"
  assume_role_policy = data.aws_iam_policy_document.ci_trust.json
}

resource "aws_iam_role_policy_attachment" "ci_state" {
  role       = aws_iam_role.ci.name
  policy_arn = aws_iam_policy.state_access.arn
}

# Terraform, for each environment, assumes the role its file names (assume_role.role_arn).
data "aws_iam_policy_document" "ci_assume_deploy" {
  statement {
    actions   = ["sts:AssumeRole"]
    resources = var.deploy_role_arns
  }
}

resource "aws_iam_role_policy" "ci_assume_deploy" {
  name   = "assume-towergen-deploy-roles"
  role   = aws_iam_role.ci.id
  policy = data.aws_iam_policy_document.ci_assume_deploy.json
}
