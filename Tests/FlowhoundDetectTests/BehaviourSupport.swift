import Foundation
import FlowhoundTestSupport
import Testing
import FlowhoundCore
import FlowhoundRules
@testable import FlowhoundDetect
@testable import FlowhoundParse

/// ../shared/corpus relative to the package root.
let behaviourCorpusRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/corpus")
let behaviourCorpusAvailable: Bool = FileManager.default.fileExists(atPath: behaviourCorpusRoot.path)
let packageRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// A rule of `type` with parameter overrides.
func detectorRule(
    _ type: DetectorType, id: String? = nil, level: Severity = .medium, key: String? = nil,
    _ params: [String: DetectorParameterValue] = [:]
) -> DetectorRule {
    DetectorRule(
        id: id ?? "test.\(type.rawValue)", title: "test \(type.rawValue)", level: level,
        tags: ["attack.discovery", "attack.t1046"], type: type, key: key, parameters: params)
}

func num(_ d: Double) -> DetectorParameterValue { .number(d) }

/// Drives a `BehaviourEngine` with real decoder output: Zeek JSON, syslog, Windows JSON lines.
final class BehaviourFeeder {
    let engine: BehaviourEngine
    private var decoders: [String: any LineDecoder] = [:]
    private var record = EventRecord(capacity: 64)
    private var lineNo: [String: Int64] = [:]

    init(_ rules: [DetectorRule], site: SiteConfiguration = SiteConfiguration(), options: BehaviourEngine.Options = .init()) {
        let sink = Box()
        engine = BehaviourEngine(rules: rules, site: site, options: options) { sink.items.append($0) }
        sinkBox = sink
    }

    private let sinkBox: Box
    final class Box { var items: [Finding] = [] }

    /// Findings emitted so far, in order.
    var all: [Finding] { sinkBox.items }
    func kind(_ k: String) -> [Finding] { all.filter { $0.group["kind"] == k } }

    deinit { record.deallocate() }

    /// Feeds one line decoded as `format` from a file named `fileName`.
    func line(_ text: String, format: LogFormat = .zeekJSON, fileName: String = "conn.log") {
        let key = format.rawValue + "|" + fileName
        let d: any LineDecoder
        if let x = decoders[key] { d = x } else {
            let ctx = DecoderContext(referenceTime: Timestamp(seconds: Int64(day0) + 40 * 86_400))
            d = makeDecoder(format: format, fileName: fileName, requestedFields: [], maxLineLength: 1 << 20, context: ctx)!
            decoders[key] = d
        }
        lineNo[key, default: 0] += 1
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBufferPointer { b in
            let p = UnsafePointer(b.baseAddress!)
            var out = d.decode(p, b.count, into: &record)
            var guardN = 0
            while out == .schemaChanged && guardN < 3 {
                record.ensureCapacity(d.schema.fieldCount)
                out = d.decode(p, b.count, into: &record)
                guardN += 1
            }
            if out == .event {
                engine.observe(record: record, schema: d.schema, origin: EventOrigin(path: fileName, line: lineNo[key]!, byteOffset: 0))
            }
        }
    }

    func conn(
        _ ts: Double, _ src: String, _ dst: String, dport: Int, sport: Int = 40_000, proto: String = "tcp",
        service: String? = nil, state: String = "SF", history: String? = nil, out: Int64 = 500, in inb: Int64 = 500,
        duration: Double = 1
    ) {
        var o = "{\"ts\":\(ts),\"uid\":\"C\(Int(ts))\",\"id.orig_h\":\"\(src)\",\"id.orig_p\":\(sport),\"id.resp_h\":\"\(dst)\",\"id.resp_p\":\(dport),\"proto\":\"\(proto)\""
        if let service { o += ",\"service\":\"\(service)\"" }
        o += ",\"duration\":\(duration),\"orig_bytes\":\(max(0, out - 40)),\"resp_bytes\":\(max(0, inb - 40)),\"conn_state\":\"\(state)\""
        let h = history ?? (state == "S0" ? "S" : state == "REJ" ? "Sr" : "ShADadFf")
        o += ",\"history\":\"\(h)\",\"orig_ip_bytes\":\(out),\"resp_ip_bytes\":\(inb)}"
        line(o, fileName: "conn.log")
    }

    func finish() { engine.finish() }
}

/// 2026-03-02T00:00:00Z (a Monday), the base of synthetic timelines.
let day0: Double = 1_772_409_600


/// Decodes a corpus file (Zeek TSV or JSON, sniffed) and feeds every event to `engine`.
@discardableResult
func feedCorpus(_ rel: String, into engine: BehaviourEngine) throws -> Int {
    let url = behaviourCorpusRoot.appendingPathComponent(rel)
    let bytes = try Fixtures.readMaybeGzip(url)
    let name = url.lastPathComponent
    var first: [UInt8] = []
    for l in bytes.split(separator: 10, omittingEmptySubsequences: true) { first = Array(l); break }
    let format = first.withUnsafeBufferPointer { FormatSniffer.sniff($0.baseAddress!, $0.count, fileName: name) } ?? .zeekJSON
    let d = makeDecoder(format: format, fileName: name, requestedFields: [], maxLineLength: 1 << 20)!
    var record = EventRecord(capacity: 64)
    defer { record.deallocate() }
    var events = 0
    var lineNo: Int64 = 0
    bytes.withUnsafeBufferPointer { buf in
        let base = buf.baseAddress!
        var start = 0
        while start < buf.count {
            var end = start
            while end < buf.count && base[end] != 10 { end += 1 }
            lineNo += 1
            var out = d.decode(base + start, end - start, into: &record)
            var g = 0
            while out == .schemaChanged && g < 3 {
                record.ensureCapacity(d.schema.fieldCount)
                out = d.decode(base + start, end - start, into: &record)
                g += 1
            }
            if out == .event {
                events += 1
                engine.observe(record: record, schema: d.schema, origin: EventOrigin(path: rel, line: lineNo, byteOffset: Int64(start)))
            }
            start = end + 1
        }
    }
    return events
}
