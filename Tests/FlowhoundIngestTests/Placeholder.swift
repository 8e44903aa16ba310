import Testing
@testable import FlowhoundIngest
