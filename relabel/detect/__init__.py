"""Detection: the kNN graph, the credibility scorers (kNN vote, KDE), their combination, and the
decisions (flags, reasons, automatic changes)."""
