"""The retrain step: a text classifier trained on the cleaned labels, and its evaluation."""
