"""Layers: see ember/nn/modules/__init__.py for the families."""
__all__ = []
