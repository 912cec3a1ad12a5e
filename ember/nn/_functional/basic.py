"""Part of ember.nn.functional."""
__all__ = []
