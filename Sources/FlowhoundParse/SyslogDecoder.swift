import FlowhoundCore

/// The schema families of syslog input. Lines of one family share a field layout; `auth` and `syslog` schemas
/// are further split by program so that each serves its own `service:` logsource.
package enum SyslogFamily: String, CaseIterable, Sendable {
    /// Any program without a message parser (`service: <program>` and `service: syslog`).
    case syslog
    /// OpenSSH server (`sshd`, `sshd-session`, `sshd(pam_unix)`): `service: sshd` and `service: auth`.
    case sshd
    /// Login-related programs (sudo, su, login, useradd…): `service: auth` and `service: <program>`.
    case auth
    /// Kernel netfilter/UFW `LOG` lines: `category: firewall`, `product: linux, service: netfilter`.
    case netfilter
    /// Cisco ASA/FTD `%ASA-n-NNNNNN:` messages: `product: cisco, service: asa`, `category: firewall`.
    case asa
}

/// Field layouts of the syslog families (catalog spec syntax, see `FieldSpecText`).
package enum SyslogSchemas {
    static let header = FieldSpecText.parse("""
        timestamp time @timestamp !timestamp
        host string host.hostname host.name log.syslog.hostname hostname !host
        program string process.name log.syslog.appname appname
        pid integer process.pid log.syslog.procid procid
        message string msg
        facility count log.syslog.facility.code
        severity count log.syslog.severity.code
        msgid string log.syslog.msgid
        structured_data string log.syslog.structured_data
        """)

    static let auth = FieldSpecText.parse("""
        action string event.action !action
        outcome string event.outcome !outcome
        user string user.name pam_user !user
        src_ip address source.ip !sourceIP
        src_port port source.port !sourcePort
        rhost string source.address pam_rhost
        method string system.auth.ssh.method auth_method
        ssh_event string system.auth.ssh.event
        invalid_user bool
        signature string system.auth.ssh.signature
        repeated count
        dst_ip address destination.ip !destinationIP
        dst_port port destination.port !destinationPort
        tty string system.auth.sudo.tty
        pwd string system.auth.sudo.pwd
        effective_user string user.effective.name system.auth.sudo.user
        command string system.auth.sudo.command process.command_line
        group string group.name
        reason string system.auth.sudo.error
        """)

    static let netfilter = FieldSpecText.parse("""
        action string event.action !action
        blocked bool
        prefix string netfilter.prefix rule.name log.prefix
        IN string observer.ingress.interface.name in_interface
        OUT string observer.egress.interface.name out_interface
        MAC string
        SRC address source.ip src_ip src !sourceIP
        DST address destination.ip dst_ip dest_ip dst !destinationIP
        SPT port source.port src_port !sourcePort
        DPT port destination.port dst_port dest_port !destinationPort
        PROTO string network.transport !transport
        LEN count ip_length
        TOS string
        PREC string
        TTL count
        ID count
        WINDOW count
        RES string
        URGP count
        TYPE count icmp.type
        CODE count icmp.code
        MARK string
        tcp_flags list
        """)

    static let asa = FieldSpecText.parse("""
        action string event.action !action
        outcome string event.outcome !outcome
        blocked bool
        message_id string cisco.asa.message_id event.code
        level count cisco.asa.level log.level
        asa_event string cisco.asa.event
        src_ip address source.ip !sourceIP
        src_port port source.port !sourcePort
        dst_ip address destination.ip dest_ip !destinationIP
        dst_port port destination.port dest_port !destinationPort
        transport string network.transport network_protocol !transport
        src_interface string cisco.asa.source_interface observer.ingress.interface.name
        dst_interface string cisco.asa.destination_interface observer.egress.interface.name
        src_mapped_ip address source.nat.ip
        src_mapped_port port source.nat.port
        dst_mapped_ip address destination.nat.ip
        dst_mapped_port port destination.nat.port
        connection_id string cisco.asa.connection_id
        bytes count network.bytes
        duration interval event.duration !duration
        rule_name string cisco.asa.rule_name rule.name
        direction string network.direction
        user string user.name !user
        reason string cisco.asa.termination_reason
        url string url.original
        command string cisco.asa.command_line
        """)

    static func fields(_ f: SyslogFamily) -> [FieldDef] {
        switch f {
        case .syslog, .sshd, .auth: return auth
        case .netfilter: return netfilter
        case .asa: return asa
        }
    }

    /// The schema of a family (and, for `auth`/`syslog`, a program), with requested extra fields at the end.
    package static func schema(for f: SyslogFamily, program: String = "", extra: [String]) -> Schema {
        var defs = header + fields(f)
        for e in extra { defs.append(FieldDef(name: e, type: .string, aliases: [], roles: [])) }
        let sources: [LogSource]
        var logType = f.rawValue
        switch f {
        case .sshd: sources = [LogSource(product: "linux", service: "sshd"), LogSource(product: "linux", service: "auth")]
        case .auth:
            logType = program.isEmpty ? "auth" : program
            sources = [LogSource(product: "linux", service: "auth")]
                + (program.isEmpty ? [] : [LogSource(product: "linux", service: program)])
        case .syslog:
            logType = program.isEmpty ? "syslog" : program
            sources = [LogSource(product: "linux", service: "syslog")]
                + (program.isEmpty || program == "syslog" ? [] : [LogSource(product: "linux", service: program)])
        case .netfilter:
            sources = [LogSource(category: "firewall"), LogSource(product: "linux", service: "netfilter")]
        case .asa:
            sources = [LogSource(product: "cisco", service: "asa"), LogSource(category: "firewall")]
        }
        return FieldSpecText.schema(format: .syslog, logType: logType, defs: defs, logSources: sources)
    }

    /// Programs decoded as `auth` (their lines go to auth.log / secure on most distributions).
    static let authPrograms: Set<String> = [
        "sudo", "su", "login", "passwd", "useradd", "userdel", "usermod", "groupadd", "groupdel", "groupmod",
        "chpasswd", "chage", "chsh", "chfn", "systemd-logind", "polkitd", "pkexec", "gdm-password", "sddm-helper",
        "lightdm", "unix_chkpwd", "gpasswd", "newgrp", "runuser", "doas", "vsftpd", "proftpd", "dovecot", "sssd",
    ]

    static let headerCount = header.count
}

/// Decodes syslog lines: RFC 3164 (`Feb  5 02:13:44 host prog[pid]: msg`), RFC 3339 stamps (rsyslog high
/// precision, `journalctl -o short-iso[-precise]`), RFC 5424 (`<34>1 … [sd] msg`), the year-ful Cisco header
/// (`Apr 15 2013 09:36:50 [host] : %ASA-…`) and bare `%ASA-…` messages; then dispatches on the program (or the
/// message shape) to the sshd/PAM/sudo, netfilter and Cisco ASA parsers.
///
/// Decisions:
/// - Stamps without a zone use `context.timeZone`; year-less ones take the year from `context.referenceTime`
///   (a month later than the reference month is the previous year: a file written in January holding December
///   lines). A cisco zone name after the time (`EDT`) is ignored: the configured zone applies.
/// - `<PRI>` gives `facility`/`severity`; RFC 5424 `-` values are absent; structured data is kept raw in
///   `structured_data`, and each `SD-ID.param` a rule asks for (`requestedFields`) becomes a field of its own
///   (`exampleSDID@32473.iut`); escapes (`\"`, `\\`, `\]`) are removed.
/// - Tag: the text before the first `[` or `:` within 64 bytes of the host, if it holds no `=` (so `kernel:`,
///   `sshd[12]:`, `syslogd 1.4.1:` and `sshd(pam_unix)[5]:` are tags, `[UFW BLOCK] IN=…` is not).
/// - Lines without any recognisable header are `bad_header`; an impossible date/time is `bad_timestamp` (the
///   rest of the line is decoded). Blank lines and journal banners (`-- Logs begin at …`) are skipped.
/// - Schema: one per family, and for `auth`/`syslog` one per program (up to 64 programs, then the generic
///   `syslog` schema). A line of another schema than the previous one yields `.schemaChanged` first (unless
///   `switchesInPlace`: then it is decoded at once and `schemaIdentity` changes).
/// - sshd/PAM: `outcome` is set only on decision lines (Accepted → success; Failed, Invalid user, PAM
///   `authentication failure`, maximum attempts exceeded → failure), so follow-up lines of one attempt are not
///   counted twice; `action` names every recognised message (`accepted`, `failed`, `invalid_user`, …).
///   `invalid user X` / `illegal user X` in the user position set `invalid_user`. User captures end at the
///   *last* ` from ` that still fits, so a user name cannot smuggle in another address.
package final class SyslogDecoder: LineDecoder {
    package private(set) var schema: Schema

    private let clock: SyslogClock
    private let maxLineLength: Int
    private let extra: [String]
    private var scratch: Scratch
    private var caps = Captures()
    private let sdTable: KeyTable?
    private let keyBuf: UnsafeMutablePointer<UInt8>

    private var familySchemas: [SyslogFamily: Schema] = [:]
    private let asaSchema: Schema, sshdSchema: Schema, netfilterSchema: Schema, genericSchema: Schema
    private var programs: [(key: [UInt8], family: SyslogFamily, schema: Schema)] = []
    /// Unretained views of the schemas above (kept alive by `programs` and the `let`s), for the per-line lookup.
    private let programRefs: UnsafeMutablePointer<Unmanaged<Schema>>
    private let programFamilies: UnsafeMutablePointer<SyslogFamily>
    private let asaRef: Unmanaged<Schema>, sshdRef: Unmanaged<Schema>, netfilterRef: Unmanaged<Schema>
    private let genericRef: Unmanaged<Schema>
    /// `schema`, unretained.
    private var schemaRef: Unmanaged<Schema>
    /// Program keys as 32-byte rows (zero padded) for a retain-free lookup.
    private let programKeys: UnsafeMutablePointer<UInt8>
    private let programKeyLengths: UnsafeMutablePointer<Int>
    private var currentFamily: SyslogFamily = .syslog
    /// The header of the line being decoded; after `.schemaChanged`, that line's header (`pendingLine`).
    private let hp: UnsafeMutablePointer<Header>
    /// The last BSD stamp converted: local date and second of day → UTC seconds.
    private var lastStamp: (year: Int64, month: Int64, day: Int64, second: Int64, utc: Int64) = (-1, -1, -1, -1, 0)
    /// The bytes of the last valid 15-byte BSD stamp without year or fraction (`Mar  1 00:00:00`, as two
    /// overlapping words) and its UTC second.
    private var lastBSD: (valid: Bool, head: UInt64, tail: UInt64, utc: Int64) = (false, 0, 0, 0)
    /// The line that last returned `.schemaChanged` and its family (its header is still in `header`).
    private var pendingLine: UnsafePointer<UInt8>?
    private var pendingCount = 0
    private var pendingFamily: SyslogFamily = .syslog
    /// A copy of that line: the header is reused only when the next call passes the same bytes.
    private var pendingCopy: UnsafeMutablePointer<UInt8>
    private var pendingCapacity: Int
    /// The last 8 `host tag[` prefixes (`parseHeader`).
    private let prefixCache: UnsafeMutablePointer<PrefixEntry>
    private var prefixCacheNext = 0
    private var prefixHot = 0
    /// The last 8 programs seen and their schema decision (`schemaFor`).
    private let programCache: UnsafeMutablePointer<ProgramEntry>
    private var programCacheNext = 0
    private var programHot = 0

    /// false: auth messages go through the template list only (`SyslogFastAuth` off; differential tests).
    var fastAuth = true
    /// `SyslogMessages.authTable`, read once (the global's lazy initialisation check cost a `swift_once` per line).
    private let authTable = SyslogMessages.authTable

    /// true: a line of another schema switches `schema` and is decoded in the same call (never `.schemaChanged`);
    /// the caller compares `schemaIdentity` after each call instead. For callers that keep per-schema state
    /// (the scan sink): a third of a typical auth log changes program, and the extra round trip cost more than
    /// the line.
    package var switchesInPlace = false

    /// The current schema object's address: changes exactly when `schema` does.
    package var schemaIdentity: UnsafeMutableRawPointer { schemaRef.toOpaque() }

    /// Schemas (by address) whose lines the caller reads only the header fields of (`setHeaderOnly`).
    private var headerOnlySchemas: [UnsafeMutableRawPointer] = []
    /// The current schema is one of them: the message parsers are skipped (slots after the header stay absent).
    package private(set) var headerOnly = false

    /// Declares that the caller reads no field of the current schema beyond the header ones (`timestamp`, `host`,
    /// `program`, `pid`, `message`, …, the first `headerFieldCount`) and not the behavioural detectors: lines of
    /// that schema then skip their message parser. `decodeAllFields` decodes one line in full anyway.
    package func setHeaderOnly(_ on: Bool) {
        let id = schemaRef.toOpaque()
        headerOnlySchemas.removeAll { $0 == id }
        if on { headerOnlySchemas.append(id) }
        headerOnly = on
    }

    /// Forgets every `setHeaderOnly` (a new caller with other rules takes the decoder over).
    package func clearHeaderOnly() {
        headerOnlySchemas.removeAll()
        headerOnly = false
    }

    /// Decodes a line with every field, whatever `setHeaderOnly` said (a line that became a finding).
    package func decodeAllFields(_ line: UnsafePointer<UInt8>, _ count: Int, into record: inout EventRecord) -> DecodeOutcome {
        let saved = headerOnly
        headerOnly = false
        defer { headerOnly = saved }
        return decode(line, count, into: &record)
    }

    /// The number of header fields (slots `0..<headerFieldCount` of every syslog schema).
    package static var headerFieldCount: Int { SyslogSchemas.headerCount }

    static let H = SyslogSchemas.headerCount
    /// `H` as an instance constant (a static `let` is a lazy global: a `swift_once` check per use).
    private let headerFields = SyslogSchemas.headerCount

    package init(fileName: String = "", requestedFields: Set<String> = [], maxLineLength: Int, context: DecoderContext = DecoderContext()) {
        clock = SyslogClock(context: context)
        self.maxLineLength = max(maxLineLength, 16)
        scratch = Scratch(capacity: 4096 + self.maxLineLength)
        keyBuf = .allocate(capacity: 1024)
        pendingCapacity = self.maxLineLength + 64
        pendingCopy = .allocate(capacity: pendingCapacity)
        var known = Set<String>()
        for f in SyslogFamily.allCases {
            let s = SyslogSchemas.schema(for: f, extra: [])
            known.formUnion(s.index.keys)
        }
        extra = requestedFields.filter { !known.contains($0) && $0.utf8.count < 512 }.sorted()
        for f in SyslogFamily.allCases { familySchemas[f] = SyslogSchemas.schema(for: f, extra: extra) }
        sdTable = extra.isEmpty ? nil : KeyTable(extra.enumerated().map { ($0.element, $0.offset) })
        schema = familySchemas[.syslog]!
        asaSchema = familySchemas[.asa]!
        sshdSchema = familySchemas[.sshd]!
        netfilterSchema = familySchemas[.netfilter]!
        genericSchema = familySchemas[.syslog]!
        asaRef = .passUnretained(asaSchema)
        sshdRef = .passUnretained(sshdSchema)
        netfilterRef = .passUnretained(netfilterSchema)
        genericRef = .passUnretained(genericSchema)
        schemaRef = .passUnretained(schema)
        programRefs = .allocate(capacity: 64)
        programFamilies = .allocate(capacity: 64)
        programFamilies.initialize(repeating: .syslog, count: 64)
        programKeys = .allocate(capacity: 64 * 32)
        programKeys.initialize(repeating: 0, count: 64 * 32)
        programKeyLengths = .allocate(capacity: 64)
        programKeyLengths.initialize(repeating: -1, count: 64)
        prefixCache = .allocate(capacity: 8)
        prefixCache.initialize(repeating: PrefixEntry(), count: 8)
        hp = .allocate(capacity: 1)
        hp.initialize(to: Header())
        programCache = .allocate(capacity: 8)
        programCache.initialize(repeating: ProgramEntry(ref: genericRef), count: 8)
    }

    deinit {
        prefixCache.deallocate()
        hp.deallocate()
        programCache.deallocate()
        programKeys.deallocate()
        programRefs.deallocate()
        programFamilies.deallocate()
        programKeyLengths.deallocate()
        scratch.free()
        caps.free()
        keyBuf.deallocate()
        pendingCopy.deallocate()
    }

    // MARK: header

    struct Header {
        var pri = -1
        var tsStart = 0, tsLen = 0
        var time: Timestamp?
        var badTime = false
        var yearful = false
        var hostStart = 0, hostLen = -1
        var progStart = 0, progLen = -1
        var pidStart = 0, pidLen = -1
        var msgStart = 0, msgLen = 0
        var msgidStart = 0, msgidLen = -1
        var sdStart = 0, sdLen = -1
    }

    /// nil: not a syslog line.
    func parseHeader(_ p: UnsafePointer<UInt8>, _ n: Int, _ start: Int, _ h: inout Header) -> Bool {
        h = Header()
        var i = start
        if i < n && p[i] == 60 {  // <PRI>
            var j = i + 1
            var v = 0
            while j < n && j < i + 4 && isDigit(p[j]) { v = v * 10 + Int(p[j] - 48); j += 1 }
            if j < n && p[j] == 62 && j > i + 1 && v <= 191 {
                h.pri = v
                i = j + 1
                if i + 1 < n && p[i] == 49 && p[i + 1] == 32 { return parse5424(p, n, i + 2, &h) }
            }
        }
        while i < n && isSpace(p[i]) { i += 1 }
        if i >= n { return h.pri >= 0 }
        // timestamp
        if let e = parseStamp(p, n, i, &h) {
            i = e
        } else if !isASAMarker(p + i, n - i) {
            if h.pri < 0 { return false }
            h.msgStart = i
            h.msgLen = n - i
            return true
        }
        // cisco: optional zone word before ':' (`09:34:34 EDT: %ASA…`), or ':' right after the time
        if h.yearful && i < n && p[i] == 32 {
            var j = i + 1
            while j < n && j < i + 7 && (p[j] &- 65) < 26 { j += 1 }
            if j > i + 2 && j < n && p[j] == 58 { i = j }
        }
        if i < n && p[i] == 58 { i += 1 }
        while i < n && isSpace(p[i]) { i += 1 }
        // `host tag[` / `host tag:` as on an earlier line: the host and tag scans would end at the same places
        let i1 = i
        if let e = knownPrefix(p, n, i1) {
            h.hostStart = i1
            h.hostLen = e.pointee.hostLength
            i = i1 + e.pointee.tagOffset
            tagTail(p, n, &i, i1 + e.pointee.length - 1, &h)
            h.msgStart = i
            h.msgLen = n - i
            return true
        }
        // host
        if i < n && !isASAMarker(p + i, n - i) && p[i] != 91 {
            var j = i
            while j < n && !isSpace(p[j]) { j += 1 }
            if j - i == 1 && p[i] == 58 {
                i = j  // lone ':'
            } else if p[j - 1] != 58 || j == n {
                // a token ending in ':' is a tag (no host); otherwise a host, unless nothing follows it
                if j < n {
                    h.hostStart = i
                    h.hostLen = j - i
                    i = j
                }
            }
            while i < n && isSpace(p[i]) { i += 1 }
            if i < n && p[i] == 58 && (i + 1 == n || isSpace(p[i + 1])) {  // `INT-FW01 : %ASA…`
                i += 1
                while i < n && isSpace(p[i]) { i += 1 }
            }
        }
        // tag
        if i < n && !isASAMarker(p + i, n - i) && p[i] != 91 {
            var j = i
            let limit = min(n, i + 64)
            while j < limit && p[j] != 91 && p[j] != 58 && p[j] != 61 { j += 1 }
            // remember `host tag[` / `host tag:` when nothing in it depended on bytes after it
            // (the host starts at i1 and the tag right after its spaces, so the `host : ` check did not apply)
            if j < limit && (p[j] == 91 || p[j] == 58) && h.hostStart == i1 && h.hostLen > 0
                && tagFollowsHost(p, i1 + h.hostLen, i) && p[i1] != 37 && p[i] != 37 && p[i] != 58
                && j - i1 + 1 >= 8 && j - i1 + 1 <= 32 {
                rememberPrefix(p + i1, j - i1 + 1, hostLength: h.hostLen, tagOffset: i - i1)
            }
            if j < limit { tagTail(p, n, &i, j, &h) } else if i < n && isSpace(p[i]) { i += 1 }
        }
        h.msgStart = i
        h.msgLen = n - i
        return true
    }

    /// The tag after its scan stopped at `j` (`[` or `:`): pid, program, the `:` and one space.
    @inline(__always)
    private func tagTail(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ j: Int, _ h: inout Header) {
        if p[j] == 91 {
            var k = j + 1
            while k < n && k < j + 24 && p[k] != 93 { k += 1 }
            if k < n && p[k] == 93 && (k + 1 == n || p[k + 1] == 58 || isSpace(p[k + 1])) {
                h.progStart = i
                h.progLen = trimmedEnd(p, i, j) - i
                h.pidStart = j + 1
                h.pidLen = k - j - 1
                i = k + 1
                if i < n && p[i] == 58 { i += 1 }
            }
        } else if p[j] == 58 && (j + 1 == n || isSpace(p[j + 1])) && j > i {
            h.progStart = i
            h.progLen = trimmedEnd(p, i, j) - i
            i = j + 1
        }
        if i < n && isSpace(p[i]) { i += 1 }
    }

    /// Whether `tag` is the first byte after the spaces/tabs that follow the host's end (and some follow it).
    @inline(__always) private func tagFollowsHost(_ p: UnsafePointer<UInt8>, _ hostEnd: Int, _ tag: Int) -> Bool {
        var c = hostEnd
        while c < tag && isSpace(p[c]) { c += 1 }
        return c == tag && tag > hostEnd
    }

    /// One remembered `host tag[` prefix (8 to 32 bytes, from the host to the byte that ended the tag scan).
    struct PrefixEntry {
        var length = 0
        var bytes: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var hostLength = 0
        var tagOffset = 0
    }

    /// Whether the `k` bytes at `p` (8 ≤ k ≤ 32) are those of the entry: whole words, the last one overlapping.
    @inline(__always)
    private func samePrefix(_ p: UnsafePointer<UInt8>, _ e: UnsafeMutablePointer<PrefixEntry>, _ k: Int) -> Bool {
        let r = UnsafeRawPointer(p)
        let b = UnsafeRawPointer(e) + MemoryLayout<PrefixEntry>.offset(of: \PrefixEntry.bytes)!
        var o = 0
        while o + 8 < k {
            if r.loadUnaligned(fromByteOffset: o, as: UInt64.self) != b.loadUnaligned(fromByteOffset: o, as: UInt64.self) {
                return false
            }
            o += 8
        }
        return r.loadUnaligned(fromByteOffset: k - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: k - 8, as: UInt64.self)
    }

    /// The remembered prefix at `p + i1`, the last one found tried first.
    @inline(__always)
    private func knownPrefix(_ p: UnsafePointer<UInt8>, _ n: Int, _ i1: Int) -> UnsafeMutablePointer<PrefixEntry>? {
        let hot = prefixCache + prefixHot
        var k = hot.pointee.length
        if k > 0 && i1 + k < n && samePrefix(p + i1, hot, k) { return hot }
        var e = prefixCache
        let end = prefixCache + 8
        while e < end {
            k = e.pointee.length
            if k > 0 && i1 + k < n && samePrefix(p + i1, e, k) {
                prefixHot = e - prefixCache
                return e
            }
            e += 1
        }
        return nil
    }

    private func rememberPrefix(_ p: UnsafePointer<UInt8>, _ k: Int, hostLength: Int, tagOffset: Int) {
        let e = prefixCache + prefixCacheNext
        prefixCacheNext = (prefixCacheNext + 1) & 7
        e.pointee = PrefixEntry(length: k, hostLength: hostLength, tagOffset: tagOffset)
        let b = UnsafeMutableRawPointer(e) + MemoryLayout<PrefixEntry>.offset(of: \PrefixEntry.bytes)!
        b.copyMemory(from: p, byteCount: k)
    }

    @inline(__always) private func trimmedEnd(_ p: UnsafePointer<UInt8>, _ s: Int, _ e0: Int) -> Int {
        var e = e0
        while e > s && isSpace(p[e - 1]) { e -= 1 }
        return e
    }

    @inline(__always) func isASAMarker(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        n > 5 && p[0] == 37 && p[4] == 45
            && ((p[1] == 65 && p[2] == 83 && p[3] == 65) || (p[1] == 70 && p[2] == 84 && p[3] == 68)
                || (p[1] == 80 && p[2] == 73 && p[3] == 88))
    }

    /// Parses a BSD (`Mmm dd [yyyy] HH:MM:SS[.frac]`) or RFC 3339 stamp at `i`; returns the index after it.
    private func parseStamp(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int, _ h: inout Header) -> Int? {
        // the same 15 stamp bytes as the last plain BSD stamp, then a space: the same result (the parse below is a
        // function of these bytes and of whether a `.` follows)
        if i + 16 <= n && p[i + 15] == 32 && lastBSD.valid
            && UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self) == lastBSD.head
            && UnsafeRawPointer(p + i + 7).loadUnaligned(as: UInt64.self) == lastBSD.tail {
            h.tsStart = i
            h.tsLen = 15
            h.time = Timestamp(seconds: lastBSD.utc, nanos: 0)
            return i + 15
        }
        if i + 15 <= n && (p[i] | 0x20) >= 97 && (p[i] | 0x20) <= 122 && p[i + 3] == 32 {
            let month = monthNumber(p + i)
            if month == 0 { return nil }
            var j = i + 4
            if p[j] == 32 { j += 1 }
            var day: Int64 = 0
            let ds = j
            while j < n && j < ds + 2 && isDigit(p[j]) { day = day * 10 + Int64(p[j] - 48); j += 1 }
            if j == ds || j >= n || p[j] != 32 { return nil }
            j += 1
            var year: Int64 = -1
            if j + 5 <= n && isDigit(p[j]) && isDigit(p[j + 1]) && isDigit(p[j + 2]) && isDigit(p[j + 3]) && p[j + 4] == 32 {
                year = Int64(p[j] - 48) * 1000 + Int64(p[j + 1] - 48) * 100 + Int64(p[j + 2] - 48) * 10 + Int64(p[j + 3] - 48)
                j += 5
                h.yearful = true
            }
            guard j + 8 <= n, isDigit(p[j]), isDigit(p[j + 1]), p[j + 2] == 58, isDigit(p[j + 3]), isDigit(p[j + 4]),
                  p[j + 5] == 58, isDigit(p[j + 6]), isDigit(p[j + 7]) else { return nil }
            let hh = Int64(p[j] - 48) * 10 + Int64(p[j + 1] - 48)
            let mm = Int64(p[j + 3] - 48) * 10 + Int64(p[j + 4] - 48)
            let ss = Int64(p[j + 6] - 48) * 10 + Int64(p[j + 7] - 48)
            j += 8
            var nanos: Int64 = 0
            if j < n && p[j] == 46 {
                var k = j + 1
                var scale: Int64 = 100_000_000
                while k < n && isDigit(p[k]) {
                    nanos += Int64(p[k] - 48) * scale
                    scale /= 10
                    k += 1
                }
                if k > j + 1 { j = k }
            }
            h.tsStart = i
            h.tsLen = j - i
            if day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 {
                h.badTime = true
            } else {
                let y = year >= 0 ? year : clock.year(forMonth: month)
                let sod = hh * 3600 + mm * 60 + ss
                // consecutive lines mostly share their second: the zone conversion is done once per stamp
                if y == lastStamp.year && month == lastStamp.month && day == lastStamp.day && sod == lastStamp.second {
                    h.time = Timestamp(seconds: lastStamp.utc, nanos: nanos)
                } else {
                    let t = clock.timestamp(year: y, month: month, day: day, secondOfDay: sod, nanos: 0)
                    lastStamp = (y, month, day, sod, t.seconds)
                    h.time = Timestamp(seconds: t.seconds, nanos: nanos)
                }
                if j - i == 15 && !h.yearful {
                    lastBSD = (true, UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self),
                               UnsafeRawPointer(p + i + 7).loadUnaligned(as: UInt64.self), lastStamp.utc)
                }
            }
            return j
        }
        if i + 19 <= n && isDigit(p[i]) && isDigit(p[i + 3]) && p[i + 4] == 45 && p[i + 7] == 45
            && (p[i + 10] == 84 || p[i + 10] == 116) {
            var j = i + 11
            while j < n && !isSpace(p[j]) { j += 1 }
            h.tsStart = i
            h.tsLen = j - i
            h.time = isoTime(p + i, j - i)
            if h.time == nil { h.badTime = true }
            return j
        }
        return nil
    }

    /// RFC 3339 with or without zone (none: the configured zone).
    private func isoTime(_ p: UnsafePointer<UInt8>, _ n: Int) -> Timestamp? {
        guard let t = parseISO8601(p, n) else { return nil }
        var k = n - 1
        if p[k] == 90 || p[k] == 122 { return t }
        while k > 10 && p[k] != 43 && p[k] != 45 { k -= 1 }
        if k > 10 { return t }
        let local = t.seconds
        return Timestamp(seconds: clock.zone.utc(fromLocal: local), nanos: t.nanoseconds - local * 1_000_000_000)
    }

    private func parse5424(_ p: UnsafePointer<UInt8>, _ n: Int, _ start: Int, _ h: inout Header) -> Bool {
        var i = start
        func token() -> (Int, Int)? {
            if i >= n { return nil }
            let s = i
            while i < n && p[i] != 32 { i += 1 }
            let r = (s, i - s)
            if i < n { i += 1 }
            return r
        }
        guard let ts = token(), let host = token(), let app = token(), let proc = token(), let mid = token() else {
            return false
        }
        if !(ts.1 == 1 && p[ts.0] == 45) {
            h.tsStart = ts.0
            h.tsLen = ts.1
            h.time = isoTime(p + ts.0, ts.1)
            if h.time == nil { h.badTime = true }
        }
        if !(host.1 == 1 && p[host.0] == 45) { h.hostStart = host.0; h.hostLen = host.1 }
        if !(app.1 == 1 && p[app.0] == 45) { h.progStart = app.0; h.progLen = app.1 }
        if !(proc.1 == 1 && p[proc.0] == 45) { h.pidStart = proc.0; h.pidLen = proc.1 }
        if !(mid.1 == 1 && p[mid.0] == 45) { h.msgidStart = mid.0; h.msgidLen = mid.1 }
        if i < n && p[i] == 45 {
            i += 1
        } else if i < n && p[i] == 91 {
            let s = i
            while i < n && p[i] == 91 {
                i += 1
                while i < n && p[i] != 93 {
                    if p[i] == 34 {
                        i += 1
                        while i < n && p[i] != 34 { i += p[i] == 92 ? 2 : 1 }
                    }
                    i += 1
                }
                if i >= n { return false }
                i += 1
            }
            h.sdStart = s
            h.sdLen = i - s
        } else if i < n {
            return false
        }
        if i < n && p[i] == 32 { i += 1 }
        if i + 3 <= n && p[i] == 0xEF && p[i + 1] == 0xBB && p[i + 2] == 0xBF { i += 3 }
        h.msgStart = i
        h.msgLen = n - i
        return true
    }

    // MARK: family selection

    /// One remembered program: its raw tag bytes (up to 16, zero padded) and what `schemaFor` decided for it.
    struct ProgramEntry {
        var length = -1
        var w0: UInt64 = 0, w1: UInt64 = 0
        /// 0: sshd; 1: netfilter when the message holds a netfilter payload, else `family`/`ref`; 2: always
        /// `family`/`ref`.
        var kind: UInt8 = 0
        /// false: `family`/`ref` are not known yet (kind 1 seen only with netfilter payloads); the program is
        /// registered when its first other line comes, as without the cache.
        var resolved = false
        var family: SyslogFamily = .syslog
        var ref: Unmanaged<Schema>
    }

    /// The program tag bytes at `p` as two words (`len` ≤ 16; the 16 bytes from `p` must be readable).
    @inline(__always) private func programWords(_ p: UnsafePointer<UInt8>, _ len: Int) -> (UInt64, UInt64) {
        let r = UnsafeRawPointer(p)
        var a = r.loadUnaligned(as: UInt64.self)
        var b = r.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        if len < 8 {
            a &= (1 << UInt64(len * 8)) &- 1
            b = 0
        } else if len < 16 {
            b &= (1 << UInt64((len - 8) * 8)) &- 1
        }
        return (a, b)
    }

    private func schemaFor(_ p: UnsafePointer<UInt8>, _ h: UnsafePointer<Header>) -> (SyslogFamily, Unmanaged<Schema>) {
        let m = p + h.pointee.msgStart
        if isASAMarker(m, h.pointee.msgLen) || (h.pointee.progLen > 0 && isASAMarker(p + h.pointee.progStart, h.pointee.progLen)) {
            return (.asa, asaRef)
        }
        // the decision depends on the program bytes and (netfilter) the message: remembered per program
        guard h.pointee.progLen > 0 && h.pointee.progLen <= 16 && h.pointee.progStart + 16 <= h.pointee.msgStart + h.pointee.msgLen else {
            return schemaForProgram(p, h, nil)
        }
        let words = programWords(p + h.pointee.progStart, h.pointee.progLen)
        var e = programCache + programHot
        let hot = e
        let end = programCache + 8
        var first = true
        while e < end {
            if e.pointee.length == h.pointee.progLen && e.pointee.w0 == words.0 && e.pointee.w1 == words.1 {
                programHot = e - programCache
                switch e.pointee.kind {
                case 0: return (.sshd, sshdRef)
                case 1:
                    if netfilterStart(m, h.pointee.msgLen) != nil { return (.netfilter, netfilterRef) }
                    if !e.pointee.resolved {
                        let (key, kn) = programKey(p, h)
                        let (f, r, _) = programSchema(key, kn)
                        e.pointee.family = f
                        e.pointee.ref = r
                        e.pointee.resolved = true
                    }
                    return (e.pointee.family, e.pointee.ref)
                default: return (e.pointee.family, e.pointee.ref)
                }
            }
            // the last program found first, then all of them
            if first {
                first = false
                e = programCache
            } else {
                e += 1
            }
            if e == hot && !first { e += 1 }
        }
        let slot = programCache + programCacheNext
        slot.pointee = ProgramEntry(length: -1, ref: genericRef)
        programCacheNext = (programCacheNext + 1) & 7
        let r = schemaForProgram(p, h, slot)
        if slot.pointee.length == 0 { slot.pointee.length = h.pointee.progLen; slot.pointee.w0 = words.0; slot.pointee.w1 = words.1 }
        return r
    }

    /// The lower-cased program key (cut at `(` or `/`, at most 32 bytes).
    @inline(__always) private func programKey(_ p: UnsafePointer<UInt8>, _ h: UnsafePointer<Header>) -> (InlineArray<32, UInt8>, Int) {
        var key = InlineArray<32, UInt8>(repeating: 0)
        var kn = 0
        if h.pointee.progLen > 0 {
            let pp = p + h.pointee.progStart
            while kn < h.pointee.progLen && kn < 32 {
                let c = pp[kn]
                if c == 40 || c == 47 { break }
                key[kn] = Bytes.lower(c)
                kn += 1
            }
        }
        return (key, kn)
    }

    /// `schemaFor` after the ASA checks, without the cache; fills `entry` (and sets its `length` to 0) when the
    /// decision can be remembered for the program.
    private func schemaForProgram(
        _ p: UnsafePointer<UInt8>, _ h: UnsafePointer<Header>, _ entry: UnsafeMutablePointer<ProgramEntry>?
    ) -> (SyslogFamily, Unmanaged<Schema>) {
        let m = p + h.pointee.msgStart
        let (key, kn) = programKey(p, h)
        func remember(_ kind: UInt8, _ resolved: Bool, _ f: SyslogFamily, _ r: Unmanaged<Schema>) {
            guard let entry else { return }
            entry.pointee = ProgramEntry(length: 0, kind: kind, resolved: resolved, family: f, ref: r)
        }
        let isSSHD = kn >= 4 && key[0] == 115 && key[1] == 115 && key[2] == 104 && key[3] == 100
            && (kn == 4 || key[4] == 45)
        if isSSHD {
            remember(0, true, .sshd, sshdRef)
            return (.sshd, sshdRef)
        }
        let isKernel = kn == 6 && key[0] == 107 && key[1] == 101 && key[2] == 114 && key[3] == 110
        if netfilterStart(m, h.pointee.msgLen) != nil && (kn == 0 || isKernel || !isAuthKey(key, kn)) {
            // a netfilter payload of a program netfilter lines count for; its own schema is looked up (and
            // registered) only when a line of it without one comes
            if kn == 0 { remember(1, true, .syslog, genericRef) } else { remember(1, false, .syslog, genericRef) }
            return (.netfilter, netfilterRef)
        }
        if kn == 0 {
            remember(1, true, .syslog, genericRef)
            return (.syslog, genericRef)
        }
        let (f, r, isAuth) = programSchema(key, kn)
        remember(isKernel || !isAuth ? 1 : 2, true, f, r)
        return (f, r)
    }

    /// The schema of a program key (lower-cased, cut at `(` or `/`), registered on first sight (at most 64), and
    /// whether the key is one of `SyslogSchemas.authPrograms`.
    private func programSchema(_ key0: InlineArray<32, UInt8>, _ kn: Int) -> (SyslogFamily, Unmanaged<Schema>, Bool) {
        var key = key0
        let found: Int = withUnsafeBytes(of: &key) { kb -> Int in
            let kp = kb.baseAddress!.assumingMemoryBound(to: UInt8.self)
            for e in 0..<programs.count where programKeyLengths[e] == kn && memcmp(programKeys + e * 32, kp, kn) == 0 {
                return e
            }
            return -1
        }
        // registered programs are `auth` exactly when their key is an auth program (those are all simple names)
        if found >= 0 { return (programFamilies[found], programRefs[found], programFamilies[found] == .auth) }
        if programs.count >= 64 { return (.syslog, genericRef, isAuthKey(key, kn)) }
        var bytes: [UInt8] = []
        for k in 0..<kn { bytes.append(key[k]) }
        let name = String(decoding: bytes, as: UTF8.self)
        let simple = bytes.allSatisfy { ($0 &- 97) < 26 || isDigit($0) || $0 == 45 || $0 == 95 || $0 == 46 }
        let fam: SyslogFamily = SyslogSchemas.authPrograms.contains(name) ? .auth : .syslog
        let s = simple ? SyslogSchemas.schema(for: fam, program: name, extra: extra) : familySchemas[.syslog]!
        for k in 0..<kn { programKeys[programs.count * 32 + k] = bytes[k] }
        programKeyLengths[programs.count] = kn
        programs.append((bytes, simple ? fam : .syslog, s))
        (programRefs + programs.count - 1).initialize(to: .passUnretained(s))
        programFamilies[programs.count - 1] = simple ? fam : .syslog
        return (simple ? fam : .syslog, .passUnretained(s), fam == .auth)
    }

    private func isAuthKey(_ key: InlineArray<32, UInt8>, _ kn: Int) -> Bool {
        var b: [UInt8] = []
        for k in 0..<kn { b.append(key[k]) }
        return SyslogSchemas.authPrograms.contains(String(decoding: b, as: UTF8.self))
    }

    // MARK: decode

    package func decode(_ line: UnsafePointer<UInt8>, _ count: Int, into record: inout EventRecord) -> DecodeOutcome {
        var n = count
        while n > 0 && (line[n - 1] == 13 || line[n - 1] == 32 || line[n - 1] == 9 || line[n - 1] == 0) { n -= 1 }
        if n > maxLineLength { return .malformed(.lineTooLong) }
        var i = 0
        if n >= 3 && line[0] == 0xEF && line[1] == 0xBB && line[2] == 0xBF { i = 3 }
        while i < n && isSpace(line[i]) { i += 1 }
        if i == n { return .skipped }
        if i + 3 <= n && line[i] == 45 && line[i + 1] == 45 && line[i + 2] == 32 { return .skipped }  // journal banner
        // A line that changed the schema is decoded again at once: reuse its header and program lookup.
        let fam: SyslogFamily
        if let pl = pendingLine, pl == line, pendingCount == count, memcmp(pendingCopy, line, count) == 0 {
            fam = pendingFamily
            pendingLine = nil
        } else {
            pendingLine = nil
            guard parseHeader(line, n, i, &hp.pointee) else { return .malformed(.badHeader) }
            let (f, target) = schemaFor(line, hp)
            if target.toOpaque() != schemaRef.toOpaque() {
                schema = target.takeUnretainedValue()
                schemaRef = target
                currentFamily = f
                headerOnly = false
                for id in headerOnlySchemas where id == target.toOpaque() {
                    headerOnly = true
                    break
                }
                if switchesInPlace { return decodeMessage(line, n, f, into: &record) }
                if count > pendingCapacity {
                    pendingCopy.deallocate()
                    pendingCapacity = count
                    pendingCopy = .allocate(capacity: count)
                }
                memcpy(pendingCopy, line, count)
                pendingLine = line
                pendingCount = count
                pendingFamily = f
                return .schemaChanged
            }
            fam = f
        }
        return decodeMessage(line, n, fam, into: &record)
    }

    /// The fields of a line whose header is in `header` and whose schema (`schema`) is that of family `fam`.
    @inline(__always)
    private func decodeMessage(_ line: UnsafePointer<UInt8>, _ n: Int, _ fam: SyslogFamily, into record: inout EventRecord) -> DecodeOutcome {
        currentFamily = fam
        let fc = schemaRef._withUnsafeGuaranteedRef { $0.fieldCount }
        let header = UnsafePointer(hp)
        record.ensureCapacity(fc)
        record.line = line
        record.lineLength = n
        record.reset(fieldCount: fc)
        scratch.used = 0
        let v = record.values
        if header.pointee.tsLen > 0 { setField(v, 0, line + header.pointee.tsStart, header.pointee.tsLen) }
        if header.pointee.hostLen > 0 { setField(v, 1, line + header.pointee.hostStart, header.pointee.hostLen) }
        if header.pointee.progLen > 0 { setField(v, 2, line + header.pointee.progStart, header.pointee.progLen) }
        if header.pointee.pidLen > 0 { setField(v, 3, line + header.pointee.pidStart, header.pointee.pidLen) }
        setField(v, 4, line + header.pointee.msgStart, header.pointee.msgLen)
        if header.pointee.pri >= 0 {
            if let f = scratch.decimal(Int64(header.pointee.pri >> 3)) { v[5] = f }
            if let s = scratch.decimal(Int64(header.pointee.pri & 7)) { v[6] = s }
        }
        if header.pointee.msgidLen > 0 { setField(v, 7, line + header.pointee.msgidStart, header.pointee.msgidLen) }
        if header.pointee.sdLen > 0 {
            setField(v, 8, line + header.pointee.sdStart, header.pointee.sdLen)
            if let t = sdTable { structuredData(t, line + header.pointee.sdStart, header.pointee.sdLen, v + (fc - extra.count)) }
        }
        let base = v + headerFields
        let m = line + header.pointee.msgStart
        if headerOnly { return finish(header, &record) }
        switch fam {
        case .sshd, .auth, .syslog:
            SyslogMessages.auth(m, header.pointee.msgLen, base, &caps, sshd: fam == .sshd, program: header.pointee.progLen > 0 ? line + header.pointee.progStart : nil,
                                programLength: header.pointee.progLen, fast: fastAuth, table: authTable)
        case .netfilter:
            SyslogMessages.netfilter(m, header.pointee.msgLen, base, program: header.pointee.progLen > 0 ? line + header.pointee.progStart : nil, programLength: header.pointee.progLen)
        case .asa:
            let start = isASAMarker(m, header.pointee.msgLen) ? m : line + header.pointee.progStart
            let len = isASAMarker(m, header.pointee.msgLen) ? header.pointee.msgLen : n - header.pointee.progStart
            SyslogMessages.asa(start, len, base, &caps, &scratch)
        }
        return finish(header, &record)
    }

    @inline(__always)
    private func finish(_ header: UnsafePointer<Header>, _ record: inout EventRecord) -> DecodeOutcome {
        record.timestamp = header.pointee.time
        if header.pointee.badTime { return .malformed(.badTimestamp) }
        return .event
    }

    /// Fills requested `SD-ID.param` fields from RFC 5424 structured data.
    private func structuredData(_ t: KeyTable, _ p: UnsafePointer<UInt8>, _ n: Int, _ out: UnsafeMutablePointer<FieldValue>) {
        var i = 0
        while i < n && p[i] == 91 {
            i += 1
            let idStart = i
            while i < n && p[i] != 32 && p[i] != 93 { i += 1 }
            let idLen = i - idStart
            if idLen == 0 || idLen > 256 { return }
            memcpy(keyBuf, p + idStart, idLen)
            keyBuf[idLen] = 46
            while i < n && p[i] == 32 {
                i += 1
                let ks = i
                while i < n && p[i] != 61 && p[i] != 93 && p[i] != 32 { i += 1 }
                let kl = i - ks
                guard i + 1 < n, p[i] == 61, p[i + 1] == 34 else { return }
                i += 2
                let vs = i
                var escaped = false
                while i < n && p[i] != 34 {
                    if p[i] == 92 { escaped = true; i += 1 }
                    i += 1
                }
                if i >= n { return }
                let vl = i - vs
                i += 1
                if kl > 0 && idLen + 1 + kl <= 1023 {
                    memcpy(keyBuf + idLen + 1, p + ks, kl)
                    let slot = t.lookup(keyBuf, idLen + 1 + kl)
                    if slot >= 0 {
                        if !escaped {
                            out[slot] = FieldValue(base: p + vs, count: vl)
                        } else if scratch.used + vl <= scratch.capacity {
                            let o = scratch.base + scratch.used
                            var w = 0
                            var k = 0
                            while k < vl {
                                if p[vs + k] == 92 && k + 1 < vl { k += 1 }
                                o[w] = p[vs + k]
                                w += 1
                                k += 1
                            }
                            scratch.used += w
                            out[slot] = FieldValue(base: UnsafePointer(o), count: w)
                        }
                    }
                }
            }
            guard i < n, p[i] == 93 else { return }
            i += 1
        }
    }
}

/// Where a netfilter `LOG` payload starts: the `IN=` key at the start, after a space or after `]`, within the
/// first 160 bytes and before any other `key=`; it must be followed by an `OUT=` key.
///
/// Jumps from one `=` to the next (memchr): only an `=` decides (an `IN=` before it, or another key that ends
/// the search).
func netfilterStart(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
    let limit = min(n, 160)
    var from = 0
    while from < limit {
        guard let hit = memchr(p + from, 61, limit - from) else { return nil }
        let e = UnsafePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - p
        if e + 1 >= limit { return nil }  // neither an `IN=` nor this `=` is looked at this close to the limit
        if e >= 2 && p[e - 2] == 73 && p[e - 1] == 78 && (e == 2 || p[e - 3] == 32 || p[e - 3] == 93) {
            // must be followed by an OUT= key
            var j = e + 1
            while j < n && p[j] != 32 { j += 1 }
            if j + 4 < n && p[j + 1] == 79 && p[j + 2] == 85 && p[j + 3] == 84 && p[j + 4] == 61 { return e - 2 }
            return nil
        }
        if e + 3 >= limit { return nil }
        if e > 0 && p[e - 1] != 78 { return nil }  // another key=value before IN=
        from = e + 1
    }
    return nil
}
