"""Readers for the real products and the common region grid."""
