import Testing
@testable import FlowhoundCore
