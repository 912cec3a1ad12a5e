"""ember.optim: optimizers."""
