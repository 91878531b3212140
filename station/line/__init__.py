"""The line: the scan rule, reading scanned codes, the station desk, each station's state."""
