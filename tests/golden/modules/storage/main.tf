# The work bucket: private, encrypted, owner-enforced, with a rule that expires work files.

locals {
  expire = coalesce(var.expiration_days, 0) > 0
  abort  = coalesce(var.abort_incomplete_multipart_upload_days, 0) > 0
}

resource "aws_s3_bucket" "this" {
  count = var.create_bucket ? 1 : 0

  bucket        = var.bucket_name
  force_destroy = var.force_destroy
}

data "aws_s3_bucket" "existing" {
  count = var.create_bucket ? 0 : 1

  bucket = var.bucket_name
}

resource "aws_s3_bucket_public_access_block" "this" {
  count = var.create_bucket ? 1 : 0

  bucket                  = aws_s3_bucket.this[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  count = var.create_bucket ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  count = var.create_bucket && (local.expire || local.abort) ? 1 : 0

  bucket = aws_s3_bucket.this[0].id

  rule {
    id     = "expire-work-files"
    status = "Enabled"

    filter {
      prefix = var.lifecycle_prefix
    }

    dynamic "expiration" {
      for_each = local.expire ? [var.expiration_days] : []
      content {
        days = expiration.value
      }
    }

    dynamic "abort_incomplete_multipart_upload" {
      for_each = local.abort ? [var.abort_incomplete_multipart_upload_days] : []
      content {
        days_after_initiation = abort_incomplete_multipart_upload.value
      }
    }
  }
}
