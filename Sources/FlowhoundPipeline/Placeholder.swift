package enum FlowhoundPipelinePlaceholder {}
