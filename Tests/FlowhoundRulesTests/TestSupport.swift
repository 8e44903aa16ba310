import FlowhoundCore
import Testing

@testable import FlowhoundRules

/// A hand-built schema resembling a Zeek log, with one list field and one boolean field.
let testSchema = Schema(
    format: .zeekJSON, logType: "test",
    fields: [
        FieldSpec(name: "proto"), FieldSpec(name: "id.resp_p", type: .port), FieldSpec(name: "id.orig_h", type: .address),
        FieldSpec(name: "id.resp_h", type: .address), FieldSpec(name: "query"),
        FieldSpec(name: "answers", type: .list, listSeparator: UInt8(ascii: ",")), FieldSpec(name: "rejected", type: .bool),
        FieldSpec(name: "uri"), FieldSpec(name: "user_agent"), FieldSpec(name: "orig_bytes", type: .count),
        FieldSpec(name: "note"), FieldSpec(name: "path"), FieldSpec(name: "cmd"),
    ],
    aliases: ["dst_port": "id.resp_p", "src_ip": "id.orig_h", "dst_ip": "id.resp_h"],
    logSources: [LogSource(product: "zeek", service: "test")])

/// Owns the bytes of one event for the duration of a test.
final class TestEvent {
    let schema: Schema
    var record: EventRecord
    private var buffers: [UnsafeMutablePointer<UInt8>] = []

    /// `fields`: name → value; a value of nil sets the field present-but-unset is not possible, so nil = absent.
    init(_ fields: [String: String], line: String = "", schema: Schema = testSchema) {
        self.schema = schema
        record = EventRecord(capacity: schema.fieldCount)
        for (name, value) in fields {
            guard let slot = schema.slot(name) else { fatalError("test schema has no field \(name)") }
            let p = copy(value)
            record[slot] = FieldValue(base: p, count: value.utf8.count, listSeparator: schema.fields[slot].listSeparator)
        }
        let l = copy(line)
        record.line = UnsafePointer(l)
        record.lineLength = line.utf8.count
    }

    private func copy(_ s: String) -> UnsafePointer<UInt8> {
        let bytes = Array(s.utf8)
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        p.initialize(from: bytes, count: bytes.count)
        buffers.append(p)
        return UnsafePointer(p)
    }

    deinit {
        for b in buffers { b.deallocate() }
        record.deallocate()
    }
}

/// A rule document around a detection block (indented by the caller with 4 spaces per level under `detection:`).
func ruleYAML(_ detection: String, title: String = "test rule", extra: String = "") -> String {
    """
    title: \(title)
    id: 00000000-0000-0000-0000-000000000001
    status: test
    level: high
    logsource:
        product: zeek
        service: test
    \(extra)detection:
    \(detection)
    """
}

/// Loads one rule from YAML; fails the test on any error.
func loadRule(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> SigmaRule? {
    let r = SigmaLoader.load(yaml: yaml, path: "t.yml")
    let errors = r.errors
    #expect(errors.isEmpty, "unexpected diagnostics: \(errors)", sourceLocation: sourceLocation)
    #expect(r.rules.count == 1, sourceLocation: sourceLocation)
    return r.rules.first
}

/// Compiles one rule and evaluates it on events; returns one Bool per event.
func evaluate(_ yaml: String, _ events: [TestEvent], placeholders: [String: [String]] = [:],
              sourceLocation: SourceLocation = #_sourceLocation) -> [Bool] {
    guard let rule = loadRule(yaml, sourceLocation: sourceLocation) else { return [] }
    let set = CompiledRuleSet(rules: [rule], schema: testSchema, placeholders: placeholders)
    var out: [Int] = []
    return events.map { e in
        out.removeAll(keepingCapacity: true)
        set.matches(e.record, into: &out)
        return out == [0]
    }
}

/// Shorthand: a one-selection rule `sel: {<item>}` evaluated on events given as field dictionaries.
func check(_ item: String, _ events: [[String: String]], sourceLocation: SourceLocation = #_sourceLocation) -> [Bool] {
    let yaml = ruleYAML("    sel:\n        \(item)\n    condition: sel")
    return evaluate(yaml, events.map { TestEvent($0) }, sourceLocation: sourceLocation)
}

/// Diagnostics for a YAML text.
func diagnostics(_ yaml: String) -> [Diagnostic] { SigmaLoader.load(yaml: yaml, path: "t.yml").diagnostics }
