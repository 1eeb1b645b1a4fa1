"""Stage 1: datasets, decoding, backbones and text encoders that fill the feature cache."""
