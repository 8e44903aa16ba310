package enum FlowhoundRulesPlaceholder {}
