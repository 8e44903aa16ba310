import Testing
@testable import FlowhoundParse
