"""Connectors to labeling tools. `relabel` itself never imports this package."""
