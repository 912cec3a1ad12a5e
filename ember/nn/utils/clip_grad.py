"""Gradient clipping."""
__all__ = []
