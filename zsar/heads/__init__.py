"""Heads trained on cached features, zero-shot inference and evaluation protocols."""
