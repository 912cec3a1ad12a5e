"""ember.utils: data loading, checkpointing, safetensors, hook handles, benchmark, tensorboard (each loaded on
first use)."""
import importlib


def __getattr__(name):
    if name in ("data", "checkpoint", "hooks", "safetensors", "benchmark", "model_zoo", "tensorboard"):
        module = importlib.import_module(f"ember.utils.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'ember.utils' has no attribute '{name}'")
