"""Terraform on a target: finding and running the binary, its progress, the targets (the embedded
emulator and its moto fixes, LocalStack, AWS), the workspace a run uses."""
