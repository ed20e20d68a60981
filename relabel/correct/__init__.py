"""Decisions from posteriors: flags, suggestions and abstentions."""
