import FlowhoundCore
import FlowhoundTestSupport
import Testing

@testable import FlowhoundParse

/// Sparse Zeek TSV decoding (`decodeOnly`) against full decoding of the same lines: the C extractor, the plain/other
/// split of the wanted slots and the in-place timestamp parse must give, slot by slot, what the general path gives.
@Suite struct TSVSparseTests {
    static let names = ["ts", "uid", "id.orig_h", "id.orig_p", "proto", "service", "duration", "tunnel_parents",
                        "local_orig", "history", "note"]
    static let types = ["time", "string", "addr", "port", "enum", "string", "interval", "set[string]", "bool",
                        "string", "string"]

    /// Header lines for `separator` (one or more bytes), the usual markers otherwise.
    static func header(separator: String, escaped: String) -> [String] {
        [
            "#separator \(escaped)", "#set_separator\(separator),", "#empty_field\(separator)(empty)",
            "#unset_field\(separator)-", "#path\(separator)conn",
            "#fields\(separator)" + names.joined(separator: separator),
            "#types\(separator)" + types.joined(separator: separator),
        ]
    }

    /// A random value for column `k`: markers, look-alikes of a marker's length, escapes, backslashes, lists, bools.
    static func value(_ k: Int, _ rng: inout SplitMix) -> String {
        let r = Int(rng.next() % 100)
        if r < 8 { return "-" }
        if r < 12 { return "(empty)" }
        if r < 16 { return ["x", "+", "(emptY)", "(empty", "-(empty)"][Int(rng.next() % 5)] }
        if r < 20 { return ["a\\x41b", "\\x2d", "\\", "c\\d", "\\x28empty)"][Int(rng.next() % 5)] }
        switch types[k] {
        case "time":
            return r < 80 ? "13004751\(10 + Int(rng.next() % 89)).\(100_000 + Int(rng.next() % 899_999))"
                : ["1300475167.5", "1300475167", "x300475167.096535", "2011-03-18T19:06:07Z"][Int(rng.next() % 4)]
        case "set[string]":
            return (0..<Int(1 + rng.next() % 3)).map { _ in ["a", "b\\x2cc", "", "d"][Int(rng.next() % 4)] }
                .joined(separator: ",")
        case "bool": return ["T", "F", "t", "TF"][Int(rng.next() % 4)]
        default: return ["10.0.0.\(rng.next() % 256)", "tcp", "S0", "ShADadFf", "443", "0.000012"][Int(rng.next() % 6)]
        }
    }

    static func bytes(_ v: FieldValue) -> [UInt8]? {
        guard let b = v.base else { return nil }
        return Array(UnsafeBufferPointer(start: b, count: v.count))
    }

    private func run(separator: String, escaped: String, seed: UInt64) {
        let full = ZeekTSVDecoder(fileName: "conn.log", maxLineLength: 4096)
        let sparse = ZeekTSVDecoder(fileName: "conn.log", maxLineLength: 4096)
        var a = EventRecord(capacity: 16)
        var b = EventRecord(capacity: 16)
        defer {
            a.deallocate()
            b.deallocate()
        }
        for h in Self.header(separator: separator, escaped: escaped) {
            var bytes = Array(h.utf8)
            _ = bytes.withUnsafeMutableBufferPointer { full.decode($0.baseAddress!, $0.count, into: &a) }
            _ = bytes.withUnsafeMutableBufferPointer { sparse.decode($0.baseAddress!, $0.count, into: &b) }
        }
        #expect(full.schema.fieldCount == Self.names.count)
        var rng = SplitMix(seed: seed)
        var wanted: [Int] = []
        var compared = 0
        for line in 0..<6000 {
            if line % 40 == 0 {
                wanted = (0..<Self.names.count).filter { _ in rng.next() % 2 == 0 }
                sparse.decodeOnly(slots: wanted)
            }
            var cols = (0..<Self.names.count).map { Self.value($0, &rng) }
            if rng.next() % 50 == 0 { cols.removeLast() }  // wrong field count
            var bytes = Array(cols.joined(separator: separator).utf8)
            let allFields = rng.next() % 20 == 0
            let (oa, ob) = bytes.withUnsafeMutableBufferPointer { p -> (DecodeOutcome, DecodeOutcome) in
                let oa = full.decode(p.baseAddress!, p.count, into: &a)
                let ob =
                    allFields
                    ? sparse.decodeAllFields(p.baseAddress!, p.count, into: &b)
                    : sparse.decode(p.baseAddress!, p.count, into: &b)
                return (oa, ob)
            }
            let text = String(decoding: bytes, as: UTF8.self)
            #expect(oa == ob, "outcome: \(text)")
            guard oa == .event, ob == .event else { continue }
            #expect(a.timestamp == b.timestamp, "timestamp: \(text)")
            for k in 0..<Self.names.count {
                let va = a[k]
                let vb = b[k]
                if allFields || wanted.contains(k) {
                    #expect(Self.bytes(va) == Self.bytes(vb), "slot \(k): \(text)")
                    #expect(va.listSeparator == vb.listSeparator, "list separator, slot \(k): \(text)")
                } else {
                    #expect(!vb.isPresent, "slot \(k) not wanted but filled: \(text)")
                }
            }
            compared += 1
        }
        #expect(compared > 4000)
    }

    @Test func tabSeparatedLinesAgreeWithFullDecoding() {
        run(separator: "\t", escaped: "\\x09", seed: 0x7573_7061_7273)
    }

    @Test func multiByteSeparatorAgreesWithFullDecoding() {
        run(separator: "||", escaped: "\\x7c\\x7c", seed: 0x1234)
    }
}
