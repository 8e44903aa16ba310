package enum FlowhoundSinksPlaceholder {}
