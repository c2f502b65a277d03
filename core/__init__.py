"""Project-wide infrastructure below the apps (no domain code)."""
