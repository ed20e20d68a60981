"""Label Studio review connector (see the review-loop issue): not implemented yet."""
