import CByteScan
import FlowhoundCore

/// JSON key bytes → schema slot (the C table of CByteScan, so the Zeek JSON fast path and the Swift parsers of
/// every JSON decoder look keys up the same way); no String on lookup. The first registration of a key wins.
final class KeyTable {
    let raw: UnsafeMutablePointer<flowhound_json_table>

    init(_ keys: [(String, Int)]) {
        // Out of memory here traps, as any Swift allocation does.
        raw = flowhound_json_table_new(Int64(keys.count))!
        for (key, slot) in keys {
            var k = key
            k.withUTF8 { b in
                if let base = b.baseAddress, b.count > 0 {
                    precondition(flowhound_json_table_insert(raw, base, Int64(b.count), Int32(slot)) >= 0)
                }
            }
        }
    }

    deinit { flowhound_json_table_free(raw) }

    /// Slot for the key bytes, or -1.
    @inline(__always)
    func lookup(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        Int(flowhound_json_table_lookup(raw, p, Int64(n)))
    }
}

/// Decodes Zeek JSON logs (one object per line) into a catalog schema.
///
/// Decisions:
/// - Schema = the catalog fields of the log type + `_path` + every requested name the schema cannot already
///   reach (added as a literal key path, e.g. `network.community_id`). Unknown types get the usual `ts uid id.*
///   proto` block.
/// - Keys reach a slot by native name, the `_` spelling of a dotted name, or any alias (so ECS-shaped JSON such
///   as `{"source":{"ip":…}}` works too); nested objects are flattened into dotted paths (depth ≤ 16).
/// - Strings without escapes point into the line; escaped ones are unescaped into scratch (`\uXXXX`, surrogate
///   pairs → UTF-8; a lone surrogate becomes U+FFFD). Numbers, `true`, `false` are their bytes; `null` → absent.
/// - Arrays of scalars → lists separated by 0x1F (nested containers inside an array are skipped); arrays are
///   written to scratch. Objects/arrays under keys not in the schema are skipped without looking inside.
/// - The scan stops early once every slot is filled; then only the line's last non-blank byte is checked
///   (`}`), so a line truncated after the last needed key is still caught as `bad_json`.
/// - Log type: `_path` of the line (a change yields `.schemaChanged`), else the file name, else a key-set
///   heuristic on the first line.
/// - `ts`: epoch seconds (number or string), ISO 8601 (any fraction length, `Z` or offset), or integer epoch
///   milliseconds (12+ digits, Zeek's `TS_MILLIS`).
/// - Speed: each line goes to the C scanner `flowhound_zeek_json_scan` first (flat objects with string, number,
///   boolean and null values; key order predicted from the line before). It gives the same verdict and values as
///   `parseObject` below or hands the line back (nested object, decoded array or escaped string), and then
///   `parseObject` decodes it from the start. `fastPath = false` skips the scanner (the tests compare both).
package final class ZeekJSONDecoder: LineDecoder {
    package private(set) var schema: Schema

    private let requested: Set<String>
    private let fileType: String
    private let maxLineLength: Int
    private(set) var table: KeyTable {
        didSet { tableRaw = table.raw }
    }
    /// `table.raw`, read per line without touching the object's reference count.
    private var tableRaw: UnsafeMutablePointer<flowhound_json_table>
    private var fieldCount: Int
    private var tsSlot: Int
    private var pathSlot: Int
    private var typeBytes: [UInt8]
    private var heuristicDone = false
    private var cache: [String: (Schema, KeyTable)] = [:]
    private let scratch: UnsafeMutablePointer<UInt8>
    private let keyBuf: UnsafeMutablePointer<UInt8>
    // Sparse decoding (`decodeOnly`): wanted flag per slot, their number (-1: every slot), when to stop.
    private var wantedFlags: UnsafeMutablePointer<UInt8>
    /// The wanted slots as a list (cleared per line instead of testing every slot's flag).
    private var wantedList: UnsafeMutablePointer<Int64>
    /// Counts `decodeOnly` calls: tells the C scan its key table must take the new restriction.
    private var wantedGeneration: Int64 = 0
    private var wantedCount = -1
    private var stopAfter = 0
    /// Address of the record storage the last call wrote (a bit pattern: compared without generic `==`).
    private var lastValues = 0
    private var lastWasSparse = false
    /// Lines go through the C fast path (`flowhound_zeek_json_scan`) first; false = the Swift parser only (tests
    /// compare both).
    package var fastPath = true
    /// `FieldValue` has the layout of the C `flowhound_field` (always, on the platforms built so far).
    private let cLayout = ZeekTSVDecoder.cLayout
    private let scanArgs: UnsafeMutablePointer<flowhound_json_scan_args>
    /// `_path"` (searched from its rarer first byte; any `"_path"` key contains it).
    private static let pathKeyBytes: [UInt8] = Array("_path\"".utf8)
    nonisolated(unsafe) private static let pathKey: UnsafePointer<UInt8> = {
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: pathKeyBytes.count)
        p.initialize(from: pathKeyBytes, count: pathKeyBytes.count)
        return UnsafePointer(p)
    }()
    private static let pathKeyCount = 6

    package init(fileName: String, requestedFields: Set<String>, maxLineLength: Int) {
        requested = requestedFields
        self.maxLineLength = max(maxLineLength, 16)
        scratch = .allocate(capacity: self.maxLineLength * 2 + 64)
        keyBuf = .allocate(capacity: self.maxLineLength + 64)
        wantedFlags = .allocate(capacity: 1)
        wantedList = .allocate(capacity: 1)
        scanArgs = .allocate(capacity: 1)
        scanArgs.initialize(to: flowhound_json_scan_args())
        fileType = zeekLogType(fileName: fileName)
        let (s, t) = ZeekJSONDecoder.build(logType: fileType, requested: requestedFields)
        schema = s
        table = t
        tableRaw = t.raw
        fieldCount = s.fieldCount
        tsSlot = s.slot(.timestamp) ?? -1
        pathSlot = s.slot("_path") ?? -1
        typeBytes = Array(fileType.utf8)
        heuristicDone = ZeekCatalog.entry(fileType) != nil
        cache[fileType] = (s, t)
    }

    deinit {
        scratch.deallocate()
        keyBuf.deallocate()
        wantedFlags.deallocate()
        wantedList.deallocate()
        scanArgs.deallocate()
    }

    /// Restricts decoding to `slots` of the current schema (nil: every slot, the default).
    ///
    /// With a restriction only those slots get values (every other slot is absent) and the scan stops once they
    /// are all found, unless a `_path` key may still follow. The timestamp and `_path` are always decoded. The
    /// restriction ends when the schema changes (`.schemaChanged`): set it again for the new schema. Use
    /// `decodeAllFields` for a full record of a line decoded sparsely (e.g. when a rule matched).
    package func decodeOnly(slots: [Int]?) {
        guard let slots else {
            wantedCount = -1
            return
        }
        var valid = Set(slots.filter { $0 >= 0 && $0 < fieldCount })
        if tsSlot >= 0 { valid.insert(tsSlot) }
        if pathSlot >= 0 { valid.insert(pathSlot) }
        wantedFlags.deallocate()
        wantedFlags = .allocate(capacity: max(fieldCount, 1))
        wantedFlags.initialize(repeating: 0, count: max(fieldCount, 1))
        for v in valid { wantedFlags[v] = 1 }
        wantedList.deallocate()
        wantedList = .allocate(capacity: max(valid.count, 1))
        for (k, v) in valid.sorted().enumerated() { wantedList[k] = Int64(v) }
        wantedCount = valid.count
        wantedGeneration &+= 1
        lastWasSparse = false
    }

    /// Decodes a line with every slot, ignoring `decodeOnly` (same outcome as `decode` for that line).
    package func decodeAllFields(
        _ line: UnsafePointer<UInt8>, _ count: Int, into record: inout EventRecord
    ) -> DecodeOutcome {
        let saved = wantedCount
        wantedCount = -1
        defer { wantedCount = saved }
        return decode(line, count, into: &record)
    }

    static func build(logType: String, requested: Set<String>) -> (Schema, KeyTable) {
        var specs: [FieldSpec] = []
        if let lt = ZeekCatalog.entry(logType) {
            for e in lt.fields {
                let t = ZeekCatalog.fieldType(e.type)
                specs.append(FieldSpec(name: e.name, type: t, listSeparator: t == .list ? rebuiltListSeparator : 0))
            }
        } else {
            for (n, t) in [("ts", FieldType.time), ("uid", .string), ("id.orig_h", .address), ("id.orig_p", .port),
                           ("id.resp_h", .address), ("id.resp_p", .port), ("proto", .string)] {
                specs.append(FieldSpec(name: n, type: t))
            }
        }
        if !specs.contains(where: { $0.name == "_path" }) { specs.append(FieldSpec(name: "_path")) }
        var schema = ZeekCatalog.schema(format: .zeekJSON, logType: logType, fields: specs)
        let extra = requested.filter { schema.slot($0) == nil }.sorted()
        if !extra.isEmpty {
            for e in extra { specs.append(FieldSpec(name: e)) }
            schema = ZeekCatalog.schema(format: .zeekJSON, logType: logType, fields: specs)
        }
        var keys: [(String, Int)] = []
        for (i, f) in specs.enumerated() { keys.append((f.name, i)) }
        for (i, f) in specs.enumerated() where f.name.contains(".") { keys.append((f.name.replacingDots(), i)) }
        for (name, slot) in schema.index.sorted(by: { $0.key < $1.key }) { keys.append((name, slot)) }
        return (schema, KeyTable(keys))
    }

    private func switchTo(_ logType: String) {
        let entry: (Schema, KeyTable)
        if let c = cache[logType] {
            entry = c
        } else {
            entry = ZeekJSONDecoder.build(logType: logType, requested: requested)
            if cache.count < 64 { cache[logType] = entry }
        }
        schema = entry.0
        table = entry.1
        fieldCount = schema.fieldCount
        tsSlot = schema.slot(.timestamp) ?? -1
        pathSlot = schema.slot("_path") ?? -1
        typeBytes = Array(logType.utf8)
        wantedCount = -1
    }

    // MARK: decoding

    package func decode(_ line: UnsafePointer<UInt8>, _ count: Int, into record: inout EventRecord) -> DecodeOutcome {
        var n = count
        while n > 0 && (line[n - 1] == 13 || line[n - 1] == 32 || line[n - 1] == 9) { n -= 1 }
        if n > maxLineLength { return .malformed(.lineTooLong) }
        var i = 0
        while i < n && (line[i] == 32 || line[i] == 9) { i += 1 }
        if i == n { return .skipped }
        if line[i] != 123 { return .malformed(.badJSON) }
        record.ensureCapacity(fieldCount)
        record.line = line
        record.lineLength = n
        record.timestamp = nil
        let sparse = wantedCount >= 0
        // In a run of sparse lines only wanted slots can hold values of the previous line: clear just those.
        var clearCount = 0
        if !sparse || !lastWasSparse || lastValues != Int(bitPattern: record.values) {
            record.reset(fieldCount: fieldCount)
        } else {
            clearCount = wantedCount
        }
        lastValues = Int(bitPattern: record.values)
        lastWasSparse = sparse
        // Sparse: `_path` counts among the wanted slots but is usually absent; stop once the others are found and
        // no `_path` key can follow (see `parseObject`).
        stopAfter = sparse ? (pathSlot >= 0 ? wantedCount - 1 : wantedCount) : fieldCount
        var scratchPos = 0
        var found = 0
        var r = -1
        if fastPath && cLayout {
            let a = scanArgs
            a.pointee.table = tableRaw
            a.pointee.wanted = sparse ? UnsafePointer(wantedFlags) : nil
            a.pointee.wanted_count = sparse ? Int64(wantedCount) : -1
            a.pointee.wanted_generation = wantedGeneration
            a.pointee.stop_after = Int64(stopAfter)
            a.pointee.path_slot = Int64(pathSlot)
            a.pointee.clear = UnsafePointer(wantedList)
            a.pointee.clear_count = Int64(clearCount)
            var end: Int64 = 0
            var stored: Int64 = 0
            r = record.values.withMemoryRebound(to: flowhound_field.self, capacity: fieldCount) {
                Int(flowhound_zeek_json_scan(line, Int64(n), Int64(i), a, $0, &end, &stored))
            }
            if r >= 0 {
                i = Int(end)
            } else {
                // The general parser takes the whole line again from clean slots (the scan stores only wanted
                // slots when sparse).
                if sparse {
                    for k in 0..<wantedCount { record.values[Int(wantedList[k])] = .absent }
                } else {
                    record.reset(fieldCount: fieldCount)
                }
            }
        } else {
            for k in 0..<clearCount { record.values[Int(wantedList[k])] = .absent }
        }
        if r < 0 {
            let t = table
            r = withExtendedLifetime(t) { parseObject(t, line, n, &i, 0, 0, record.values, &scratchPos, &found) }
        }
        if r == 0 { return .malformed(.badJSON) }
        if r == 2 {
            if line[n - 1] != 125 { return .malformed(.badJSON) }
        } else {
            while i < n && (line[i] == 32 || line[i] == 9) { i += 1 }
            if i != n { return .malformed(.badJSON) }
        }
        // log type
        if pathSlot >= 0, let pb = record.values[pathSlot].base {
            let pc = record.values[pathSlot].count
            let same = pc == typeBytes.count && typeBytes.withUnsafeBufferPointer { memcmp($0.baseAddress!, pb, pc) == 0 }
            if !same && pc > 0 && pc < 64 {
                switchTo(String(decoding: UnsafeBufferPointer(start: pb, count: pc), as: UTF8.self))
                heuristicDone = true
                return .schemaChanged
            }
        } else if !heuristicDone {
            heuristicDone = true
            if let t = ZeekJSONDecoder.guessLogType(line, n), t != schema.logType {
                switchTo(t)
                return .schemaChanged
            }
        }
        if tsSlot >= 0 {
            let v = record.values[tsSlot]
            if let b = v.base, v.count > 0 {
                // Zeek's usual `ssssssssss.uuuuuu` in C (SSE4.1 when the CPU has it), else every accepted form
                var nanos: Int64 = 0
                if flowhound_zeek_time(b, Int64(v.count), &nanos) != 0 {
                    record.timestamp = Timestamp(nanoseconds: nanos)
                } else {
                    guard let t = ZeekJSONDecoder.parseTime(b, v.count) else { return .malformed(.badTimestamp) }
                    record.timestamp = t
                }
            }
        }
        return .event
    }

    static func parseTime(_ b: UnsafePointer<UInt8>, _ n: Int) -> Timestamp? {
        // Zeek's usual `ssssssssss.uuuuuu` without a loop per digit (same value as `parseEpoch`).
        if let t = ZeekTSVDecoder.parseZeekTime(b, n) { return t }
        // An integer of 12+ digits is epoch milliseconds (as seconds it would be past the year 33000).
        if n >= 12, memchr(b, 46, n) == nil, let ms = Bytes.parseInt(b, n) {
            let digits = ms < 0 ? n - 1 : n
            if digits >= 12 {
                let (v, o) = ms.multipliedReportingOverflow(by: 1_000_000)
                return o ? nil : Timestamp(nanoseconds: v)
            }
        }
        if let t = Bytes.parseEpoch(b, n) { return t }
        return parseISO8601(b, n)
    }

    @inline(__always) private static func isWS(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 }

    /// Index of the quote closing a string whose first byte is `p[k]` (or `n` when it never closes); sets
    /// `escaped` when a backslash occurs. Eight bytes per step while a whole word fits in the line.
    @inline(__always)
    static func stringEnd(_ p: UnsafePointer<UInt8>, _ start: Int, _ n: Int, _ escaped: inout Bool) -> Int {
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let quotes: UInt64 = 0x2222_2222_2222_2222
        let slashes: UInt64 = 0x5C5C_5C5C_5C5C_5C5C
        let raw = UnsafeRawPointer(p)
        var k = start
        while k &+ 8 <= n {
            let w = raw.loadUnaligned(fromByteOffset: k, as: UInt64.self)
            let q = w ^ quotes, b = w ^ slashes
            // high bit set exactly where a byte of q (or b) is zero
            let m = ~((((q & low7) &+ low7) | q) | low7) | ~((((b & low7) &+ low7) | b) | low7)
            if m == 0 {
                k &+= 8
                continue
            }
            k &+= m.trailingZeroBitCount >> 3
            if p[k] == 34 { return k }
            escaped = true
            k &+= 2
        }
        while k < n {
            let d = p[k]
            if d == 34 { return k }
            if d == 92 {
                escaped = true
                k &+= 2
            } else {
                k &+= 1
            }
        }
        return n
    }

    /// 0 = malformed, 1 = object closed, 2 = stopped early (every slot found).
    private func parseObject(
        _ table: KeyTable, _ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ prefixLen: Int, _ depth: Int,
        _ values: UnsafeMutablePointer<FieldValue>, _ scratchPos: inout Int, _ found: inout Int
    ) -> Int {
        i += 1  // '{'
        while true {
            while i < n && Self.isWS(p[i]) { i += 1 }
            if i >= n { return 0 }
            if p[i] == 125 { i += 1; return 1 }
            if p[i] != 34 { return 0 }
            let ks = i + 1
            var keyEscaped = false
            let j = Self.stringEnd(p, ks, n, &keyEscaped)
            if j >= n { return 0 }
            let klen = j - ks
            i = j + 1
            while i < n && Self.isWS(p[i]) { i += 1 }
            if i >= n || p[i] != 58 { return 0 }
            i += 1
            while i < n && Self.isWS(p[i]) { i += 1 }
            if i >= n { return 0 }
            var slot = -1
            if !keyEscaped {
                if prefixLen == 0 {
                    slot = table.lookup(p + ks, klen)
                } else if prefixLen + klen <= maxLineLength + 32 {
                    memcpy(keyBuf + prefixLen, p + ks, klen)
                    slot = table.lookup(keyBuf, prefixLen + klen)
                }
                if slot >= 0 && wantedCount >= 0 && wantedFlags[slot] == 0 { slot = -1 }
            }
            let c = p[i]
            if c == 34 {  // string
                let vs = i + 1
                var escaped = false
                let k = Self.stringEnd(p, vs, n, &escaped)
                if k >= n { return 0 }
                i = k + 1
                if slot >= 0 {
                    if !escaped {
                        values[slot] = FieldValue(base: p + vs, count: k - vs)
                    } else {
                        let out = scratch + scratchPos
                        guard let m = Self.unescapeJSON(p + vs, k - vs, out) else { return 0 }
                        scratchPos += m
                        values[slot] = FieldValue(base: UnsafePointer(out), count: m)
                    }
                    found += 1
                }
            } else if c == 123 {  // object
                if keyEscaped || depth >= 16 || prefixLen + klen + 1 > maxLineLength + 32 {
                    if !Self.skipBalanced(p, n, &i) { return 0 }
                } else {
                    if prefixLen == 0 { memcpy(keyBuf, p + ks, klen) }
                    keyBuf[prefixLen + klen] = 46
                    let r = parseObject(table, p, n, &i, prefixLen + klen + 1, depth + 1, values, &scratchPos, &found)
                    if r == 0 { return 0 }
                }
            } else if c == 91 {  // array
                if slot >= 0 {
                    guard let v = parseArray(p, n, &i, &scratchPos) else { return 0 }
                    values[slot] = v
                    found += 1
                } else if !Self.skipBalanced(p, n, &i) {
                    return 0
                }
            } else {  // scalar
                let vs = i
                guard let kind = Self.scanScalar(p, n, &i) else { return 0 }
                if slot >= 0 && kind != 0 {
                    values[slot] = FieldValue(base: p + vs, count: i - vs)
                    found += 1
                }
            }
            while i < n && Self.isWS(p[i]) { i += 1 }
            if i >= n { return 0 }
            if p[i] == 44 {
                i += 1
                if depth == 0 && found >= stopAfter {
                    // Sparse: stop early unless a `_path` key may still follow (it can switch the log type).
                    if wantedCount < 0 || pathSlot < 0 { return 2 }
                    if values[pathSlot].base != nil {
                        if found >= wantedCount { return 2 }
                    } else if !Self.mayContainPathKey(p + i, n - i) {
                        return 2
                    } else {
                        stopAfter = Int.max
                    }
                }
                continue
            }
            if p[i] == 125 { i += 1; return 1 }
            return 0
        }
    }

    /// Whether `_path"` occurs in `p[0..<n]`: candidate `_p` pairs eight positions per step, then a six-byte check
    /// (Zeek lines repeat `_` in many keys, so a memchr on `_` alone stops too often).
    static func mayContainPathKey(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let raw = UnsafeRawPointer(p)
        var k = 0
        while k &+ 9 <= n {
            let a = raw.loadUnaligned(fromByteOffset: k, as: UInt64.self) ^ 0x5F5F_5F5F_5F5F_5F5F
            let b = raw.loadUnaligned(fromByteOffset: k &+ 1, as: UInt64.self) ^ 0x7070_7070_7070_7070
            var m = ~(((a & low7) &+ low7) | a | low7) & ~(((b & low7) &+ low7) | b | low7)
            while m != 0 {
                let j = k &+ (m.trailingZeroBitCount >> 3)
                if j &+ pathKeyCount <= n && memcmp(p + j, pathKey, pathKeyCount) == 0 { return true }
                m &= m &- 1
            }
            k &+= 8
        }
        return Bytes.find(p + k, n - k, pathKey, pathKeyCount) != nil
    }

    /// Scans the scalar token at `p[i]` in one pass (number characters, or `true` / `false` / `null`) and leaves
    /// `i` at the delimiter (`,` `}` `]`, white space, or `n`). nil = invalid token, 0 = null, 1 = number/true/false;
    /// same verdicts as `scalarKind` on the bytes up to the next delimiter.
    @inline(__always)
    static func scanScalar(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) -> Int? {
        let c = p[i]
        if c &- 48 <= 9 || c == 45 {
            // + , - . 0-9 E e as bits of (byte - 43); the comma (bit 1) is left out
            let numberChars: UInt64 = 1 | 1 << 2 | 1 << 3 | 0x3FF << 5 | 1 << 26 | 1 << 58
            var k = i &+ 1
            while k < n {
                let x = UInt64(p[k] &- 43)
                if x >= 64 || (numberChars >> x) & 1 == 0 { break }
                k &+= 1
            }
            i = k
        } else {
            let vs = i
            while i < n {
                let d = p[i]
                if d == 44 || d == 125 || d == 93 || isWS(d) { break }
                i += 1
            }
            return scalarKind(p + vs, i - vs)
        }
        if i < n {
            let d = p[i]
            if !(d == 44 || d == 125 || d == 93 || isWS(d)) { return nil }
        }
        return 1
    }

    /// nil = invalid token, 0 = null, 1 = number/true/false.
    @inline(__always)
    private static func scalarKind(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        if n == 0 { return nil }
        let c = p[0]
        if c == 110 { return n == 4 && p[1] == 117 && p[2] == 108 && p[3] == 108 ? 0 : nil }
        if c == 116 { return n == 4 && p[1] == 114 && p[2] == 117 && p[3] == 101 ? 1 : nil }
        if c == 102 { return n == 5 && p[1] == 97 && p[2] == 108 && p[3] == 115 && p[4] == 101 ? 1 : nil }
        if c != 45 && c &- 48 > 9 { return nil }
        for k in 0..<n {
            let d = p[k]
            if !(d &- 48 <= 9 || d == 46 || d == 101 || d == 69 || d == 43 || d == 45) { return nil }
        }
        return 1
    }

    private func parseArray(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ scratchPos: inout Int
    ) -> FieldValue? {
        i += 1  // '['
        let out = scratch + scratchPos
        var w = 0
        var elements = 0
        while true {
            while i < n && Self.isWS(p[i]) { i += 1 }
            if i >= n { return nil }
            if p[i] == 93 && elements == 0 { i += 1; break }
            let c = p[i]
            if c == 34 {
                let vs = i + 1
                var k = vs
                var escaped = false
                while k < n {
                    let d = p[k]
                    if d == 34 { break }
                    if d == 92 { escaped = true; k += 2 } else { k += 1 }
                }
                if k >= n { return nil }
                i = k + 1
                if elements > 0 { out[w] = rebuiltListSeparator; w += 1 }
                if escaped {
                    guard let m = Self.unescapeJSON(p + vs, k - vs, out + w) else { return nil }
                    w += m
                } else {
                    memcpy(out + w, p + vs, k - vs)
                    w += k - vs
                }
                elements += 1
            } else if c == 123 || c == 91 {
                if !Self.skipBalanced(p, n, &i) { return nil }
                elements += 1
            } else {
                let vs = i
                while i < n {
                    let d = p[i]
                    if d == 44 || d == 93 || d == 125 || Self.isWS(d) { break }
                    i += 1
                }
                guard let kind = Self.scalarKind(p + vs, i - vs) else { return nil }
                if kind != 0 {
                    if elements > 0 { out[w] = rebuiltListSeparator; w += 1 }
                    memcpy(out + w, p + vs, i - vs)
                    w += i - vs
                }
                elements += 1
            }
            while i < n && Self.isWS(p[i]) { i += 1 }
            if i >= n { return nil }
            if p[i] == 44 { i += 1; continue }
            if p[i] == 93 { i += 1; break }
            return nil
        }
        scratchPos += w
        return FieldValue(base: UnsafePointer(out), count: w, listSeparator: rebuiltListSeparator)
    }

    /// Skips one object or array starting at `p[i]`; false if it never closes.
    static func skipBalanced(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) -> Bool {
        var depth = 0
        while i < n {
            let c = p[i]
            if c == 34 {
                i += 1
                while i < n && p[i] != 34 { i += p[i] == 92 ? 2 : 1 }
                if i >= n { return false }
            } else if c == 123 || c == 91 {
                depth += 1
            } else if c == 125 || c == 93 {
                depth -= 1
                if depth == 0 { i += 1; return true }
            }
            i += 1
        }
        return false
    }

    /// JSON string unescape into `out` (never longer than the input). nil on an invalid escape.
    static func unescapeJSON(_ p: UnsafePointer<UInt8>, _ n: Int, _ out: UnsafeMutablePointer<UInt8>) -> Int? {
        var i = 0, w = 0
        @inline(__always) func hex4(_ at: Int) -> UInt32? {
            if at + 4 > n { return nil }
            var v: UInt32 = 0
            for k in 0..<4 {
                guard let h = hexValue(p[at + k]) else { return nil }
                v = v << 4 | UInt32(h)
            }
            return v
        }
        while i < n {
            let c = p[i]
            if c != 92 { out[w] = c; w += 1; i += 1; continue }
            if i + 1 >= n { return nil }
            let e = p[i + 1]
            i += 2
            switch e {
            case 34, 92, 47: out[w] = e; w += 1
            case 98: out[w] = 8; w += 1
            case 102: out[w] = 12; w += 1
            case 110: out[w] = 10; w += 1
            case 114: out[w] = 13; w += 1
            case 116: out[w] = 9; w += 1
            case 117:
                guard var cp = hex4(i) else { return nil }
                i += 4
                if cp >= 0xD800 && cp <= 0xDBFF {
                    if i + 6 <= n && p[i] == 92 && p[i + 1] == 117, let lo = hex4(i + 2), lo >= 0xDC00 && lo <= 0xDFFF {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
                        i += 6
                    } else {
                        cp = 0xFFFD
                    }
                } else if cp >= 0xDC00 && cp <= 0xDFFF {
                    cp = 0xFFFD
                }
                w += encodeUTF8(cp, out + w)
            default: return nil
            }
        }
        return w
    }

    @inline(__always)
    static func encodeUTF8(_ cp: UInt32, _ out: UnsafeMutablePointer<UInt8>) -> Int {
        if cp < 0x80 { out[0] = UInt8(cp); return 1 }
        if cp < 0x800 {
            out[0] = UInt8(0xC0 | (cp >> 6)); out[1] = UInt8(0x80 | (cp & 0x3F)); return 2
        }
        if cp < 0x10000 {
            out[0] = UInt8(0xE0 | (cp >> 12)); out[1] = UInt8(0x80 | ((cp >> 6) & 0x3F))
            out[2] = UInt8(0x80 | (cp & 0x3F)); return 3
        }
        out[0] = UInt8(0xF0 | (cp >> 18)); out[1] = UInt8(0x80 | ((cp >> 12) & 0x3F))
        out[2] = UInt8(0x80 | ((cp >> 6) & 0x3F)); out[3] = UInt8(0x80 | (cp & 0x3F)); return 4
    }

    // MARK: log type heuristic (first line only; allocation is fine here)

    /// Top-level (and flattened nested) key names of one JSON line.
    static func keyNames(_ p: UnsafePointer<UInt8>, _ n: Int) -> Set<String> {
        var out = Set<String>()
        var i = 0
        var stack: [String] = []
        var lastKey = ""
        var expectKey = true
        while i < n {
            let c = p[i]
            if c == 34 {
                let s = i + 1
                i += 1
                while i < n && p[i] != 34 { i += p[i] == 92 ? 2 : 1 }
                if i >= n { break }
                let str = String(decoding: UnsafeBufferPointer(start: p + s, count: i - s), as: UTF8.self)
                var j = i + 1
                while j < n && isWS(p[j]) { j += 1 }
                if expectKey && j < n && p[j] == 58 {
                    lastKey = (stack + [str]).joined(separator: ".")
                    out.insert(lastKey)
                    out.insert(str)
                }
            } else if c == 123 {
                if !lastKey.isEmpty && i > 0 { stack = lastKey.split(separator: ".").map(String.init) }
                expectKey = true
            } else if c == 125 {
                stack = Array(stack.dropLast())
            } else if c == 91 {
                var k = i
                if skipBalanced(p, n, &k) { i = k - 1 }
            } else if c == 44 {
                expectKey = true
            }
            i += 1
        }
        return out
    }

    /// Guesses the Zeek log from the keys of one line.
    static func guessLogType(_ p: UnsafePointer<UInt8>, _ n: Int) -> String? {
        let k = keyNames(p, n)
        func has(_ names: String...) -> Bool { names.allSatisfy { k.contains($0) } }
        if has("conn_state") || has("history", "orig_bytes") || has("orig_pkts") { return "conn" }
        if has("query", "qtype_name") || has("query", "rcode") || has("query", "trans_id") { return "dns" }
        if has("method", "uri") || has("status_code", "host") || has("user_agent", "uri") { return "http" }
        if has("server_name", "cipher") || has("ja3") || has("cert_chain_fps") || has("ssl_history") { return "ssl" }
        if has("auth_success") || has("host_key") || has("hassh") || has("client", "server", "auth_attempts") {
            return "ssh"
        }
        if has("security_protocol") || has("keyboard_layout") || has("cookie", "result") { return "rdp" }
        if has("named_pipe") || has("endpoint", "operation") { return "dce_rpc" }
        if has("share_type") || has("native_file_system") { return "smb_mapping" }
        if has("request_type", "client") || has("till", "cipher") { return "kerberos" }
        if has("domainname") || has("server_nb_computer_name") || has("server_dns_computer_name") { return "ntlm" }
        if has("fuid", "action", "path") || has("times.modified") { return "smb_files" }
        if has("note", "msg") { return "notice" }
        if has("fingerprint") || has("certificate.version") || has("certificate.subject") { return "x509" }
        if has("fuid", "seen_bytes") || has("tx_hosts") || has("fuid", "mime_type", "source") { return "files" }
        if has("assigned_addr") || has("lease_time") || has("assigned_ip") { return "dhcp" }
        if has("software_type") || has("unparsed_version") { return "software" }
        if has("name", "addl") || has("name", "notice", "peer") { return "weird" }
        return nil
    }
}
