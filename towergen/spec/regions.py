"""AWS region codes that an environment file may name, with their partition.

Kept as data so that a typo ("eu-west1") is caught before Terraform ever runs. New regions are
added here; the list was checked against the AWS regions page in November 2026.
"""

from __future__ import annotations

REGIONS: dict[str, str] = {
    # aws (commercial)
    "af-south-1": "aws",
    "ap-east-1": "aws",
    "ap-east-2": "aws",
    "ap-northeast-1": "aws",
    "ap-northeast-2": "aws",
    "ap-northeast-3": "aws",
    "ap-south-1": "aws",
    "ap-south-2": "aws",
    "ap-southeast-1": "aws",
    "ap-southeast-2": "aws",
    "ap-southeast-3": "aws",
    "ap-southeast-4": "aws",
    "ap-southeast-5": "aws",
    "ap-southeast-6": "aws",
    "ap-southeast-7": "aws",
    "ca-central-1": "aws",
    "ca-west-1": "aws",
    "eu-central-1": "aws",
    "eu-central-2": "aws",
    "eu-north-1": "aws",
    "eu-south-1": "aws",
    "eu-south-2": "aws",
    "eu-west-1": "aws",
    "eu-west-2": "aws",
    "eu-west-3": "aws",
    "il-central-1": "aws",
    "me-central-1": "aws",
    "me-south-1": "aws",
    "mx-central-1": "aws",
    "sa-east-1": "aws",
    "us-east-1": "aws",
    "us-east-2": "aws",
    "us-west-1": "aws",
    "us-west-2": "aws",
    # aws-us-gov
    "us-gov-east-1": "aws-us-gov",
    "us-gov-west-1": "aws-us-gov",
    # aws-cn
    "cn-north-1": "aws-cn",
    "cn-northwest-1": "aws-cn",
}
