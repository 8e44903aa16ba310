import FlowhoundCore
import FlowhoundSinks

/// Everything `flowhound scan` was asked to do.
package struct ScanOptions: Sendable {
    package var paths: [String]
    /// Rule directories or files; empty means the default rules directory (`RulesLocator`).
    package var rulePaths: [String] = []
    package var alertFormat: AlertFormat = .json
    /// Append alerts here instead of standard output.
    package var outputPath: String?
    /// Colour text alerts (only sensible on a terminal).
    package var colour = false
    /// The site file; nil means `site.yml` in the default rules directory, when there is one.
    package var sitePath: String?
    /// The state store (baselines) to read before and write after the scan (`--state`).
    package var statePath: String?
    /// Run the behavioural detectors of the loaded rules (`detector:` documents).
    package var detectorsEnabled = true
    /// Learn only: build the baseline, write no findings (`baseline learn`).
    package var learnOnly = false
    /// Treat events before this log time as learning for first-seen detectors (`--learn-from`).
    package var learnFrom: Timestamp?
    /// A YAML field map for generic JSON inputs (`--field-map`).
    package var fieldMapPath: String?
    /// Findings below this level are not written.
    package var minimumLevel: Severity = .informational
    /// Findings at or above this level make the exit status 1.
    package var failLevel: Severity = .informational
    /// Suppress the summary on standard error (errors are still printed).
    package var quiet = false
    /// Force one input format instead of sniffing each input.
    package var forcedFormat: LogFormat?
    package var maxLineLength = 1 << 20
    /// How repeated matches are merged into one finding.
    /// Matches of one rule from one source within this many seconds (log time) become one finding; 0 = every match.
    package var mergeWindowSeconds: Int64 = 300
    /// Most merged findings held open at once.
    package var maxOpenFindings = 10_000
    /// Scan inputs in the order of their first event's time (`InputOrdering`), not in the order given.
    package var orderInputsByTime = true
    /// Keep merge windows open from one input to the next (inputs are parts of one stream, e.g. rotations).
    package var mergeAcrossInputs = true
    /// How several inputs are merged into one log-time stream (`--jobs` sets `merge.jobs`); see `EventMerge`.
    package var merge = EventMerge.Options()
    /// Malformed-line samples printed per input, at most.
    package var malformedSamples = 3
    /// Alert outputs and suppression (`AlertOutputs`).
    package var alerts = AlertOutputOptions()
    /// Draw a progress bar on standard error (only when it is a terminal).
    package var progress = false

    package init(paths: [String]) { self.paths = paths }
}

/// What a scan produced, for the exit status and for tests.
package struct ScanReport: Sendable {
    package var findingsWritten = 0
    package var findingsAtFailLevel = 0
    package var errors: [Diagnostic] = []
    package var warnings: [Diagnostic] = []
    package var inputs: [InputStats] = []
    package var rulesLoaded = 0
    package var detectorsLoaded = 0
    package var baselineRestored = false
    package var baselineSaved = false
    /// The learned state at the end of the scan.
    package var baseline = BaselineSnapshot()
    /// Counters of the log-time merge of several inputs (all zero for one input).
    package var merge = EventMerge.Stats()
    /// Matches suppressed by the site's allow entries: (entry location, reason, count).
    package var allowed: [(String, String, Int)] = []
    /// What the alert outputs did (written, dropped, failed, merged by suppression).
    package var delivery = AlertSinkSet.Summary()
    /// Slot bindings of schemas still in use the correlation engine forgot at `CorrelationPolicy.maxSchemaBindings`
    /// (`CorrelationEngine.schemaBindingsEvicted`: rebuilt when the schema comes back).
    package var correlationBindingsEvicted = 0

    /// 0 nothing found at or above the fail level, 1 findings, 2 errors (2 wins).
    package var exitStatus: Int32 { !errors.isEmpty ? 2 : (findingsAtFailLevel > 0 ? 1 : 0) }

    package var totalLines: Int64 { inputs.reduce(0) { $0 + $1.lines } }
    package var totalMalformed: Int64 { inputs.reduce(0) { $0 + $1.malformed } }
}

/// Counters for one input.
package struct InputStats: Sendable {
    package var path: String
    package var format: String?
    package var lines: Int64 = 0
    package var events: Int64 = 0
    package var malformed: Int64 = 0
    package var malformedByReason: [String: Int64] = [:]
    /// The first few malformed lines: (line number, reason).
    package var malformedSamples: [(Int64, String)] = []
    package var overlongLines: Int64 = 0
    /// The scan sink's schema caches: earlier schemas replaced among the 4 kept for a quick switch back, the most
    /// kept at once, and compiled schemas forgotten at 32 (`ScanSink.others`, `ScanSink.adopted`).
    package var keptSchemasEvicted: Int64 = 0
    package var keptSchemasHighWater = 0
    package var adoptedSchemasEvicted: Int64 = 0
    /// Compiled rule sets and schemas in use this input's schemas pushed out of the scan's shared cache (at
    /// `RuleCache.keyCapacity` and `RuleCache.objectCapacity`).
    package var sharedRuleSetsEvicted: Int64 = 0
    package var sharedSchemasEvicted: Int64 = 0
    package var bytesDecoded: Int64 = 0
    package var compressed = false
    package var skipped: String?

    package init(path: String) { self.path = path }
}
