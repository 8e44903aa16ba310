import Foundation
import FlowhoundTestSupport
import Testing
import FlowhoundCore
@testable import FlowhoundParse

/// ../shared/corpus relative to the package root.
let corpusRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/corpus")
let corpusAvailable: Bool = {
    let ok = FileManager.default.fileExists(atPath: corpusRoot.path)
    if !ok { print("note: corpus folder \(corpusRoot.path) is absent; corpus tests are skipped") }
    return ok
}()

/// One decoded event, copied out as strings for assertions.
struct Decoded {
    var values: [String: String?]  // native name → value (nil = absent)
    var timestamp: Timestamp?
}

struct RunResult {
    var events = 0
    var schemaChanges = 0
    var skipped = 0
    var malformed: [MalformedReason: Int] = [:]
    /// Events and `bad_timestamp` lines (fully decoded apart from the time), in order.
    var captured: [Decoded] = []
    var schemas: [Schema] = []
    var malformedTotal: Int { malformed.values.reduce(0, +) }
}

/// Feeds `text` line by line, re-decoding after `.schemaChanged`; captures the first `capture` events.
func run(_ decoder: any LineDecoder, _ bytes: [UInt8], capture: Int = 1000) -> RunResult {
    var r = RunResult()
    var record = EventRecord(capacity: 4)
    defer { record.deallocate() }
    bytes.withUnsafeBufferPointer { buf in
        guard let base = buf.baseAddress else { return }
        var start = 0
        let n = buf.count
        while start < n {
            var end = start
            while end < n && base[end] != 10 { end += 1 }
            var outcome = decoder.decode(base + start, end - start, into: &record)
            var guardCount = 0
            while outcome == .schemaChanged {
                r.schemaChanges += 1
                r.schemas.append(decoder.schema)
                record.ensureCapacity(decoder.schema.fieldCount)
                outcome = decoder.decode(base + start, end - start, into: &record)
                guardCount += 1
                precondition(guardCount < 3, "schemaChanged loop")
            }
            switch outcome {
            case .event, .malformed(.badTimestamp):
                if outcome == .event { r.events += 1 } else { r.malformed[.badTimestamp, default: 0] += 1 }
                if r.captured.count < capture {
                    var vals: [String: String?] = [:]
                    for (i, f) in decoder.schema.fields.enumerated() { vals[f.name] = record[i].string }
                    r.captured.append(Decoded(values: vals, timestamp: record.timestamp))
                }
            case .skipped: r.skipped += 1
            case .malformed(let m): r.malformed[m, default: 0] += 1  // others
            case .schemaChanged: break
            }
            start = end + 1
        }
    }
    return r
}

func tsv(_ text: String, fileName: String = "conn.log") -> RunResult {
    run(ZeekTSVDecoder(fileName: fileName, maxLineLength: 65536), Array(text.utf8))
}

func json(_ text: String, fileName: String = "conn.log", requested: Set<String> = []) -> RunResult {
    run(ZeekJSONDecoder(fileName: fileName, requestedFields: requested, maxLineLength: 65536), Array(text.utf8))
}


/// Element list of a list value rendered by `FieldValue.string` plus its separator.
func elements(_ s: String?, _ sep: Character) -> [String] {
    guard let s else { return [] }
    if s.isEmpty { return [] }
    return s.split(separator: sep, omittingEmptySubsequences: false).map(String.init)
}
