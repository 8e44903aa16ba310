import FlowhoundCore
import FlowhoundDetect
import FlowhoundRules
import Testing

/// Seconds → nanoseconds of log time.
func sec(_ s: Int64) -> Int64 { s * 1_000_000_000 }

/// A detection rule document that the tests "match" by hand (the matcher is not under test here).
func baseRule(_ name: String, level: String = "low") -> String {
    """
    title: base \(name)
    name: \(name)
    level: \(level)
    logsource: {product: test}
    detection:
        sel: {kind: \(name)}
        condition: sel
    """
}

/// Loads rules and correlations from YAML, builds a `CorrelationEngine`, and feeds it hand-made events.
final class CorrelationHarness {
    static let fieldNames = [
        "ts", "src", "dst", "user", "bytes", "kind", "server", "client", "src_ip", "dst_ip", "host",
    ]
    let schema = Schema(
        format: .zeekJSON, logType: "test", fields: CorrelationHarness.fieldNames.map { FieldSpec(name: $0) },
        roles: [.timestamp: "ts", .sourceIP: "src", .destinationIP: "dst", .user: "user"],
        logSources: [LogSource(product: "test")])
    let loaded: SigmaLoadResult
    var engine: CorrelationEngine!
    var out: [Finding] = []
    private var record = EventRecord(capacity: CorrelationHarness.fieldNames.count)
    private let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 8192)
    private(set) var line: Int64 = 0

    init(
        _ documents: [String], policy: CorrelationPolicy = CorrelationPolicy(), minimumLevel: Severity = .informational,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        loaded = SigmaLoader.load(yaml: documents.joined(separator: "\n---\n"), path: "c.yml")
        #expect(loaded.errors.isEmpty, "\(loaded.errors)", sourceLocation: sourceLocation)
        engine = CorrelationEngine(
            rules: loaded.rules, correlations: loaded.correlations, policy: policy, minimumLevel: minimumLevel
        ) { [unowned self] in self.out.append($0) }
    }

    deinit {
        record.deallocate()
        buffer.deallocate()
    }

    func ruleIndex(_ name: String) -> Int { loaded.rules.firstIndex { $0.name == name }! }

    /// One event at `ns` (log time, nanoseconds) that matched `rule`, with the given field values.
    func feed(_ rule: String, ns: Int64, _ fields: [String: String] = [:], advance: Bool = true) {
        line += 1
        record.reset(fieldCount: CorrelationHarness.fieldNames.count)
        var off = 0
        var text = "{\"rule\":\"\(rule)\",\"t\":\(ns)"
        for (k, v) in fields.sorted(by: { $0.key < $1.key }) { text += ",\"\(k)\":\"\(v)\"" }
        text += "}"
        func put(_ s: String) -> (UnsafePointer<UInt8>, Int) {
            let b = Array(s.utf8)
            for (i, c) in b.enumerated() { buffer[off + i] = c }
            defer { off += b.count }
            return (UnsafePointer(buffer + off), b.count)
        }
        let (lp, ln) = put(text)
        record.line = lp
        record.lineLength = ln
        for (k, v) in fields {
            guard let slot = schema.slot(k) else { fatalError("no field \(k)") }
            let (p, n) = put(v)
            record[slot] = FieldValue(base: p, count: n)
        }
        record.timestamp = Timestamp(nanoseconds: ns)
        if advance { engine.advance(to: Timestamp(nanoseconds: ns)) }
        let r = ruleIndex(rule)
        #expect(engine.isReferenced(ruleIndex: r))
        engine.observe(ruleIndex: r, record: record, schema: schema, origin: EventOrigin(path: "events.log", line: line, byteOffset: line * 100))
    }

    func feed(_ rule: String, at s: Int64, _ fields: [String: String] = [:]) { feed(rule, ns: sec(s), fields) }

    @discardableResult
    func finish() -> [Finding] {
        engine.finish()
        return out
    }
}

extension Finding {
    var metric: String? { group["correlation.metric"] }
    var windows: Int? { group["correlation.windows"].flatMap { Int($0) } }
    var firedAt: String? { group["correlation.fired_at"] }
    var lines: [Int64] { evidence.map(\.line) }
}
