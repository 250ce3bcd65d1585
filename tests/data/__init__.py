"""Test data shared by several test modules (not shipped)."""
