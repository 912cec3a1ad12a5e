"""ember.utils.benchmark.utils: the Timer, Measurement and Compare modules (PyTorch's layout)."""
