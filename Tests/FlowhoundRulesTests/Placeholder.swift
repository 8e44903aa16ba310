import Testing
@testable import FlowhoundRules
