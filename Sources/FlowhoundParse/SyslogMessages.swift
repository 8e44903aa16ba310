import FlowhoundCore

/// Message parsers behind the syslog framing: sshd/PAM/sudo/account tools, netfilter `LOG`, Cisco ASA.
/// Each writes into its family's slots (`base` = first slot after the syslog header fields).
enum SyslogMessages {
    // MARK: auth (sshd, PAM, sudo, su, account tools)

    enum AuthSlot {
        static let action = 0, outcome = 1, user = 2, srcIP = 3, srcPort = 4, rhost = 5, method = 6, sshEvent = 7
        static let invalidUser = 8, signature = 9, repeated = 10, dstIP = 11, dstPort = 12, tty = 13, pwd = 14
        static let effectiveUser = 15, command = 16, group = 17, reason = 18
    }

    enum AuthCap: Int {
        case user, ip, port, method, sig, dip, dport, tty, pwd, euser, command, group, reason
    }

    struct AuthRule {
        var pattern: String
        var template: MessageTemplate
        var action: Word
        var outcome: Word?
        var sshEvent = false
        var invalid = false
        var only: [UInt8]?
    }

    static let authKinds: [String: Int] = {
        var m: [String: Int] = [:]
        for (k, v) in ["user": AuthCap.user, "ip": .ip, "port": .port, "method": .method, "sig": .sig, "dip": .dip,
                       "dport": .dport, "tty": .tty, "pwd": .pwd, "euser": .euser, "command": .command,
                       "group": .group, "reason": .reason] { m[k] = v.rawValue }
        return m
    }()

    nonisolated(unsafe) static let authRules: [AuthRule] = {
        // (pattern, action, outcome, sshEvent, invalid, only-for-program)
        let specs: [(String, Word, Word?, Bool, Bool, String?)] = [
            ("Accepted {method} for {user+} from {ip} port {port} ssh2: {sig}", .accepted, .success, true, false, nil),
            ("Accepted {method} for {user+} from {ip} port {port}", .accepted, .success, true, false, nil),
            ("Accepted {method} for {user+} from {ip}", .accepted, .success, true, false, nil),
            ("Failed {method} for {user+} from {ip} port {port}", .failed, .failure, true, false, nil),
            ("Failed {method} for {user+} from {ip}", .failed, .failure, true, false, nil),
            ("Invalid user {user+} from {ip} port {port}", .invalidUser, .failure, true, true, nil),
            ("Invalid user {user+} from {ip}", .invalidUser, .failure, true, true, nil),
            ("Invalid user {user}", .invalidUser, .failure, true, true, nil),
            ("input_userauth_request: invalid user {user}", .userauthInvalidUser, nil, false, true, nil),
            ("Postponed {method} for {user+} from {ip} port {port}", .postponed, nil, false, false, nil),
            ("Connection closed by authenticating user {user+} {ip} port {port}", .connectionClosed, nil, false, false, nil),
            ("Connection closed by invalid user {user+} {ip} port {port}", .connectionClosed, nil, false, true, nil),
            ("Connection closed by {ip} port {port}", .connectionClosed, nil, false, false, nil),
            ("Connection closed by {ip}", .connectionClosed, nil, false, false, nil),
            ("Connection reset by authenticating user {user+} {ip} port {port}", .connectionClosed, nil, false, false, nil),
            ("Connection reset by invalid user {user+} {ip} port {port}", .connectionClosed, nil, false, true, nil),
            ("Connection reset by {ip} port {port}", .connectionClosed, nil, false, false, nil),
            ("Disconnected from authenticating user {user+} {ip} port {port}", .disconnected, nil, false, false, nil),
            ("Disconnected from invalid user {user+} {ip} port {port}", .disconnected, nil, false, true, nil),
            ("Disconnected from user {user+} {ip} port {port}", .disconnected, nil, false, false, nil),
            ("Disconnected from {ip} port {port}", .disconnected, nil, false, false, nil),
            ("Received disconnect from {ip} port {port}:{reason}", .receivedDisconnect, nil, false, false, nil),
            ("Received disconnect from {ip}: {reason}", .receivedDisconnect, nil, false, false, nil),
            ("error: Received disconnect from {ip} port {port}:{reason}", .receivedDisconnect, nil, false, false, nil),
            ("error: Received disconnect from {ip}: {reason}", .receivedDisconnect, nil, false, false, nil),
            ("Did not receive identification string from {ip} port {port}", .noIdentification, nil, false, false, nil),
            ("Did not receive identification string from {ip}", .noIdentification, nil, false, false, nil),
            ("error: maximum authentication attempts exceeded for {user+} from {ip} port {port}", .maxAuthExceeded, .failure, false, false, nil),
            ("maximum authentication attempts exceeded for {user+} from {ip} port {port}", .maxAuthExceeded, .failure, false, false, nil),
            ("Disconnecting authenticating user {user+} {ip} port {port}: Too many authentication failures", .tooManyAuthFailures, nil, false, false, nil),
            ("Disconnecting invalid user {user+} {ip} port {port}: Too many authentication failures", .tooManyAuthFailures, nil, false, true, nil),
            ("Disconnecting: Too many authentication failures for {user}", .tooManyAuthFailures, nil, false, false, nil),
            ("reverse mapping checking getaddrinfo for {} [{ip}] failed", .reverseMappingFailed, nil, false, false, nil),
            ("Address {ip} maps to {}, but this does not map back", .addressMismatch, nil, false, false, nil),
            ("Connection from {ip} port {port} on {dip} port {dport}", .connectionFrom, nil, false, false, nil),
            ("fatal: Unable to negotiate with {ip} port {port}: {reason}", .negotiationFailed, nil, false, false, nil),
            ("Unable to negotiate with {ip} port {port}: {reason}", .negotiationFailed, nil, false, false, nil),
            ("fatal: Unable to negotiate with {ip}: {reason}", .negotiationFailed, nil, false, false, nil),
            ("Bad protocol version identification {+} from {ip} port {port}", .badProtocol, nil, false, false, nil),
            ("Bad protocol version identification {+} from {ip}", .badProtocol, nil, false, false, nil),
            ("banner exchange: Connection from {ip} port {port}: {reason}", .badProtocol, nil, false, false, nil),
            ("Read error from remote host {ip} port {port}: {reason}", .readError, nil, false, false, nil),
            ("Read error from remote host {ip}: {reason}", .readError, nil, false, false, nil),
            ("error: PAM: User not known to the underlying authentication module for {user+} from {ip}", .pamUserUnknown, nil, false, false, nil),
            ("error: PAM: Authentication failure for {user+} from {ip}", .pamAuthFailure, .failure, false, false, nil),
            // PAM (any program; the `pam_unix(svc:type): ` prefix is removed first)
            ("authentication failure;{} rhost={ip} user={user}", .pamAuthFailure, .failure, false, false, nil),
            ("authentication failure;{} rhost={ip}", .pamAuthFailure, .failure, false, false, nil),
            ("check pass; user unknown", .pamCheckPass, nil, false, false, nil),
            ("session opened for user {user} by {}", .sessionOpened, nil, false, false, nil),
            ("session opened for user {user}", .sessionOpened, nil, false, false, nil),
            ("session closed for user {user}", .sessionClosed, nil, false, false, nil),
            ("PAM {} more authentication failure{};{} rhost={ip} user={user}", .pamMoreFailures, nil, false, false, nil),
            ("PAM {} more authentication failure{};{} rhost={ip}", .pamMoreFailures, nil, false, false, nil),
            ("PAM service({}) ignoring max retries;{}", .pamIgnoringMaxRetries, nil, false, false, nil),
            ("password changed for {user}", .passwordChanged, .success, false, false, nil),
            // sudo
            ("{user} : TTY={tty} ; PWD={pwd} ; USER={euser} ; COMMAND={command}", .sudoCommand, .success, false, false, "sudo"),
            ("{user} : PWD={pwd} ; USER={euser} ; COMMAND={command}", .sudoCommand, .success, false, false, "sudo"),
            ("{user} : {reason} ; TTY={tty} ; PWD={pwd} ; USER={euser} ; COMMAND={command}", .sudoDenied, .failure, false, false, "sudo"),
            ("{user} : {reason} ; PWD={pwd} ; USER={euser} ; COMMAND={command}", .sudoDenied, .failure, false, false, "sudo"),
            // su
            ("Successful su for {euser} by {user}", .suSession, .success, false, false, "su"),
            ("FAILED su for {euser} by {user}", .suSession, .failure, false, false, "su"),
            ("FAILED SU (to {euser}) {user} on {tty}", .suSession, .failure, false, false, "su"),
            ("(to {euser}) {user} on {tty}", .suSession, .success, false, false, "su"),
            // account tools
            ("new user: name={user}, {reason}", .userAdded, .success, false, false, "useradd"),
            ("new group: name={group}, {reason}", .groupAdded, .success, false, false, "groupadd"),
            ("new group: name={group}, {reason}", .groupAdded, .success, false, false, "useradd"),
            ("delete user '{user}'", .userDeleted, .success, false, false, "userdel"),
        ]
        return specs.enumerated().map { i, s in
            AuthRule(pattern: s.0, template: MessageTemplate(s.0, kinds: authKinds, tag: i), action: s.1, outcome: s.2, sshEvent: s.3,
                     invalid: s.4, only: s.5.map { Array($0.utf8) })
        }
    }()

    /// First rule index per leading byte of the (stripped) message; templates starting with a capture are
    /// tried for every message.
    nonisolated(unsafe) static let authByFirstByte: [[Int]] = {
        var t = [[Int]](repeating: [], count: 256)
        for (i, r) in authRules.enumerated() {
            if let f = r.template.firstByte {
                t[Int(f)].append(i)
            } else {
                for b in 0..<256 { t[b].append(i) }
            }
        }
        for b in 0..<256 { t[b].sort() }
        return t
    }()

    static func auth(
        _ p0: UnsafePointer<UInt8>, _ n0: Int, _ out: UnsafeMutablePointer<FieldValue>, _ caps: inout Captures,
        sshd: Bool, program: UnsafePointer<UInt8>?, programLength: Int, fast: Bool = true
    ) {
        auth(p0, n0, out, &caps, sshd: sshd, program: program, programLength: programLength, fast: fast, table: authTable)
    }

    /// The same with the rule table given (a decoder keeps it: reading the global costs a `swift_once` per line).
    @inline(__always)
    static func auth(
        _ p0: UnsafePointer<UInt8>, _ n0: Int, _ out: UnsafeMutablePointer<FieldValue>, _ caps: inout Captures,
        sshd: Bool, program: UnsafePointer<UInt8>?, programLength: Int, fast: Bool, table: AuthTable
    ) {
        var p = p0
        var n = min(n0, 4096)
        while n > 0 && isSpace(p[0]) { p += 1; n -= 1 }
        // Solaris `[ID 800047 auth.notice] `
        if n > 5 && p[0] == 91 && p[1] == 73 && p[2] == 68 && p[3] == 32, let close = memchr(p, 93, min(n, 64)) {
            let k = UnsafePointer<UInt8>(close.assumingMemoryBound(to: UInt8.self)) - p + 1
            p += k
            n -= k
            while n > 0 && isSpace(p[0]) { p += 1; n -= 1 }
        }
        // `message repeated N times: [ inner ]`
        if n > 28 && startsWith(p, n, repeatedPrefix) {
            var j = repeatedPrefix.utf8CodeUnitCount
            let ds = j
            while j < n && isDigit(p[j]) { j += 1 }
            if j > ds, startsWith(p + j, n - j, timesPrefix) {
                setField(out, AuthSlot.repeated, p + ds, j - ds)
                p += j + timesPrefix.utf8CodeUnitCount
                n -= j + timesPrefix.utf8CodeUnitCount
                while n > 0 && isSpace(p[0]) { p += 1; n -= 1 }
                if n > 0 && p[n - 1] == 93 { n -= 1 }
                while n > 0 && isSpace(p[n - 1]) { n -= 1 }
            }
        }
        // ` [preauth]`
        if n >= 10 && startsWith(p + n - 9, 9, preauthSuffix) {
            n -= 9
            while n > 0 && isSpace(p[n - 1]) { n -= 1 }
        }
        // `pam_unix(sshd:auth): `
        if n > 6 && p[0] == 112 && p[1] == 97 && p[2] == 109 && p[3] == 95 {
            var j = 4
            while j + 2 < n && j < 48 && !(p[j] == 41 && p[j + 1] == 58) { j += 1 }
            if j + 2 < n && j < 48 {
                p += j + 2
                n -= j + 2
                while n > 0 && isSpace(p[0]) { p += 1; n -= 1 }
            }
        }
        if n == 0 { return }
        let idx = matchAuthRule(p, n, &caps, table, program: program, programLength: programLength, fast: fast)
        if idx >= 0 { applyAuth(table.rules + idx, p, n, out, caps) }
    }

    /// The first auth rule whose template matches the (prefix-stripped) message, with its captures in `caps`, or
    /// -1. `fast: false` skips the hand-written matchers of `SyslogFastAuth` (the differential tests compare both).
    @inline(__always)
    static func matchAuthRule(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ caps: inout Captures, _ table: AuthTable,
        program: UnsafePointer<UInt8>?, programLength: Int, fast: Bool = true
    ) -> Int {
        if fast {
            let f = SyslogFastAuth.match(p, n, &caps, table.fast)
            if f >= 0 { return f }
        }
        let list = table.starts[Int(p[0])]
        let end = table.starts[Int(p[0]) + 1]
        var k = list
        while k < end {
            let idx = table.indices[k]
            k += 1
            let r = table.rules + idx
            if r.pointee.onlyCount > 0 {
                let oc = r.pointee.onlyCount
                guard let program, oc <= programLength, memcmp(program, r.pointee.only, oc) == 0,
                      oc == programLength || program[oc] == 40 || program[oc] == 47
                else { continue }
            }
            if TemplateMatcher.match(r.pointee.template, p, n, &caps) { return idx }
        }
        return -1
    }

    /// The auth rules as plain memory (no reference counting per line): per first byte, a run of rule indices.
    struct AuthTable: @unchecked Sendable {
        struct Rule {
            var template: MessageTemplate
            var action: Word
            var outcome: Word?
            var sshEvent: Bool
            var invalid: Bool
            var only: UnsafePointer<UInt8>
            var onlyCount: Int
            /// `action.value`, `outcome?.value`, `Word.true.value`, `Word.false.value`, resolved once.
            var actionValue: FieldValue
            var outcomeValue: FieldValue
            var trueValue: FieldValue
            var falseValue: FieldValue
        }
        let rules: UnsafeMutablePointer<Rule>
        let starts: UnsafeMutablePointer<Int>  // 257 entries
        let indices: UnsafeMutablePointer<Int>
        /// Rule indices of the hand-written matchers (behind a pointer: passing the struct would copy it).
        let fast: UnsafePointer<SyslogFastAuth.Rules>
    }

    static let authTable: AuthTable = {
        let rules = UnsafeMutablePointer<AuthTable.Rule>.allocate(capacity: authRules.count)
        for (i, r) in authRules.enumerated() {
            var op = UnsafePointer<UInt8>(bitPattern: 1)!
            var oc = 0
            if let o = r.only {
                let m = UnsafeMutablePointer<UInt8>.allocate(capacity: o.count)
                m.initialize(from: o, count: o.count)
                op = UnsafePointer(m)
                oc = o.count
            }
            (rules + i).initialize(to: AuthTable.Rule(template: r.template, action: r.action, outcome: r.outcome,
                                                      sshEvent: r.sshEvent, invalid: r.invalid, only: op, onlyCount: oc,
                                                      actionValue: r.action.value, outcomeValue: r.outcome?.value ?? .absent,
                                                      trueValue: Word.true.value, falseValue: Word.false.value))
        }
        let starts = UnsafeMutablePointer<Int>.allocate(capacity: 257)
        var flat: [Int] = []
        for b in 0..<256 {
            starts[b] = flat.count
            flat += authByFirstByte[b]
        }
        starts[256] = flat.count
        let idx = UnsafeMutablePointer<Int>.allocate(capacity: max(flat.count, 1))
        idx.initialize(from: flat, count: flat.count)
        let fast = UnsafeMutablePointer<SyslogFastAuth.Rules>.allocate(capacity: 1)
        fast.initialize(to: SyslogFastAuth.rules)
        return AuthTable(rules: rules, starts: starts, indices: idx, fast: UnsafePointer(fast))
    }()

    private static var repeatedPrefix: StaticString { "message repeated " }
    private static var timesPrefix: StaticString { " times: [" }
    private static var preauthSuffix: StaticString { "[preauth]" }
    private static var invalidUserPrefix: StaticString { "invalid user " }
    private static var illegalUserPrefix: StaticString { "illegal user " }

    /// The rule is passed behind its pointer (a copy of the struct was a `memcpy` per line).
    static func applyAuth(
        _ r: UnsafePointer<AuthTable.Rule>, _ p: UnsafePointer<UInt8>, _ n: Int, _ out: UnsafeMutablePointer<FieldValue>,
        _ caps: Captures
    ) {
        out[AuthSlot.action] = r.pointee.actionValue
        if r.pointee.outcome != nil { out[AuthSlot.outcome] = r.pointee.outcomeValue }
        if r.pointee.sshEvent {
            var k = 0
            while k < n && p[k] != 32 { k += 1 }
            setField(out, AuthSlot.sshEvent, p, k)
        }
        var invalid = r.pointee.invalid
        for c in 0..<caps.count {
            var s = p + caps.starts[c]
            var len = caps.lengths[c]
            guard let kind = AuthCap(rawValue: caps.kinds[c]) else { continue }
            switch kind {
            case .user:
                if startsWith(s, len, invalidUserPrefix) || startsWith(s, len, illegalUserPrefix) {
                    s += 13
                    len -= 13
                    invalid = true
                }
                while len > 0 && isSpace(s[0]) { s += 1; len -= 1 }
                // `root(uid=0)` (newer pam_unix session lines)
                var k = 0
                while k < len && s[k] != 40 { k &+= 1 }  // user names are short: no libc call
                if k > 0 && k < len && startsWith(s + k, len - k, uidPrefix) { len = k }
                if len > 0 { setField(out, AuthSlot.user, s, len) }
            case .ip, .dip:
                var k = 0
                while k < len && s[k] != 32 { k += 1 }
                len = k
                if len > 1 && s[0] == 91 && s[len - 1] == 93 { s += 1; len -= 2 }
                if len == 0 { continue }
                if kind == .ip {
                    setField(out, AuthSlot.rhost, s, len)
                    if IPAddress.parse(s, len) != nil { setField(out, AuthSlot.srcIP, s, len) }
                } else if IPAddress.parse(s, len) != nil {
                    setField(out, AuthSlot.dstIP, s, len)
                }
            case .port, .dport:
                var k = 0
                while k < len && k < 5 && isDigit(s[k]) { k += 1 }
                if k > 0 && (k == len || !isDigit(s[k])) {
                    setField(out, kind == .port ? AuthSlot.srcPort : AuthSlot.dstPort, s, k)
                }
            case .method: if len > 0 { setField(out, AuthSlot.method, s, len) }
            case .sig: if len > 0 { setField(out, AuthSlot.signature, s, len) }
            case .tty: if len > 0 { setField(out, AuthSlot.tty, s, len) }
            case .pwd: if len > 0 { setField(out, AuthSlot.pwd, s, len) }
            case .euser: if len > 0 { setField(out, AuthSlot.effectiveUser, s, len) }
            case .command: if len > 0 { setField(out, AuthSlot.command, s, len) }
            case .group: if len > 0 { setField(out, AuthSlot.group, s, len) }
            case .reason:
                while len > 0 && isSpace(s[0]) { s += 1; len -= 1 }
                if len > 0 { setField(out, AuthSlot.reason, s, len) }
            }
        }
        out[AuthSlot.invalidUser] = invalid ? r.pointee.trueValue : r.pointee.falseValue
        if !r.pointee.sshEvent && r.pointee.outcome == nil && r.pointee.onlyCount == 0 && caps.count == 0 { out[AuthSlot.invalidUser] = .absent }
    }

    private static var uidPrefix: StaticString { "(uid=" }

    // MARK: netfilter

    enum NetSlot {
        static let action = 0, blocked = 1, prefix = 2, inIf = 3, outIf = 4, mac = 5, src = 6, dst = 7, spt = 8
        static let dpt = 9, proto = 10, len = 11, tos = 12, prec = 13, ttl = 14, id = 15, window = 16, res = 17
        static let urgp = 18, type = 19, code = 20, mark = 21, flags = 22
    }

    /// Slot of a netfilter key, or -1.
    @inline(__always)
    static func netfilterKey(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int {
        var v: UInt64 = 0
        if n > 6 { return -1 }
        for i in 0..<n { v = v << 8 | UInt64(p[i]) }
        switch v {
        case 0x494E: return NetSlot.inIf  // IN
        case 0x4F5554: return NetSlot.outIf  // OUT
        case 0x4D4143: return NetSlot.mac
        case 0x535243: return NetSlot.src
        case 0x445354: return NetSlot.dst
        case 0x535054: return NetSlot.spt
        case 0x445054: return NetSlot.dpt
        case 0x50524F544F: return NetSlot.proto
        case 0x4C454E: return NetSlot.len
        case 0x544F53: return NetSlot.tos
        case 0x50524543: return NetSlot.prec
        case 0x54544C: return NetSlot.ttl
        case 0x4944: return NetSlot.id
        case 0x57494E444F57: return NetSlot.window
        case 0x524553: return NetSlot.res
        case 0x55524750: return NetSlot.urgp
        case 0x54595045: return NetSlot.type
        case 0x434F4445: return NetSlot.code
        case 0x4D41524B: return NetSlot.mark
        default: return -1
        }
    }

    static func netfilter(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ out: UnsafeMutablePointer<FieldValue>,
        program: UnsafePointer<UInt8>?, programLength: Int
    ) {
        guard let start = netfilterStart(p, n) else { return }
        // prefix: text before IN=, without a kernel uptime stamp `[ 123.456]`
        var ps = 0
        while ps < start && isSpace(p[ps]) { ps += 1 }
        if ps < start && p[ps] == 91 {
            var k = ps + 1
            while k < start && (isSpace(p[k]) || isDigit(p[k]) || p[k] == 46) { k += 1 }
            if k < start && p[k] == 93 && k > ps + 1 { ps = k + 1 }
        }
        while ps < start && isSpace(p[ps]) { ps += 1 }
        var pe = start
        while pe > ps && isSpace(p[pe - 1]) { pe -= 1 }
        var prefix = p + ps
        var plen = pe - ps
        if plen == 0, let program, programLength > 0,
           !(programLength == 6 && program[0] == 107 && program[1] == 101 && program[2] == 114) {
            prefix = program
            plen = programLength
        }
        if plen > 0 {
            setField(out, NetSlot.prefix, prefix, plen)
            if let a = actionFromPrefix(prefix, plen) {
                out[NetSlot.action] = a.value
                if a == .block { out[NetSlot.blocked] = Word.true.value } else if a == .allow { out[NetSlot.blocked] = Word.false.value }
            }
        }
        var i = start
        var flagsStart = -1, flagsEnd = -1
        var sawProto = false
        while i < n {
            while i < n && isSpace(p[i]) { i += 1 }
            if i >= n || p[i] == 91 { break }  // `[SRC=… ]`: the packet quoted in an ICMP error
            let ts = i
            var eq = -1
            while i < n && !isSpace(p[i]) {
                if p[i] == 61 && eq < 0 { eq = i }
                i += 1
            }
            if eq < 0 {
                if sawProto {
                    if flagsStart < 0 { flagsStart = ts }
                    flagsEnd = i
                }
                continue
            }
            let slot = netfilterKey(p + ts, eq - ts)
            if slot < 0 || out[slot].isPresent { continue }
            let vlen = i - eq - 1
            if vlen == 0 { continue }
            if slot == NetSlot.proto {
                sawProto = true
                out[slot] = Word.transport(p + eq + 1, vlen)?.value ?? FieldValue(base: p + eq + 1, count: vlen)
            } else {
                setField(out, slot, p + eq + 1, vlen)
            }
        }
        if flagsStart >= 0 { setField(out, NetSlot.flags, p + flagsStart, flagsEnd - flagsStart, listSeparator: 32) }
    }

    /// block / allow / audit from a log prefix (`[UFW BLOCK]`, `DROP_INPUT`, EdgeOS `[WAN_IN-10-D]`).
    static func actionFromPrefix(_ p: UnsafePointer<UInt8>, _ n: Int) -> Word? {
        func has(_ s: StaticString) -> Bool {
            Bytes.findFolded(p, n, s.utf8Start, s.utf8CodeUnitCount) != nil
        }
        if has("block") || has("drop") || has("deny") || has("reject") || has("denied") { return .block }
        if has("audit") { return .audit }
        if has("allow") || has("accept") || has("permit") || has("pass") { return .allow }
        // EdgeOS/VyOS rule tags end in -A (accept), -D (drop), -R (reject)
        var e = n
        if e > 0 && p[e - 1] == 93 { e -= 1 }
        if e >= 2 && p[e - 2] == 45 {
            switch p[e - 1] {
            case 65: return .allow
            case 68, 82: return .block
            default: break
            }
        }
        return nil
    }

    // MARK: Cisco ASA

    enum ASASlot {
        static let action = 0, outcome = 1, blocked = 2, messageID = 3, level = 4, event = 5, srcIP = 6, srcPort = 7
        static let dstIP = 8, dstPort = 9, transport = 10, srcIf = 11, dstIf = 12, srcMapIP = 13, srcMapPort = 14
        static let dstMapIP = 15, dstMapPort = 16, connID = 17, bytes = 18, duration = 19, rule = 20, direction = 21
        static let user = 22, reason = 23, url = 24, command = 25
    }

    private enum ASACap: Int {
        case src, dst, smap, dmap, proto, dir, conn, bytes, duration, acl, verdict, user, reason, url, iface, command
    }

    struct ASARule {
        var template: MessageTemplate
        var event: Word
        var action: Word?
        var outcome: Word?
        var transport: Word?
        var swapIfOutbound: Bool
    }

    static let asaKinds: [String: Int] = {
        var m: [String: Int] = [:]
        for (k, v) in ["src": ASACap.src, "dst": .dst, "smap": .smap, "dmap": .dmap, "proto": .proto, "dir": .dir,
                       "conn": .conn, "bytes": .bytes, "duration": .duration, "acl": .acl, "verdict": .verdict,
                       "user": .user, "reason": .reason, "url": .url, "iface": .iface, "command": .command] {
            m[k] = v.rawValue
        }
        return m
    }()

    /// Message id → rules tried in order. Patterns follow Cisco's message catalog wording.
    nonisolated(unsafe) static let asaRules: [Int: [ASARule]] = {
        typealias S = (Int, String, Word, Word?, Word?, Word?, Bool)
        let built = "Built {dir} {proto} connection {conn} for {src} ({smap}) to {dst} ({dmap})"
        let specs: [S] = [
            (302013, built, .built, .allow, nil, nil, true),
            (302013, "Built {dir} {proto} connection {conn} for {src} ({smap}){} to {dst} ({dmap})", .built, .allow, nil, nil, true),
            (302015, built, .built, .allow, nil, nil, true),
            (302017, "Built {dir} {proto} connection {conn} from {src} ({smap}) to {dst} ({dmap})", .built, .allow, nil, nil, true),
            (302020, "Built {dir} {proto} connection for faddr {dst} gaddr {smap} laddr {src}", .built, .allow, nil, nil, false),
            (302014, "Teardown {proto} connection {conn} for {src} to {dst} duration {duration} bytes {bytes} {reason}", .teardown, .allow, nil, nil, false),
            (302014, "Teardown {proto} connection {conn} for {src} to {dst} duration {duration} bytes {bytes}", .teardown, .allow, nil, nil, false),
            (302016, "Teardown {proto} connection {conn} for {src} to {dst} duration {duration} bytes {bytes}", .teardown, .allow, nil, nil, false),
            (302018, "Teardown {proto} connection {conn} from {src} to {dst} duration {duration} bytes {bytes}", .teardown, .allow, nil, nil, false),
            (302021, "Teardown {proto} connection for faddr {dst} gaddr {smap} laddr {src}", .teardown, .allow, nil, nil, false),
            (302021, "Teardown {proto} connection {conn} from {src} ({smap}) to {dst} ({dmap})", .teardown, .allow, nil, nil, false),
            (302023, "Teardown stub {proto} connection for {src} to {dst} duration {duration} forwarded bytes {bytes} reason {reason}", .teardown, .allow, nil, nil, false),
            (106023, "Deny {proto} src {src} dst {dst} by access-group \"{acl}\"", .denied, .block, nil, nil, false),
            (106100, "access-list {acl} {verdict} {proto} {src} -> {dst} hit-cnt", .permitted, nil, nil, nil, false),
            (106001, "Inbound {proto} connection denied from {src} to {dst} flags {} on interface {iface}", .denied, .block, nil, nil, false),
            (106001, "Inbound {proto} connection denied from {src} to {dst}", .denied, .block, nil, nil, false),
            (106006, "Deny inbound {proto} from {src} to {dst} on interface {iface}", .denied, .block, nil, nil, false),
            (106007, "Deny inbound {proto} from {src} to {dst} due to {reason}", .denied, .block, nil, nil, false),
            (106010, "Deny inbound protocol {proto} src {src} dst {dst}", .denied, .block, nil, nil, false),
            (106014, "Deny inbound {proto} src {src} dst {dst}", .denied, .block, nil, nil, false),
            (106015, "Deny {proto} (no connection) from {src} to {dst} flags {reason} on interface {iface}", .denied, .block, nil, nil, false),
            (106016, "Deny IP spoof from ({src}) to {dst} on interface {iface}", .denied, .block, nil, nil, false),
            (106017, "Deny IP due to Land Attack from {src} to {dst}", .denied, .block, nil, nil, false),
            (106020, "Deny IP teardrop fragment ({}) from {src} to {dst}", .denied, .block, nil, nil, false),
            (106021, "Deny {proto} reverse path check from {src} to {dst} on interface {iface}", .denied, .block, nil, nil, false),
            (106022, "Deny {proto} connection spoof from {src} to {dst} on interface {iface}", .denied, .block, nil, nil, false),
            (710003, "{proto} access denied by ACL from {src} to {dst}", .denied, .block, nil, nil, false),
            (710004, "{proto} connection limit exceeded from {src} to {dst}", .denied, .block, nil, nil, false),
            (710005, "{proto} request discarded from {src} to {dst}", .denied, .block, nil, nil, false),
            (313001, "Denied ICMP type={}, code={} from {src} on interface {iface}", .denied, .block, nil, .icmp, false),
            (313004, "Denied ICMP type={}, from laddr {src} on interface {iface} to {dst}: {reason}", .denied, .block, nil, .icmp, false),
            (313005, "No matching connection for ICMP error message: {proto} src {src} dst {dst} ({}) on {iface} interface", .denied, .block, nil, nil, false),
            (313009, "Denied invalid ICMP code {}, for {src} ({smap}) to {dst} ({dmap})", .denied, .block, nil, .icmp, false),
            (338002, "Dynamic Filter {verdict} {+} {proto} traffic from {src} ({smap}) to {dst} ({dmap})", .ids, nil, nil, nil, false),
            (338004, "Dynamic Filter {verdict} {+} {proto} traffic from {src} ({smap}) to {dst} ({dmap})", .ids, nil, nil, nil, false),
            (338008, "Dynamic Filter {verdict} {+} {proto} traffic from {src} ({smap}) to {dst} ({dmap})", .ids, nil, nil, nil, false),
            (338202, "Dynamic Filter {verdict} {+} {proto} traffic from {src} ({smap}) to {dst} ({dmap})", .ids, nil, nil, nil, false),
            (338001, "Dynamic Filter {verdict} {+} {proto} traffic from {src} ({smap}) to {dst} ({dmap})", .ids, nil, nil, nil, false),
            (338003, "Dynamic Filter {verdict} {+} {proto} traffic from {src} ({smap}) to {dst} ({dmap})", .ids, nil, nil, nil, false),
            (338006, "Dynamic Filter {verdict} {+} {proto} traffic from {src} ({smap}) to {dst} ({dmap})", .ids, nil, nil, nil, false),
            (338007, "Dynamic Filter {verdict} {+} {proto} traffic from {src} ({smap}) to {dst} ({dmap})", .ids, nil, nil, nil, false),
            (305011, "Built {} {proto} translation from {src} to {smap}", .translationBuilt, nil, nil, nil, false),
            (305012, "Teardown {} {proto} translation from {src} to {smap} duration {duration}", .translationTeardown, nil, nil, nil, false),
            (304001, "{src} Accessed URL {dst}:{url}", .urlAccessed, .allow, nil, nil, false),
            (304002, "Access denied URL {url} SRC {src} DEST {dst} on interface {iface}", .urlDenied, .block, nil, nil, false),
            (419002, "Duplicate {proto} SYN from {src} to {dst} with {reason}", .denied, .block, nil, nil, false),
            (420002, "IPS requested to drop {proto} packet from {src} to {dst}", .denied, .block, nil, nil, false),
            (434002, "SFR requested to drop {proto} packet from {src} to {dst}", .denied, .block, nil, nil, false),
            (410001, "Dropped {proto} DNS request from {src} to {dst};{reason}", .denied, .block, nil, nil, false),
            (418001, "Through-the-device packet to/from management-only network is denied: {proto} src {src} dst {dst}", .denied, .block, nil, nil, false),
            (108004, "ESMTP Classification: Dropped connection for ESMTP Request from {src} to {dst};{reason}", .denied, .block, nil, .tcp, false),
            (421001, "{proto} flow from {src} to {dst} is dropped because {reason}", .denied, .block, nil, nil, false),
            (421007, "{proto} flow from {src} to {dst} is skipped because {reason}", .permitted, .allow, nil, nil, false),
            (421002, "{proto} flow from {src} to {dst} bypassed {reason}", .permitted, .allow, nil, nil, false),
            (202010, "PAT pool exhausted. Unable to create {proto} connection from {src} to {dst}", .denied, .block, nil, nil, false),
            (500003, "Bad TCP hdr length ({}) from {src} to {dst}, flags: {reason}, on interface {iface}", .denied, .block, nil, .tcp, false),
            (500004, "Invalid transport field for protocol={proto}, from {src} to {dst}", .denied, .block, nil, nil, false),
            (209005, "Discard IP fragment set with more than {} elements:{} src = {src}, dest = {dst}, proto = {proto}, id = {}", .denied, .block, nil, nil, false),
            (401004, "Shunned packet: {src} = {dst} on interface {iface}", .denied, .block, nil, nil, false),
            (605004, "Login denied from {src} to {dst} for user \"{user}\"", .loginDenied, nil, .failure, nil, false),
            (605005, "Login permitted from {src} to {dst} for user \"{user}\"", .loginPermitted, nil, .success, nil, false),
            (113004, "AAA user {} Successful: server = {}, User = {user}", .aaaSuccess, nil, .success, nil, false),
            (113005, "AAA user authentication Rejected{} User = {user}: user IP = {src}", .aaaFailure, nil, .failure, nil, false),
            (113006, "User {user} locked out on exceeding {reason}", .aaaFailure, nil, .failure, nil, false),
            (308001, "console enable password incorrect for number tries (from {src})", .aaaFailure, nil, .failure, nil, false),
            (111008, "User '{user}' executed the '{command}' command.", .commandExecuted, nil, nil, nil, false),
            (111009, "User '{user}' executed cmd: {command}", .commandExecuted, nil, nil, nil, false),
            (111009, "User {user} executed cmd:{command}", .commandExecuted, nil, nil, nil, false),
            (111010, "User '{user}', running '{}' from IP {src}, executed '{command}'", .commandExecuted, nil, nil, nil, false),
            (111003, "{src} Erase configuration", .configChanged, nil, nil, nil, false),
            (111004, "{src} end configuration: {reason}", .configChanged, nil, .failure, nil, false),
            (111005, "{src} end configuration: {reason}", .configChanged, nil, .success, nil, false),
            (111002, "Begin configuration: {src} reading from {reason}", .configChanged, nil, nil, nil, false),
            (111007, "Begin configuration: {src} reading from {reason}", .configChanged, nil, nil, nil, false),
            (611103, "User logged out: Uname: {user}", .aaaSuccess, nil, nil, nil, false),
            (502103, "User priv level changed: Uname: {user} From: {reason}", .configChanged, nil, nil, nil, false),
            (502101, "New user added to local dbase: Uname: {user} Priv: {reason}", .configChanged, nil, nil, nil, false),
            (502102, "User deleted from local dbase: Uname: {user} Priv: {reason}", .configChanged, nil, nil, nil, false),
            (609001, "Built local-host {src}", .built, nil, nil, nil, false),
            (609002, "Teardown local-host {src} duration {duration}", .teardown, nil, nil, nil, false),
            (733100, "{reason}", .ids, .audit, nil, nil, false),
        ]
        var m: [Int: [ASARule]] = [:]
        for (i, s) in specs.enumerated() {
            m[s.0, default: []].append(ASARule(template: MessageTemplate(s.1, kinds: asaKinds, tag: i), event: s.2,
                                               action: s.3, outcome: s.4, transport: s.5, swapIfOutbound: s.6))
        }
        return m
    }()

    /// Every message id with a pattern.
    static var asaMessageIDs: [Int] { asaRules.keys.sorted() }

    static func asa(
        _ p: UnsafePointer<UInt8>, _ n0: Int, _ out: UnsafeMutablePointer<FieldValue>, _ caps: inout Captures,
        _ scratch: inout Scratch
    ) {
        let n = min(n0, 4096)
        // %ASA-[word-]L-NNNNNN[:]
        var i = 5
        if i < n && !isDigit(p[i]) {
            while i < n && i < 32 && p[i] != 45 { i += 1 }
            i += 1
        }
        guard i + 1 < n, isDigit(p[i]), p[i + 1] == 45 else { return }
        setField(out, ASASlot.level, p + i, 1)
        i += 2
        let ids = i
        var id = 0
        while i < n && i < ids + 7 && isDigit(p[i]) { id = id * 10 + Int(p[i] - 48); i += 1 }
        guard i > ids else { return }
        setField(out, ASASlot.messageID, p + ids, i - ids)
        if i < n && p[i] == 58 { i += 1 }
        while i < n && isSpace(p[i]) { i += 1 }
        guard let rules = asaRules[id] else { return }
        let m = p + i
        let mn = n - i
        for r in rules where TemplateMatcher.match(r.template, m, mn, &caps) {
            applyASA(r, m, mn, out, caps, &scratch)
            return
        }
    }

    private static func applyASA(
        _ r: ASARule, _ p: UnsafePointer<UInt8>, _ n: Int, _ out: UnsafeMutablePointer<FieldValue>, _ caps: Captures,
        _ scratch: inout Scratch
    ) {
        out[ASASlot.event] = r.event.value
        var action = r.action
        if let o = r.outcome { out[ASASlot.outcome] = o.value }
        if let t = r.transport { out[ASASlot.transport] = t.value }
        var src: (Int, Int)? = nil, dst: (Int, Int)? = nil, smap: (Int, Int)? = nil, dmap: (Int, Int)? = nil
        var outbound = false
        for c in 0..<caps.count {
            let s = caps.starts[c]
            var len = caps.lengths[c]
            let v = p + s
            guard let kind = ASACap(rawValue: caps.kinds[c]) else { continue }
            switch kind {
            case .src: src = (s, len)
            case .dst: dst = (s, len)
            case .smap: smap = (s, len)
            case .dmap: dmap = (s, len)
            case .proto:
                var k = 0
                while k < len && v[k] != 32 { k += 1 }
                if k > 0 { out[ASASlot.transport] = Word.transport(v, k)?.value ?? FieldValue(base: v, count: k) }
            case .dir:
                setField(out, ASASlot.direction, v, len)
                outbound = len == 8 && v[0] == 111
            case .conn: if len > 0 { setField(out, ASASlot.connID, v, len) }
            case .bytes:
                var k = 0
                while k < len && isDigit(v[k]) { k += 1 }
                if k > 0 { setField(out, ASASlot.bytes, v, k) }
            case .duration:
                // h:mm:ss (hours may exceed 24), or NdNNh forms are left absent
                var parts: (Int64, Int64, Int64) = (0, 0, 0)
                var nparts = 0
                var cur: Int64 = 0
                var digits = 0
                var ok = true
                for k in 0..<len {
                    let ch = v[k]
                    if isDigit(ch) {
                        cur = cur * 10 + Int64(ch - 48)
                        digits += 1
                        if digits > 9 { ok = false; break }
                    } else if ch == 58 && digits > 0 && nparts < 2 {
                        if nparts == 0 { parts.0 = cur } else { parts.1 = cur }
                        nparts += 1
                        cur = 0
                        digits = 0
                    } else {
                        ok = false
                        break
                    }
                }
                if ok && nparts == 2 && digits > 0 {
                    parts.2 = cur
                    if let d = scratch.decimal(parts.0 * 3600 + parts.1 * 60 + parts.2) { out[ASASlot.duration] = d }
                }
            case .acl: if len > 0 { setField(out, ASASlot.rule, v, len) }
            case .verdict:
                if let w = verdictWord(v, len) { action = w }
            case .user:
                if len > 0 { setField(out, ASASlot.user, v, len) }
            case .reason:
                var b = v
                while len > 0 && isSpace(b[0]) { b += 1; len -= 1 }
                if len > 0 { setField(out, ASASlot.reason, b, len) }
            case .url: if len > 0 { setField(out, ASASlot.url, v, len) }
            case .iface:
                var k = 0
                while k < len && v[k] != 32 { k += 1 }
                if k > 0 { setField(out, ASASlot.srcIf, v, k) }
            case .command: if len > 0 { setField(out, ASASlot.command, v, len) }
            }
        }
        if r.swapIfOutbound && outbound {
            swap(&src, &dst)
            swap(&smap, &dmap)
        }
        if let (s, l) = src { endpoint(p + s, l, out, ip: ASASlot.srcIP, port: ASASlot.srcPort, iface: ASASlot.srcIf) }
        if let (s, l) = dst { endpoint(p + s, l, out, ip: ASASlot.dstIP, port: ASASlot.dstPort, iface: ASASlot.dstIf) }
        if let (s, l) = smap { endpoint(p + s, l, out, ip: ASASlot.srcMapIP, port: ASASlot.srcMapPort, iface: -1) }
        if let (s, l) = dmap { endpoint(p + s, l, out, ip: ASASlot.dstMapIP, port: ASASlot.dstMapPort, iface: -1) }
        if let action {
            out[ASASlot.action] = action.value
            if action == .block { out[ASASlot.blocked] = Word.true.value } else if action == .allow { out[ASASlot.blocked] = Word.false.value }
        }
    }

    private static func verdictWord(_ v: UnsafePointer<UInt8>, _ n: Int) -> Word? {
        if n == 0 { return nil }
        switch Bytes.lower(v[0]) {
        case 112, 101: return .allow  // permitted, est-allowed
        case 100: return .block  // denied, dropped
        case 109: return .audit  // monitored
        default: return nil
        }
    }

    /// `[iface:]addr[/port]`, `iface/addr(port)`, `user@addr(…)`; the first space ends it.
    static func endpoint(_ p0: UnsafePointer<UInt8>, _ n0: Int, _ out: UnsafeMutablePointer<FieldValue>, ip: Int, port: Int, iface: Int) {
        var p = p0
        var n = 0
        while n < n0 && p[n] != 32 { n += 1 }
        if n == 0 { return }
        if let at = memchr(p, 64, n) {  // user@addr
            let k = UnsafePointer<UInt8>(at.assumingMemoryBound(to: UInt8.self)) - p
            p += k + 1
            n -= k + 1
        }
        var portPtr: UnsafePointer<UInt8>? = nil
        var portLen = 0
        if n > 2 && p[n - 1] == 41, let open = memchr(p, 40, n) {  // iface/addr(port) or addr(LOCAL\user)
            let k = UnsafePointer<UInt8>(open.assumingMemoryBound(to: UInt8.self)) - p
            portPtr = p + k + 1
            portLen = n - k - 2
            n = k
            if n > 0, let slash = memchr(p, 47, n) {
                let s = UnsafePointer<UInt8>(slash.assumingMemoryBound(to: UInt8.self)) - p
                if iface >= 0 && s > 0 { setField(out, iface, p, s) }
                p += s + 1
                n -= s + 1
            }
        } else {
            var s = n - 1
            while s > 0 && p[s] != 47 { s -= 1 }
            if s > 0 && p[s] == 47 {
                portPtr = p + s + 1
                portLen = n - s - 1
                n = s
            }
        }
        // iface:addr (an IPv6 address alone also contains ':')
        if n > 0 && IPAddress.parse(p, n) == nil, let colon = memchr(p, 58, n) {
            let k = UnsafePointer<UInt8>(colon.assumingMemoryBound(to: UInt8.self)) - p
            if iface >= 0 && k > 0 && !out[iface].isPresent { setField(out, iface, p, k) }
            p += k + 1
            n -= k + 1
        }
        if n > 0 && IPAddress.parse(p, n) != nil { setField(out, ip, p, n) }
        if let pp = portPtr, portLen > 0 && portLen <= 5 {
            var ok = true
            for j in 0..<portLen where !isDigit(pp[j]) { ok = false }
            if ok { setField(out, port, pp, portLen) }
        }
    }
}

/// `out[slot] = FieldValue(base: p, count: n, listSeparator: s)` as plain stores (the FlowhoundCore initialiser
/// is a call from this module).
@inline(__always)
func setField(
    _ out: UnsafeMutablePointer<FieldValue>, _ slot: Int, _ p: UnsafePointer<UInt8>, _ n: Int, listSeparator: UInt8 = 0
) {
    out[slot].base = p
    out[slot].count = n
    out[slot].listSeparator = listSeparator
}
