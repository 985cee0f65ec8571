"""Sans-IO protocol core."""
