package enum FlowhoundDetectPlaceholder {}
