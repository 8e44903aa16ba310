import FlowhoundCore

/// What one call to `LineDecoder.decode` found.
package enum DecodeOutcome: Equatable, Sendable {
    /// The record holds an event.
    case event
    /// The line changed the schema. Adopt `decoder.schema` (recompile rules, `record.ensureCapacity`), then call
    /// `decode` again with the same line: a header line then yields `.skipped`, a data line that triggered the
    /// change (headerless TSV, JSON log-type switch) yields its event.
    case schemaChanged
    /// Header, comment or blank line: nothing to do.
    case skipped
    /// The line could not be decoded; count it by reason.
    case malformed(MalformedReason)
}

/// Why a line was rejected. The raw values are stable snake_case names for counters and reports.
package enum MalformedReason: String, Sendable, CaseIterable {
    /// A TSV data line with more or fewer columns than `#fields` declares.
    case fieldCount = "field_count"
    /// The time field is present but is not a valid time. The record is otherwise fully decoded.
    case badTimestamp = "bad_timestamp"
    /// Not one well-formed JSON object (truncated, garbage, not an object, bad escape).
    case badJSON = "bad_json"
    /// A TSV data line before any `#fields` header that does not look like a Zeek conn line.
    case noHeader = "no_header"
    /// Longer than the decoder's `maxLineLength`.
    case lineTooLong = "line_too_long"
    /// A syslog line without a recognisable header (no stamp, no `<PRI>`, no `%ASA-`).
    case badHeader = "bad_header"
}

/// Turns one line (without its newline) into slot values of `schema`.
///
/// Values written into the record stay valid until the next `decode` call: they point into the line itself or
/// into a scratch buffer the decoder owns.
package protocol LineDecoder: AnyObject {
    /// The current schema; replaced only by a call that returns `.schemaChanged` (except for a `SyslogDecoder`
    /// whose caller set `switchesInPlace`: it switches during any call, and the caller compares `schemaIdentity`).
    var schema: Schema { get }
    func decode(_ line: UnsafePointer<UInt8>, _ count: Int, into record: inout EventRecord) -> DecodeOutcome
}

/// Creates the decoder for a format.
///
/// - `fileName`: the input's name (path or basename); gives the log type when the data does not (`#path`,
///   `_path`).
/// - `requestedFields`: field names rules use (native, ECS or taxonomy). JSON decoders add those their catalog
///   cannot resolve as literal key paths; syslog adds them as RFC 5424 `SD-ID.param` fields; TSV and VPC ignore
///   it (every column is in the schema).
/// - `maxLineLength`: the longest line the caller will pass; longer ones are `line_too_long`.
/// - `context`: reference time and zone for syslog stamps, field map for generic JSON.
package func makeDecoder(
    format: LogFormat, fileName: String, requestedFields: Set<String>, maxLineLength: Int,
    context: DecoderContext = DecoderContext()
) -> (any LineDecoder)? {
    switch format {
    case .zeekTSV: return ZeekTSVDecoder(fileName: fileName, maxLineLength: maxLineLength)
    case .zeekJSON:
        return ZeekJSONDecoder(fileName: fileName, requestedFields: requestedFields, maxLineLength: maxLineLength)
    case .syslog:
        return SyslogDecoder(fileName: fileName, requestedFields: requestedFields, maxLineLength: maxLineLength,
                             context: context)
    case .vpcFlow: return VPCFlowDecoder(fileName: fileName, maxLineLength: maxLineLength)
    case .windowsJSON:
        return WindowsJSONDecoder(fileName: fileName, requestedFields: requestedFields, maxLineLength: maxLineLength)
    case .json:
        return GenericJSONDecoder(fileName: fileName, requestedFields: requestedFields, maxLineLength: maxLineLength,
                                  fieldMap: context.fieldMap)
    }
}

/// Zeek log type from a file name.
///
/// Rule: take the basename; if it starts with a known Zeek log name followed by `.`, `_` or the end, the
/// longest such name wins (`smb_mapping.log` → `smb_mapping`, `conn_20200101.log` → `conn`,
/// `conn.04:00:00-05:00:00.log.gz` → `conn`, but `conn-summary.log` → `conn-summary`). Otherwise a known name
/// after a `-`, `_` or `.` inside the name (`labeled-conn.log.gz` → `conn`). Otherwise the basename up to
/// its first `.` (an unknown type, "" if that is empty or just `log`/`json`).
package func zeekLogType(fileName: String) -> String {
    let base = Array((fileName.split(separator: "/", omittingEmptySubsequences: false).last ?? "").utf8)
    func matches(_ name: [UInt8], at i: Int) -> Bool {
        guard i + name.count <= base.count else { return false }
        for k in 0..<name.count where base[i + k] != name[k] { return false }
        let j = i + name.count
        return j == base.count || base[j] == 46 || base[j] == 95
    }
    let names = ZeekCatalog.knownNameBytes
    for (s, b) in names where matches(b, at: 0) { return s }
    if base.count > 1 {
        for i in 1..<base.count where base[i - 1] == 45 || base[i - 1] == 95 || base[i - 1] == 46 {
            for (s, b) in names where matches(b, at: i) { return s }
        }
    }
    let stem = base.prefix { $0 != 46 }
    let s = String(decoding: stem, as: UTF8.self)
    return s == "log" || s == "json" ? "" : s
}

extension ZeekCatalog {
    static let knownNameBytes: [(String, [UInt8])] = knownNames.map { ($0, Array($0.utf8)) }
}

/// Guesses the format of an input from its first non-empty line.
///
/// - `#separator`, `#fields` (or any other Zeek header keyword) → Zeek TSV.
/// - `{` with `ts` and one of `uid`, `id.orig_h`, `id_orig_h`, nested `orig_h`, `_path` → Zeek JSON; also `ts`
///   in a file whose name names a catalog log (`software.log`).
/// - A line starting `ts<TAB>` (field names of Zeek's header-less "tsv" mode) → Zeek TSV.
/// - A tab-separated line whose third column is an IP address, in a file whose name names a Zeek log →
///   headerless Zeek TSV (the decoder then assumes the default conn columns when the shape fits).
/// - Other `{` lines with Windows event keys (`EventID`, `winlog`, `EventData`, `event_id`) → Windows JSON;
///   any other `{` → generic JSON.
/// - A VPC flow header or record (see `looksLikeVPCFlow`) → VPC flow.
/// - A syslog header (see `looksLikeSyslog`) → syslog.
/// - Otherwise nil.
package enum FormatSniffer {
    package static func sniff(_ firstLine: UnsafePointer<UInt8>, _ count: Int, fileName: String) -> LogFormat? {
        var i = 0
        if count >= 3 && firstLine[0] == 0xEF && firstLine[1] == 0xBB && firstLine[2] == 0xBF { i = 3 }
        while i < count, firstLine[i] == 32 || firstLine[i] == 9 || firstLine[i] == 13 { i += 1 }
        if i >= count { return nil }
        let p = firstLine + i
        let n = count - i
        if p[0] == 35 {  // '#'
            for h in ["#separator", "#fields", "#set_separator", "#path", "#types", "#unset_field", "#empty_field"]
            where hasPrefix(p, n, h) { return .zeekTSV }
            return nil
        }
        if p[0] == 123 {  // '{'
            if contains(p, n, "\"ts\"") && (contains(p, n, "\"uid\"") || contains(p, n, "\"id.orig_h\"")
                || contains(p, n, "\"id_orig_h\"") || contains(p, n, "\"orig_h\"") || contains(p, n, "\"_path\"")) {
                return .zeekJSON
            }
            if contains(p, n, "\"id.orig_h\"") || contains(p, n, "\"id_orig_h\"") { return .zeekJSON }
            if contains(p, n, "\"ts\""), ZeekCatalog.entry(zeekLogType(fileName: fileName)) != nil { return .zeekJSON }
            if contains(p, n, "\"EventID\"") || contains(p, n, "\"winlog\"") || contains(p, n, "\"EventData\"")
                || contains(p, n, "\"event_id\"") || contains(p, n, "\"winlog.event_id\"")
                || (contains(p, n, "\"Channel\"") && contains(p, n, "\"EventI")) {
                return .windowsJSON
            }
            return .json
        }
        if looksLikeVPCFlow(p, n) { return .vpcFlow }
        if looksLikeSyslog(p, n) { return .syslog }
        if n > 3 && p[0] == 116 && p[1] == 115 && p[2] == 9 { return .zeekTSV }  // `ts<TAB>uid…` names line
        if memchr(p, 9, n) != nil {
            let t = zeekLogType(fileName: fileName)
            if !t.isEmpty && ZeekCatalog.knownNames.contains(t), ZeekTSVDecoder.looksLikeConnLine(p, n) != nil {
                return .zeekTSV
            }
        }
        return nil
    }

    /// A VPC flow header (`version account-id …`, `${version} …`) or a record: version digit 2–9, then an
    /// `eni-`/`vpc-` token or an ACCEPT/REJECT/NODATA/SKIPDATA token among 14+ space-separated columns.
    static func looksLikeVPCFlow(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        if hasPrefix(p, n, "version ") || hasPrefix(p, n, "${version}") {
            return contains(p, n, "srcaddr") || contains(p, n, "interface-id") || contains(p, n, "account-id")
        }
        guard n > 20, p[0] >= 50 && p[0] <= 57, p[1] == 32 else { return false }
        var tokens = 1
        for i in 1..<n where p[i] == 32 && p[i - 1] != 32 { tokens += 1 }
        guard tokens >= 10 else { return false }
        return contains(p, n, " eni-") || contains(p, n, " ACCEPT ") || contains(p, n, " REJECT ")
            || contains(p, n, " NODATA") || contains(p, n, " SKIPDATA") || contains(p, n, " vpc-")
    }

    /// `<PRI>`, a BSD stamp (`Mmm dd HH:MM:SS`, also Cisco's `Mmm dd yyyy HH:MM:SS`), an RFC 3339 stamp
    /// followed by a host, a bare `%ASA-`/`%FTD-` message, or a journal banner.
    static func looksLikeSyslog(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        if n >= 3 && p[0] == 60 {
            var j = 1
            while j < n && j < 5 && isDigit(p[j]) { j += 1 }
            return j > 1 && j < n && p[j] == 62
        }
        if n > 6 && p[0] == 37 && (hasPrefix(p, n, "%ASA-") || hasPrefix(p, n, "%FTD-") || hasPrefix(p, n, "%PIX-")) {
            return true
        }
        if hasPrefix(p, n, "-- Logs begin at") || hasPrefix(p, n, "-- Journal begins at") || hasPrefix(p, n, "-- No entries --") {
            return true
        }
        if n >= 15 && monthNumber(p) != 0 && p[3] == 32 {
            var j = 4
            if p[j] == 32 { j += 1 }
            guard isDigit(p[j]) else { return false }
            while j < n && isDigit(p[j]) { j += 1 }
            guard j < n, p[j] == 32 else { return false }
            j += 1
            if j + 5 < n && isDigit(p[j]) && isDigit(p[j + 3]) && p[j + 4] == 32 { j += 5 }
            return j + 8 <= n && isDigit(p[j]) && p[j + 2] == 58 && p[j + 5] == 58
        }
        if n > 20 && isDigit(p[0]) && p[4] == 45 && p[7] == 45 && (p[10] == 84 || p[10] == 116) && p[13] == 58 {
            var j = 11
            while j < n && p[j] != 32 && p[j] != 9 { j += 1 }
            return j < n && p[j] == 32 && parseISO8601(p, j) != nil
        }
        return false
    }

    private static func hasPrefix(_ p: UnsafePointer<UInt8>, _ n: Int, _ s: String) -> Bool {
        var s = s
        return s.withUTF8 { b in b.count <= n && memcmp(p, b.baseAddress!, b.count) == 0 }
    }

    private static func contains(_ p: UnsafePointer<UInt8>, _ n: Int, _ s: String) -> Bool {
        var s = s
        return s.withUTF8 { b in Bytes.find(p, n, b.baseAddress!, b.count) != nil }
    }
}

/// Fixed byte strings the decoders point values at (normalised booleans).
enum StaticBytes {
    nonisolated(unsafe) static let storage: UnsafeMutablePointer<UInt8> = {
        let s = Array("truefalse".utf8)
        let p = UnsafeMutablePointer<UInt8>.allocate(capacity: s.count)
        p.initialize(from: s, count: s.count)
        return p
    }()
    static var trueValue: FieldValue { FieldValue(base: UnsafePointer(storage), count: 4) }
    static var falseValue: FieldValue { FieldValue(base: UnsafePointer(storage + 4), count: 5) }
}

@inline(__always) func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 48...57: return c - 48
    case 97...102: return c - 87
    case 65...70: return c - 55
    default: return nil
    }
}

/// The list separator decoders use when they rebuild a list into scratch (ASCII unit separator).
let rebuiltListSeparator: UInt8 = 0x1F

/// Parses an ISO 8601 / RFC 3339 time: `YYYY-MM-DD[T ]HH:MM[:SS[.frac]][Z|±HH[:]MM|±HH]`; no zone = UTC.
func parseISO8601(_ p: UnsafePointer<UInt8>, _ n: Int) -> Timestamp? {
    @inline(__always) func num(_ at: Int, _ len: Int) -> Int64? {
        if at + len > n { return nil }
        var v: Int64 = 0
        for k in 0..<len {
            let d = p[at + k] &- 48
            if d > 9 { return nil }
            v = v * 10 + Int64(d)
        }
        return v
    }
    var i = 0
    var neg = false
    if n > 0 && (p[0] == 45 || p[0] == 43) { neg = p[0] == 45; i = 1 }
    guard let y0 = num(i, 4), i + 4 < n, p[i + 4] == 45, let mo = num(i + 5, 2), i + 7 < n, p[i + 7] == 45,
          let d = num(i + 8, 2) else { return nil }
    let y = neg ? -y0 : y0
    guard (1...12).contains(mo), (1...31).contains(d) else { return nil }
    i += 10
    var h: Int64 = 0, mi: Int64 = 0, s: Int64 = 0, nanos: Int64 = 0
    if i < n {
        guard p[i] == 84 || p[i] == 116 || p[i] == 32 else { return nil }
        guard let hh = num(i + 1, 2), i + 3 < n, p[i + 3] == 58, let mm = num(i + 4, 2) else { return nil }
        h = hh; mi = mm
        i += 6
        if i < n && p[i] == 58 {
            guard let ss = num(i + 1, 2) else { return nil }
            s = ss
            i += 3
            if i < n && (p[i] == 46 || p[i] == 44) {
                i += 1
                var scale: Int64 = 100_000_000
                var digits = 0
                while i < n, p[i] &- 48 <= 9 {
                    nanos += Int64(p[i] - 48) * scale
                    scale /= 10
                    i += 1
                    digits += 1
                }
                if digits == 0 { return nil }
            }
        }
        guard h <= 24, mi <= 59, s <= 60 else { return nil }
    }
    var offset: Int64 = 0
    if i < n {
        if (p[i] == 90 || p[i] == 122) && i + 1 == n {
            i += 1
        } else if p[i] == 43 || p[i] == 45 {
            let sign: Int64 = p[i] == 45 ? -1 : 1
            guard let oh = num(i + 1, 2) else { return nil }
            var om: Int64 = 0
            var j = i + 3
            if j < n && p[j] == 58 { j += 1 }
            if j < n {
                guard let m = num(j, 2) else { return nil }
                om = m
                j += 2
            }
            guard oh <= 23, om <= 59 else { return nil }
            offset = sign * (oh * 3600 + om * 60)
            i = j
        }
    }
    guard i == n else { return nil }
    let days = CivilDate.days(year: y, month: mo, day: d)
    let secs = days * 86_400 + h * 3600 + mi * 60 + s - offset
    return Timestamp(seconds: secs, nanos: nanos)
}
