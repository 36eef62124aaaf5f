"""``towergen smoke`` on an emulator: the phases, the checks of the AWS objects and identities."""
