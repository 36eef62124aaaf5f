# The S3 bucket that holds Terraform state for a fleet of towergen environments (the
# environment files' `backend` section), and optionally a DynamoDB lock table. Created once per
# organisation or account, by hand, before any environment uses it: see README.md.

locals {
  kms               = var.kms_key_arn != null
  expire_old_states = coalesce(var.noncurrent_version_expiration_days, 0) > 0
  lock_table_name   = coalesce(var.lock_table_name, "${var.bucket_name}-locks")
  state_objects_arn = "${aws_s3_bucket.this.arn}/${var.state_key_prefix}*"
  lock_table_arn    = var.create_lock_table ? aws_dynamodb_table.lock[0].arn : null
}

# The bucket is made in the provider's region. Not aws_s3_bucket.this.region: in hashicorp/aws 6.x
# that is the resource's own region argument, and bucket_region (its replacement) is not in 5.x.
data "aws_region" "current" {}

resource "aws_s3_bucket" "this" {
  bucket = var.bucket_name

  # The state of every environment lives here: losing it orphans live AWS resources.
  lifecycle {
    prevent_destroy = true
  }
}

# Every write of a state file keeps the one before it: a broken apply can be rolled back.
resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = local.kms ? "aws:kms" : "AES256"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = local.kms
  }
}

# State is read and written over TLS only.
data "aws_iam_policy_document" "tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this.arn,
      "${aws_s3_bucket.this.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.tls_only.json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "old-state-versions"
    status = "Enabled"

    filter {}

    dynamic "noncurrent_version_expiration" {
      for_each = local.expire_old_states ? [var.noncurrent_version_expiration_days] : []
      content {
        noncurrent_days = noncurrent_version_expiration.value
      }
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

# Only for lock = {dynamodb_table: NAME} (Terraform before 1.10); the default lock is a file in
# the bucket itself and needs no table.
resource "aws_dynamodb_table" "lock" {
  count = var.create_lock_table ? 1 : 0

  name         = local.lock_table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "LockID"

  attribute {
    name = "LockID"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}

# What the identity that runs Terraform for the environments (a CI role) needs on the state,
# and nothing else: attach it to that role.
data "aws_iam_policy_document" "state_access" {
  # terraform init lists the bucket (its workspaces live under env:/, outside the prefix)
  statement {
    sid       = "ListStates"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.this.arn]
  }

  # plan reads the state; apply writes it; the native lock writes KEY.tflock next to it
  statement {
    sid       = "ReadWriteStates"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.state_objects_arn]
  }

  # the native lock (use_lockfile) is released by deleting KEY.tflock; states are never deleted
  statement {
    sid       = "ReleaseLockFiles"
    actions   = ["s3:DeleteObject"]
    resources = ["${local.state_objects_arn}.tflock"]
  }

  # the DynamoDB lock (lock = {dynamodb_table: NAME}): take, inspect and release a lock item
  dynamic "statement" {
    for_each = var.create_lock_table ? [local.lock_table_arn] : []
    content {
      sid       = "DynamoDbLock"
      actions   = ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
      resources = [statement.value]
    }
  }

  # SSE-KMS: S3 encrypts and decrypts the state with the key on the caller's behalf
  dynamic "statement" {
    for_each = local.kms ? [var.kms_key_arn] : []
    content {
      sid       = "StateEncryptionKey"
      actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
      resources = [statement.value]
    }
  }
}
