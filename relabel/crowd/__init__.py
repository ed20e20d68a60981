"""Several annotators per item: votes (:mod:`.votes`), the Dawid–Skene estimator with relabel's
model as one more annotator (:mod:`.estimate`), consensus and annotator tables
(:mod:`.consensus`) and agreement coefficients (:mod:`.agreement`). Pure: arrays and frames in,
arrays and frames out; :mod:`relabel.crowd.api` is the shell that reads files and runs the
model."""
