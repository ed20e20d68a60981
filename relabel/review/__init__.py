"""Human review: what reviewers see, and their decisions merged back (the Label Studio side is
``connectors/label_studio``)."""
