"""Serial devices: pure parsers, and one reader thread per port that survives unplugging."""
