import CByteScan
import FlowhoundCore

/// Decodes Zeek's ASCII (TSV) logs, header blocks included.
///
/// Decisions:
/// - Header lines follow the declared `#separator` (`\xNN` escapes allowed, multi-byte separators such as `||`
///   work). A repeated header block that yields the same layout does not change the schema (`.skipped`).
/// - The schema is built at `#types` (or at the first data line after `#fields` when `#types` is missing).
/// - `-` (the declared unset marker) → absent; `(empty)` → present with count 0 (for lists: an empty list).
/// - `bool` columns: `T`/`F` are normalised to `true`/`false` (as Zeek JSON writes them).
/// - Lists keep the set separator as `listSeparator` when no element needed unescaping; otherwise (or when the
///   set separator is more than one byte) elements are rebuilt into scratch separated by 0x1F.
/// - `\xNN` is decoded in every value; any other backslash is kept literally.
/// - Time: the `ts` column (or the first `time` column); `-` gives no timestamp; unparsable → `bad_timestamp`.
/// - Data before any `#fields`: if the line has the shape of a default Zeek conn line (21 or 22 columns, IP
///   addresses in columns 3 and 5, ports in 4 and 6, a transport in 7) the default conn layout is assumed
///   (`inferredHeader` becomes true: report it); otherwise `no_header`.
/// - RITA's `_node_name` is an ordinary declared column (first in `#fields`); it gets the alias `observer.name`.
///   Undeclared extra columns are `field_count`.
package final class ZeekTSVDecoder: LineDecoder {
    package private(set) var schema: Schema
    /// True once the decoder assumed the default conn layout for a headerless file.
    package private(set) var inferredHeader = false

    private let fileName: String
    private let maxLineLength: Int
    private var separator: [UInt8] = [9]
    private var setSeparator: [UInt8] = [44]
    private var emptyField: [UInt8] = Array("(empty)".utf8)
    private var unsetField: [UInt8] = [45]
    private var path = ""
    private var pendingFields: [String]?
    private var pendingTypes: [String]?
    private var haveSchema = false
    /// A field-name line (`LogAscii::tsv` style) that installed the schema; its re-decode is `.skipped`.
    private var namesLine: UnsafePointer<UInt8>?

    // Per-slot data for the hot path.
    private var kinds: UnsafeMutablePointer<UInt8>
    private var kindsCapacity: Int
    private var fieldCount = 0
    private var tsSlot = -1
    /// Field ends of the current line; `ends[-1] == -sepLen`, so field k starts at `ends[k - 1] + sepLen` for every k.
    private let ends: UnsafeMutablePointer<Int32>
    private let scratch: UnsafeMutablePointer<UInt8>
    // Copies of the markers as raw bytes.
    private let markers: UnsafeMutablePointer<UInt8>  // [sep(≤15) | set(≤15) | empty(≤31) | unset(≤31)]
    private var sepLen = 1, setLen = 1, emptyLen = 7, unsetLen = 1

    private static let kindOther: UInt8 = 0, kindList: UInt8 = 1, kindBool: UInt8 = 2

    // Sparse decoding (`decodeOnly`): the slots to fill, and what the last call left in which record.
    private var wanted: UnsafeMutablePointer<Int32>
    private var wantedCount = -1  // -1: every slot
    /// `wanted[0..<wantedPlain]` are slots of the plain kind (for the C extractor); lists and bools follow.
    private var wantedPlain = 0
    /// Indices into `wanted` that the C extractor left for the general path (room for every wanted slot).
    private var slow: UnsafeMutablePointer<Int32>
    /// The timestamp slot is among the wanted ones.
    private var tsWanted = false
    /// `Self.cLayout`, read once per decoder instead of per line.
    private let cLayout = ZeekTSVDecoder.cLayout
    /// Sparse: separator positions needed to reach every wanted slot and the timestamp (the rest is counted).
    private var needSeparators = Int.max
    /// Address of the record storage the last call wrote (a bit pattern: compared without generic `==`).
    private var lastValues = 0
    private var lastWasSparse = false

    package init(fileName: String, maxLineLength: Int) {
        self.fileName = fileName
        self.maxLineLength = max(maxLineLength, 16)
        ends = UnsafeMutablePointer<Int32>.allocate(capacity: self.maxLineLength + 17) + 1
        scratch = .allocate(capacity: self.maxLineLength * 2 + 64)
        markers = .allocate(capacity: 96)
        kindsCapacity = 64
        kinds = .allocate(capacity: kindsCapacity)
        wanted = .allocate(capacity: 1)
        slow = .allocate(capacity: 1)
        let lt = zeekLogType(fileName: fileName)
        schema = ZeekCatalog.schema(format: .zeekTSV, logType: lt, fields: [])
        storeMarkers()
    }

    deinit {
        (ends - 1).deallocate()
        scratch.deallocate()
        markers.deallocate()
        kinds.deallocate()
        wanted.deallocate()
        slow.deallocate()
    }

    /// Restricts decoding to `slots` of the current schema (nil: every slot, the default).
    ///
    /// With a restriction, `decode` still splits and checks the whole line (field count, timestamp) but builds
    /// values only for those slots; every other slot of the record is absent. The restriction ends when the
    /// schema changes (`.schemaChanged`): set it again for the new schema. Use `decodeAllFields` to get a full
    /// record for a line already decoded sparsely (e.g. when a rule matched and every field is wanted).
    package func decodeOnly(slots: [Int]?) {
        guard let slots else {
            wantedCount = -1
            return
        }
        let valid = Set(slots.filter { $0 >= 0 && $0 < fieldCount }).sorted()
        wanted.deallocate()
        lastWasSparse = false  // slots of an earlier restriction may still hold values: clear once
        wanted = .allocate(capacity: max(valid.count, 1))
        slow.deallocate()
        slow = .allocate(capacity: max(valid.count, 1))
        // plain-kind slots first (the C extractor takes those), then lists and bools
        let ordered = valid.filter { kinds[$0] == Self.kindOther } + valid.filter { kinds[$0] != Self.kindOther }
        for (i, v) in ordered.enumerated() { wanted[i] = Int32(v) }
        wantedPlain = valid.count(where: { kinds[$0] == Self.kindOther })
        wantedCount = valid.count
        tsWanted = tsSlot >= 0 && valid.contains(tsSlot)
        needSeparators = max(valid.last ?? 0, tsSlot) + 1
    }

    /// Decodes a data line with every slot, ignoring `decodeOnly` (same outcome as `decode` for that line).
    package func decodeAllFields(
        _ line: UnsafePointer<UInt8>, _ count: Int, into record: inout EventRecord
    ) -> DecodeOutcome {
        let saved = wantedCount
        wantedCount = -1
        defer { wantedCount = saved }
        return decode(line, count, into: &record)
    }

    private func storeMarkers() {
        func put(_ bytes: [UInt8], _ at: Int, _ cap: Int) -> Int {
            let n = min(bytes.count, cap)
            for i in 0..<n { markers[at + i] = bytes[i] }
            return n
        }
        sepLen = put(separator, 0, 15)
        ends[-1] = Int32(-sepLen)
        setLen = put(setSeparator, 16, 15)
        emptyLen = put(emptyField, 32, 31)
        unsetLen = put(unsetField, 64, 31)
    }

    // MARK: decoding

    package func decode(_ line: UnsafePointer<UInt8>, _ count: Int, into record: inout EventRecord) -> DecodeOutcome {
        var n = count
        if n > 0 && line[n - 1] == 13 { n -= 1 }
        if n == 0 { return .skipped }
        if line[0] == 35 { return header(line, n) }  // header lines do not use the line-sized buffers
        if let nl = namesLine {
            namesLine = nil
            if nl == line { return .skipped }
        }
        if n > maxLineLength { return .malformed(.lineTooLong) }
        if !haveSchema {
            if let fields = pendingFields {
                install(names: fields, types: pendingTypes)
                return .schemaChanged
            }
            if n > 3 && line[0] == 116 && line[1] == 115 && line[2] == 9 {
                // `ts<TAB>uid<TAB>…`: Zeek's header-less "tsv" mode writes one line of field names
                let names = split(Array(UnsafeBufferPointer(start: line, count: n))).map {
                    String(decoding: $0, as: UTF8.self)
                }
                separator = [9]
                storeMarkers()
                install(names: names, types: nil)
                namesLine = line
                return .schemaChanged
            }
            if let cols = Self.looksLikeConnLine(line, n) {
                let conn = ZeekCatalog.entry("conn")!.fields
                let names = conn.prefix(cols).map(\.name)
                separator = [9]
                storeMarkers()
                inferredHeader = true
                let lt = zeekLogType(fileName: fileName)
                path = lt.isEmpty || ZeekCatalog.entry(lt)?.name != "conn" ? "conn" : lt
                install(names: Array(names), types: conn.prefix(cols).map(\.type))
                return .schemaChanged
            }
            return .malformed(.noHeader)
        }
        return data(line, n, &record)
    }

    @inline(__always)
    private func data(_ line: UnsafePointer<UInt8>, _ n: Int, _ record: inout EventRecord) -> DecodeOutcome {
        record.ensureCapacity(fieldCount)
        record.line = line
        record.lineLength = n
        record.timestamp = nil
        let sparse = wantedCount >= 0
        if !sparse || !lastWasSparse || lastValues != Int(bitPattern: record.values) {
            record.reset(fieldCount: fieldCount)
        }
        lastValues = Int(bitPattern: record.values)
        lastWasSparse = sparse
        // Split: ends[k] = index just past field k.
        var nt = 0
        var sawBackslash = true
        if sepLen == 1 {
            var slash: Int32 = 0
            let need = sparse ? needSeparators : .max
            let fields = flowhound_split_fields(line, Int64(n), markers[0], ends, Int64(need), &slash)
            if fields >= 0 {
                nt = Int(fields)
                sawBackslash = slash != 0
            } else {
                let split = Self.splitWords(line, n, markers[0], ends, need: need)
                nt = split.fields
                sawBackslash = split.backslash
            }
        } else {
            var pos = 0
            while pos <= n - sepLen, let f = Bytes.find(line + pos, n - pos, markers, sepLen) {
                ends[nt] = Int32(truncatingIfNeeded: pos + f)
                nt += 1
                pos = pos + f + sepLen
            }
            ends[nt] = Int32(truncatingIfNeeded: n)
        }
        if nt + 1 != fieldCount { return .malformed(.fieldCount) }

        var scratchPos = 0
        let values = record.values
        // First backslash of the line (fields ending before it need no `\xNN` look).
        let backslash: Int
        if sawBackslash, let b = memchr(line, 92, n) {
            backslash = UnsafePointer<UInt8>(b.assumingMemoryBound(to: UInt8.self)) - line
        } else {
            backslash = n
        }
        if sparse {
            if cLayout {
                let nslow = values.withMemoryRebound(to: flowhound_field.self, capacity: fieldCount) { v in
                    flowhound_extract_fields(
                        line, ends, wanted, Int64(wantedPlain), Int64(sepLen), Int64(backslash), markers + 64,
                        Int64(unsetLen), markers + 32, Int64(emptyLen), v, slow)
                }
                for i in 0..<Int(nslow) { general(Int(wanted[Int(slow[i])]), line, backslash, values, &scratchPos) }
                for w in wantedPlain..<wantedCount { general(Int(wanted[w]), line, backslash, values, &scratchPos) }
            } else {
                for w in 0..<wantedCount { general(Int(wanted[w]), line, backslash, values, &scratchPos) }
            }
            let tsDone = tsSlot < 0 || tsWanted
            if !tsDone {
                let k = tsSlot
                let start = k == 0 ? 0 : Int(ends[k - 1]) + sepLen
                let end = Int(ends[k])
                // Zeek's usual `ssssssssss.uuuuuu`, plain (no backslash, not a marker's length): parsed in place.
                let len = end &- start
                if len == 17 && end <= backslash && kinds[k] == Self.kindOther && len != unsetLen && len != emptyLen,
                    let t = Self.parseZeekTime(line + start, 17)
                {
                    record.timestamp = t
                    return .event
                }
                let escaped = end > backslash && memchr(line + start, 92, end - start) != nil
                return timestamp(value(line + start, end - start, kinds[k], escaped: escaped, &scratchPos), &record)
            }
        } else {
            var start = 0
            for k in 0..<fieldCount {
                let end = Int(ends[k])
                let len = end - start
                let b = line + start
                values[k] = value(b, len, kinds[k], escaped: end > backslash && memchr(b, 92, len) != nil, &scratchPos)
                start = end + sepLen
            }
        }
        if tsSlot >= 0 { return timestamp(values[tsSlot], &record) }
        return .event
    }

    /// Whether `FieldValue` has the layout of the C `flowhound_field` (then the C extractor writes it directly).
    static let cLayout =
        MemoryLayout<FieldValue>.stride == MemoryLayout<flowhound_field>.stride
        && MemoryLayout<FieldValue>.offset(of: \FieldValue.base) == MemoryLayout<flowhound_field>.offset(of: \.base)
        && MemoryLayout<FieldValue>.offset(of: \FieldValue.count) == MemoryLayout<flowhound_field>.offset(of: \.count)
        && MemoryLayout<FieldValue>.offset(of: \FieldValue.listSeparator)
            == MemoryLayout<flowhound_field>.offset(of: \.list_separator)

    /// Decodes field `k` with every rule (markers, lists, bools, `\xNN`) into `values[k]`.
    @inline(__always)
    private func general(
        _ k: Int, _ line: UnsafePointer<UInt8>, _ backslash: Int, _ values: UnsafeMutablePointer<FieldValue>,
        _ scratchPos: inout Int
    ) {
        let start = k == 0 ? 0 : Int(ends[k &- 1]) &+ sepLen
        let end = Int(ends[k])
        let escaped = end > backslash && memchr(line + start, 92, end &- start) != nil
        values[k] = value(line + start, end &- start, kinds[k], escaped: escaped, &scratchPos)
    }

    /// Records the index of every `sep` byte of `p[0..<n]` in `e` (`e[k]` = end of field k, `e[nt] = n`) and
    /// returns the number of separators and whether a backslash occurs. Eight bytes per step (SWAR): the
    /// positions of the first four separators of a word are stored unconditionally (stores past the last one
    /// are overwritten later or lie beyond the fields), so the loop has no data-dependent branch except for
    /// the rare word with more than four separators. Reads only `p[0..<n]`; `e` needs room for `n + 4` entries.
    @inline(__always)
    static func splitWords(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ sep: UInt8, _ e: UnsafeMutablePointer<Int32>, need: Int = .max
    ) -> (fields: Int, backslash: Bool) {
        let low7: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let sepWord = UInt64(sep) &* 0x0101_0101_0101_0101
        let slashWord: UInt64 = 0x5C5C_5C5C_5C5C_5C5C
        let raw = UnsafeRawPointer(p)
        var nt = 0
        var k = 0
        var slashes: UInt64 = 0
        while k &+ 8 <= n && nt < need {
            let w = raw.loadUnaligned(fromByteOffset: k, as: UInt64.self)
            let t = w ^ sepWord
            let b = w ^ slashWord
            // high bit of a byte set exactly where that byte of t (b) is zero
            var m = ~(((t & low7) &+ low7) | t | low7)
            slashes |= ~(((b & low7) &+ low7) | b | low7)
            let c = Self.highBitCount(m)
            let base = Int32(truncatingIfNeeded: k)
            e[nt] = base &+ Int32(truncatingIfNeeded: m.trailingZeroBitCount >> 3)
            m &= m &- 1
            e[nt &+ 1] = base &+ Int32(truncatingIfNeeded: m.trailingZeroBitCount >> 3)
            m &= m &- 1
            e[nt &+ 2] = base &+ Int32(truncatingIfNeeded: m.trailingZeroBitCount >> 3)
            m &= m &- 1
            e[nt &+ 3] = base &+ Int32(truncatingIfNeeded: m.trailingZeroBitCount >> 3)
            if c > 4 {
                var j = nt &+ 4
                m &= m &- 1
                while m != 0 {
                    e[j] = base &+ Int32(truncatingIfNeeded: m.trailingZeroBitCount >> 3)
                    m &= m &- 1
                    j &+= 1
                }
            }
            nt &+= c
            k &+= 8
        }
        // Past the last position needed: only count separators (and a backslash there no longer matters).
        while k &+ 8 <= n {
            let t = raw.loadUnaligned(fromByteOffset: k, as: UInt64.self) ^ sepWord
            nt &+= Self.highBitCount(~(((t & low7) &+ low7) | t | low7))
            k &+= 8
        }
        var tailSlash = false
        while k < n {
            let c = p[k]
            e[nt] = Int32(truncatingIfNeeded: k)
            nt &+= c == sep ? 1 : 0
            tailSlash = tailSlash || c == 92
            k &+= 1
        }
        e[nt] = Int32(truncatingIfNeeded: n)
        return (nt, slashes != 0 || tailSlash)
    }

    /// Number of bytes of `m` with the high bit set, when only high bits may be set (no popcnt instruction in
    /// the baseline x86-64 target: one multiply adds the eight flags).
    @inline(__always)
    static func highBitCount(_ m: UInt64) -> Int {
        Int(truncatingIfNeeded: ((m >> 7) &* 0x0101_0101_0101_0101) >> 56)
    }

    /// Zeek's usual `ssssssssss.uuuuuu` (10 + 6 digits) without a loop per digit; nil for any other shape.
    @inline(__always)
    static func parseZeekTime(_ p: UnsafePointer<UInt8>, _ n: Int) -> Timestamp? {
        if n != 17 || p[10] != 46 { return nil }
        let raw = UnsafeRawPointer(p)
        let hi = raw.loadUnaligned(as: UInt64.self)  // digits 0-7
        // bytes 9-16 = digit 9, '.', six fraction digits; the first two become '0' so the word is 00dddddd
        let lo = raw.loadUnaligned(fromByteOffset: 9, as: UInt64.self) & ~0xFFFF | 0x3030
        let d8 = p[8] &- 48, d9 = p[9] &- 48
        guard d8 <= 9 && d9 <= 9, let a = Bytes.eightDigits(hi), let f = Bytes.eightDigits(lo) else { return nil }
        let secs = Int64(a) &* 100 &+ Int64(d8) &* 10 &+ Int64(d9)
        return Timestamp(nanoseconds: secs &* 1_000_000_000 &+ Int64(f) &* 1000)
    }


    @inline(__always)
    private func timestamp(_ v: FieldValue, _ record: inout EventRecord) -> DecodeOutcome {
        if let base = v.base, v.count > 0 {
            if let t = Self.parseZeekTime(base, v.count) {
                record.timestamp = t
                return .event
            }
            guard let t = Bytes.parseEpoch(base, v.count) ?? parseISO8601(base, v.count) else {
                return .malformed(.badTimestamp)
            }
            record.timestamp = t
        }
        return .event
    }

    /// The value of one field's raw bytes (unset, empty, bool, list and `\xNN` rules applied).
    @inline(__always)
    private func value(
        _ b: UnsafePointer<UInt8>, _ len: Int, _ kind: UInt8, escaped: Bool, _ scratchPos: inout Int
    ) -> FieldValue {
        let uLen = unsetLen
        if len == uLen && b[0] == markers[64] && (uLen == 1 || memcmp(b, markers + 64, uLen) == 0) { return .absent }
        if len == emptyLen && b[0] == markers[32] && memcmp(b, markers + 32, emptyLen) == 0 {
            let setByte: UInt8 = setLen == 1 ? markers[16] : rebuiltListSeparator
            return FieldValue(base: b, count: 0, listSeparator: kind == Self.kindList ? setByte : 0)
        }
        if kind == Self.kindBool && len == 1 {
            if b[0] == 84 { return StaticBytes.trueValue }
            if b[0] == 70 { return StaticBytes.falseValue }
        }
        if kind == Self.kindList {
            if escaped || setLen != 1 { return rebuildList(b, len, &scratchPos) }
            return FieldValue(base: b, count: len, listSeparator: markers[16])
        }
        if escaped {
            let out = scratch + scratchPos
            let m = Self.unescape(b, len, into: out)
            scratchPos += m
            return FieldValue(base: UnsafePointer(out), count: m)
        }
        return FieldValue(base: b, count: len, listSeparator: 0)
    }

    /// Splits a list on the raw set separator, unescapes each element, joins them with 0x1F in scratch.
    private func rebuildList(_ b: UnsafePointer<UInt8>, _ len: Int, _ scratchPos: inout Int) -> FieldValue {
        let out = scratch + scratchPos
        var w = 0
        var s = 0
        var first = true
        while true {
            var e = len
            if s <= len - setLen, let f = Bytes.find(b + s, len - s, markers + 16, setLen) { e = s + f }
            if !first { out[w] = rebuiltListSeparator; w += 1 }
            first = false
            w += Self.unescape(b + s, e - s, into: out + w)
            if e >= len { break }
            s = e + setLen
        }
        scratchPos += w
        return FieldValue(base: UnsafePointer(out), count: w, listSeparator: rebuiltListSeparator)
    }

    /// Decodes `\xNN`; other bytes (and a backslash not starting a valid `\xNN`) are copied. Returns bytes written.
    @inline(__always)
    static func unescape(_ p: UnsafePointer<UInt8>, _ n: Int, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var i = 0, w = 0
        while i < n {
            let c = p[i]
            if c == 92 && i + 3 < n && p[i + 1] == 120, let h = hexValue(p[i + 2]), let l = hexValue(p[i + 3]) {
                out[w] = h << 4 | l
                i += 4
            } else {
                out[w] = c
                i += 1
            }
            w += 1
        }
        return w
    }

    // MARK: headers

    private func header(_ line: UnsafePointer<UInt8>, _ n: Int) -> DecodeOutcome {
        let bytes = Array(UnsafeBufferPointer(start: line, count: n))
        let sepKey = Array("#separator".utf8)
        if bytes.starts(with: sepKey) && (n == sepKey.count || bytes[sepKey.count] == 32 || bytes[sepKey.count] == 9) {
            let raw = Array(bytes[min(n, sepKey.count + 1)...])
            let v = Self.unescapeBytes(raw)
            separator = v.isEmpty ? [9] : v
            storeMarkers()
            pendingFields = nil
            pendingTypes = nil
            return .skipped
        }
        // keyword ends at the separator or a space (btest writes `#open XXXX`)
        var kwEnd = 1
        while kwEnd < n && bytes[kwEnd] != 32 && !matchesSeparator(bytes, kwEnd) { kwEnd += 1 }
        let keyword = String(decoding: bytes[1..<kwEnd], as: UTF8.self)
        var values: [[UInt8]] = []
        if kwEnd < n {
            let restStart = bytes[kwEnd] == 32 && !matchesSeparator(bytes, kwEnd) ? kwEnd + 1 : kwEnd + separator.count
            values = split(Array(bytes[min(restStart, n)...]))
        }
        let first = values.first.map(Self.unescapeBytes) ?? []
        switch keyword {
        case "set_separator":
            setSeparator = first.isEmpty ? [44] : first
            storeMarkers()
        case "empty_field":
            emptyField = first.isEmpty ? Array("(empty)".utf8) : first
            storeMarkers()
        case "unset_field":
            unsetField = first.isEmpty ? [45] : first
            storeMarkers()
        case "path":
            path = String(decoding: first, as: UTF8.self)
        case "fields":
            pendingFields = values.map { String(decoding: $0, as: UTF8.self) }
            pendingTypes = nil
        case "types":
            guard let fields = pendingFields else { return .skipped }
            let types = values.map { String(decoding: $0, as: UTF8.self) }
            let before = haveSchema ? schema.key : ""
            install(names: fields, types: types.count == fields.count ? types : nil)
            return schema.key == before ? .skipped : .schemaChanged
        default:
            break  // #open, #close and unknown comments
        }
        return .skipped
    }

    private func matchesSeparator(_ b: [UInt8], _ at: Int) -> Bool {
        guard at + separator.count <= b.count else { return false }
        for k in 0..<separator.count where b[at + k] != separator[k] { return false }
        return true
    }

    private func split(_ b: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var cur: [UInt8] = []
        var i = 0
        while i < b.count {
            if matchesSeparator(b, i) {
                out.append(cur)
                cur = []
                i += separator.count
            } else {
                cur.append(b[i])
                i += 1
            }
        }
        out.append(cur)
        return out
    }

    static func unescapeBytes(_ b: [UInt8]) -> [UInt8] {
        if b.isEmpty { return [] }
        return [UInt8](unsafeUninitializedCapacity: b.count) { buf, written in
            written = b.withUnsafeBufferPointer { unescape($0.baseAddress!, b.count, into: buf.baseAddress!) }
        }
    }

    private func install(names: [String], types: [String]?) {
        let catalog = ZeekCatalog.entry(path.isEmpty ? zeekLogType(fileName: fileName) : path)
        var specs: [FieldSpec] = []
        let listSep: UInt8 = setSeparator.count == 1 ? setSeparator[0] : rebuiltListSeparator
        for (i, name) in names.enumerated() {
            let zt = types?[i] ?? catalog?.fields.first(where: { $0.name == name })?.type ?? "string"
            let ft = ZeekCatalog.fieldType(zt)
            specs.append(FieldSpec(name: name, type: ft, listSeparator: ft == .list ? listSep : 0))
        }
        let lt = path.isEmpty ? zeekLogType(fileName: fileName) : path
        schema = ZeekCatalog.schema(format: .zeekTSV, logType: lt, fields: specs)
        fieldCount = specs.count
        if fieldCount > kindsCapacity {
            kinds.deallocate()
            kindsCapacity = fieldCount
            kinds = .allocate(capacity: kindsCapacity)
        }
        for (i, f) in specs.enumerated() {
            kinds[i] = f.type == .list ? Self.kindList : f.type == .bool ? Self.kindBool : Self.kindOther
        }
        tsSlot = -1
        if let t = schema.slot(.timestamp), specs[t].type == .time { tsSlot = t }
        wantedCount = -1
        haveSchema = true
        pendingFields = nil
        pendingTypes = nil
    }

    /// Number of columns (21 or 22) if the line has the shape of a default Zeek conn line, else nil.
    static func looksLikeConnLine(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        var starts: [Int] = [0]
        var ends: [Int] = []
        for i in 0..<n where p[i] == 9 {
            ends.append(i)
            starts.append(i + 1)
            if starts.count > 23 { return nil }
        }
        ends.append(n)
        let cols = starts.count
        guard cols == 21 || cols == 22 else { return nil }
        func f(_ k: Int) -> (UnsafePointer<UInt8>, Int) { (p + starts[k], ends[k] - starts[k]) }
        let (t, tn) = f(0)
        guard Bytes.parseEpoch(t, tn) != nil else { return nil }
        for k in [2, 4] {
            let (a, an) = f(k)
            guard IPAddress.parse(a, an) != nil else { return nil }
        }
        for k in [3, 5] {
            let (a, an) = f(k)
            guard let v = Bytes.parseInt(a, an), v >= 0, v <= 65535 else { return nil }
        }
        let (pr, pn) = f(6)
        let proto = String(decoding: UnsafeBufferPointer(start: pr, count: pn), as: UTF8.self)
        guard ["tcp", "udp", "icmp", "unknown_transport"].contains(proto) else { return nil }
        return cols
    }
}
