"""Embedding: the encoder (a Hugging Face model, offline by default), the on-disk vector cache, and
precomputed vectors."""
