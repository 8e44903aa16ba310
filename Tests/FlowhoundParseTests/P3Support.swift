import Foundation
import FlowhoundTestSupport
import Testing
import FlowhoundCore
@testable import FlowhoundParse

/// One line's result with every name of its schema (native and aliases) resolved to a string.
struct LineResult {
    var outcome: DecodeOutcome
    var logType: String
    var format: LogFormat
    var values: [String: String]
    var timestamp: Timestamp?
    var schema: Schema?

    subscript(_ name: String) -> String? { values[name] }
}

/// Decodes every line (split on LF) the way the pipeline does, re-decoding after `.schemaChanged`.
/// Blank/skipped lines are included with outcome `.skipped`.
func decodeLines(_ d: any LineDecoder, _ bytes: [UInt8], keepValues: Bool = true) -> [LineResult] {
    var out: [LineResult] = []
    var record = EventRecord(capacity: 8)
    defer { record.deallocate() }
    bytes.withUnsafeBufferPointer { buf in
        guard let base = buf.baseAddress else { return }
        var start = 0
        while start < buf.count {
            var end = start
            while end < buf.count && base[end] != 10 { end += 1 }
            record.ensureCapacity(d.schema.fieldCount)
            var o = d.decode(base + start, end - start, into: &record)
            var guardCount = 0
            while o == .schemaChanged {
                record.ensureCapacity(d.schema.fieldCount)
                o = d.decode(base + start, end - start, into: &record)
                guardCount += 1
                precondition(guardCount < 3, "schemaChanged loop")
            }
            var r = LineResult(outcome: o, logType: d.schema.logType, format: d.schema.format, values: [:], timestamp: nil,
                               schema: d.schema)
            if keepValues && (o == .event || o == .malformed(.badTimestamp)) {
                for (name, slot) in d.schema.index { if let s = record[slot].string { r.values[name] = s } }
                r.timestamp = record.timestamp
            }
            out.append(r)
            start = end + 1
        }
    }
    return out
}

func decodeText(_ d: any LineDecoder, _ text: String) -> [LineResult] { decodeLines(d, Array(text.utf8)) }

func syslogDecoder(ref: String = "2026-03-05T00:00:00Z", zone: LogTimeZone = .utc, requested: Set<String> = []) -> SyslogDecoder {
    var a = Array(ref.utf8)
    let t = a.withUnsafeMutableBufferPointer { parseISO8601($0.baseAddress!, $0.count) }
    return SyslogDecoder(requestedFields: requested, maxLineLength: 1 << 16,
                         context: DecoderContext(referenceTime: t, timeZone: zone))
}

func ts(_ iso: String) -> Timestamp {
    var a = Array(iso.utf8)
    return a.withUnsafeMutableBufferPointer { parseISO8601($0.baseAddress!, $0.count)! }
}

/// Minimal RFC 4180 CSV reader (quoted fields with doubled quotes).
func readCSV(_ text: String) -> [[String]] {
    var rows: [[String]] = []
    var row: [String] = []
    var field = ""
    var inQuotes = false
    var it = Array(text.unicodeScalars)
    var i = 0
    while i < it.count {
        let c = it[i]
        if inQuotes {
            if c == "\"" {
                if i + 1 < it.count && it[i + 1] == "\"" { field.unicodeScalars.append("\""); i += 1 } else { inQuotes = false }
            } else {
                field.unicodeScalars.append(c)
            }
        } else if c == "\"" {
            inQuotes = true
        } else if c == "," {
            row.append(field); field = ""
        } else if c == "\n" {
            row.append(field); field = ""
            rows.append(row); row = []
        } else if c != "\r" {
            field.unicodeScalars.append(c)
        }
        i += 1
    }
    if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
    it = []
    return rows
}

/// Matches `content` against a loghub template (`<*>` wildcards, lazy) and returns the wildcard values.
func templateCaptures(_ template: String, _ content: String) -> [String]? {
    let parts = template.components(separatedBy: "<*>")
    var rest = Substring(content)
    guard rest.hasPrefix(parts[0]) else { return nil }
    rest = rest.dropFirst(parts[0].count)
    var caps: [String] = []
    for (k, lit) in parts.enumerated().dropFirst() {
        if lit.isEmpty && k == parts.count - 1 {
            caps.append(String(rest)); rest = ""
            continue
        }
        guard let r = rest.range(of: lit) else { return nil }
        caps.append(String(rest[rest.startIndex..<r.lowerBound]))
        rest = rest[r.upperBound...]
    }
    return caps
}

func corpusText(_ rel: String) throws -> [UInt8] { try Fixtures.readMaybeGzip(corpusRoot.appendingPathComponent(rel)) }

func count(_ rs: [LineResult], _ o: DecodeOutcome) -> Int { rs.filter { $0.outcome == o }.count }
