"""What towergen builds for an environment, decided once: the resolved environment (names, flags,
defaults, guard targets), where instances keep scratch data, what they run at boot, what they
download."""
