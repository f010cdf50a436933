"""Synthetic scene generator: physically based scenes written in the real products' formats."""
