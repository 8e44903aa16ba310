@testable import FlowhoundPipeline
import FlowhoundDetect
import Testing

/// The scan summary names the correlation engine's forgotten schema bindings (`CorrelationBindingFloodTests` floods
/// the engine itself), and says nothing when there were none.
@Suite struct CorrelationBindingSummaryTests {
    @Test("evicted schema bindings get a summary line with the count and the cap; none, no line")
    func summaryLine() {
        var report = ScanReport()
        #expect(!ScanRunner.summaryText(report, samples: 0).contains("bindings"))
        report.correlationBindingsEvicted = 1
        #expect(ScanRunner.summaryText(report, samples: 0).contains("1 binding was forgotten"))
        report.correlationBindingsEvicted = 4_976
        let s = ScanRunner.summaryText(report, samples: 0)
        #expect(
            s.contains(
                "flowhound: correlations met more schemas in use than the \(CorrelationPolicy().maxSchemaBindings) whose "
                    + "field bindings they keep: 4976 bindings were forgotten and rebuilt (slower, same findings)\n"), "\(s)")
    }
}
