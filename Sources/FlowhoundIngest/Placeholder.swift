package enum FlowhoundIngestPlaceholder {}
