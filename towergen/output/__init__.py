"""Writing the output tree: folder handles that refuse links, staging, the lock, the manifest and
what towergen owns; ``towergen changed``."""
