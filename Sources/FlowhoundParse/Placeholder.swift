package enum FlowhoundParsePlaceholder {}
