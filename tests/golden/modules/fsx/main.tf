# An FSx for Lustre file system reachable from the Batch instances on the Lustre ports.

locals {
  # Lustre: 988 for the servers, 1018-1023 for the clients.
  lustre_ports = { lnet = [988, 988], clients = [1018, 1023] }
  sources      = concat(["self"], var.client_security_group_ids)
  ingress = {
    for pair in setproduct(keys(local.lustre_ports), local.sources) :
    "${pair[0]}-${pair[1]}" => { ports = local.lustre_ports[pair[0]], source = pair[1] }
  }
}

resource "aws_security_group" "this" {
  name        = "${var.name}-fsx"
  description = "Lustre traffic between the ${var.name} file system and its Batch instances."
  vpc_id      = var.vpc_id

  tags = {
    Name = "${var.name}-fsx"
  }
}

resource "aws_vpc_security_group_ingress_rule" "lustre" {
  for_each = local.ingress

  security_group_id            = aws_security_group.this.id
  description                  = "Lustre ${each.value.ports[0]}-${each.value.ports[1]}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.ports[0]
  to_port                      = each.value.ports[1]
  referenced_security_group_id = each.value.source == "self" ? aws_security_group.this.id : each.value.source
}

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.this.id
  description       = "All outbound traffic (Lustre servers connect back to clients)."
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_fsx_lustre_file_system" "this" {
  storage_capacity            = var.storage_gib
  deployment_type             = var.deployment_type
  per_unit_storage_throughput = var.per_unit_storage_throughput
  subnet_ids                  = [var.subnet_id]
  security_group_ids          = [aws_security_group.this.id]

  tags = {
    Name = var.name
  }

  lifecycle {
    # A Lustre file system cannot move to another subnet: a new subnet (say, a new default
    # subnet sorting first) must not replace it and lose its data. Replace it on purpose.
    ignore_changes = [subnet_ids]

    precondition {
      condition = (
        startswith(var.deployment_type, "SCRATCH_") ? var.per_unit_storage_throughput == null :
        contains(var.deployment_type == "PERSISTENT_1" ? [50, 100, 200] : [125, 250, 500, 1000], coalesce(var.per_unit_storage_throughput, 0))
      )
      error_message = "The per_unit_storage_throughput must be null for SCRATCH types, 50, 100 or 200 for PERSISTENT_1, and 125, 250, 500 or 1000 for PERSISTENT_2."
    }
  }
}
