import Testing
@testable import FlowhoundPipeline
