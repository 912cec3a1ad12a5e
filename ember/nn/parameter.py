"""Parameter and Buffer."""
