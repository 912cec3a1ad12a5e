"""Runnable examples shipped with ember; `python -m ember.examples` runs the seed walkthrough."""
