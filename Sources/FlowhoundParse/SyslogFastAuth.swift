import FlowhoundCore

/// Hand-written matchers for the sshd and PAM messages that make up most auth logs, tried before the template
/// list of `SyslogMessages.authRules`.
///
/// Contract: `match` either returns -1 ("not decided here": the caller runs the template list as before) or the
/// index of the rule the template list would pick for the same message, with `caps` holding exactly the captures
/// `TemplateMatcher` would record. It never decides a message that the templates would give to another rule:
///
/// - it only answers for messages starting with the exact literal of its rule (no tab, no extra space in the
///   prefix), where every earlier rule of the same first byte fails on a non-space byte of its literal;
/// - lazy captures (`{ip}`, `{port}`, `{}`) end at the first exact occurrence of the next literal, as in
///   `TemplateMatcher.find`; the literal then skips a run of spaces/tabs when it ends with a space;
/// - a greedy `{user+}` takes only its first candidate (the last occurrence of the next literal, as
///   `TemplateMatcher.findLast` tries first); when the rest fails from there, the templates decide (they
///   would backtrack);
/// - a capture at the end takes the rest of the message; every capture is trimmed of trailing spaces/tabs.
///
/// `SyslogFastAuthTests` runs both paths on the corpus auth logs and on mutated sshd lines and requires the same
/// rule, the same captures and the same fields.
enum SyslogFastAuth {
    /// Rule indices of the messages handled here (resolved once from the pattern text).
    struct Rules {
        let failedPort, acceptedSig, acceptedPort, invalidPort: Int
        let pamFailureUser, pamFailure, checkPass: Int
        let sessionOpenedBy, sessionOpened, sessionClosed: Int
        let receivedPort: Int
        let discAuthUser, discInvalidUser, discUser, discIP: Int
        let closedAuthUser, closedInvalidUser, closedIPPort: Int
        let noIdentPort: Int
    }

    static func index(_ pattern: String) -> Int {
        guard let i = SyslogMessages.authRules.firstIndex(where: { $0.pattern == pattern }) else {
            preconditionFailure("no auth rule \(pattern)")
        }
        return i
    }

    static let rules = Rules(
        failedPort: index("Failed {method} for {user+} from {ip} port {port}"),
        acceptedSig: index("Accepted {method} for {user+} from {ip} port {port} ssh2: {sig}"),
        acceptedPort: index("Accepted {method} for {user+} from {ip} port {port}"),
        invalidPort: index("Invalid user {user+} from {ip} port {port}"),
        pamFailureUser: index("authentication failure;{} rhost={ip} user={user}"),
        pamFailure: index("authentication failure;{} rhost={ip}"),
        checkPass: index("check pass; user unknown"),
        sessionOpenedBy: index("session opened for user {user} by {}"),
        sessionOpened: index("session opened for user {user}"),
        sessionClosed: index("session closed for user {user}"),
        receivedPort: index("Received disconnect from {ip} port {port}:{reason}"),
        discAuthUser: index("Disconnected from authenticating user {user+} {ip} port {port}"),
        discInvalidUser: index("Disconnected from invalid user {user+} {ip} port {port}"),
        discUser: index("Disconnected from user {user+} {ip} port {port}"),
        discIP: index("Disconnected from {ip} port {port}"),
        closedAuthUser: index("Connection closed by authenticating user {user+} {ip} port {port}"),
        closedInvalidUser: index("Connection closed by invalid user {user+} {ip} port {port}"),
        closedIPPort: index("Connection closed by {ip} port {port}"),
        noIdentPort: index("Did not receive identification string from {ip} port {port}"))

    // capture kinds (`SyslogMessages.AuthCap` raw values)
    private static var cUser: Int { SyslogMessages.AuthCap.user.rawValue }
    private static var cIP: Int { SyslogMessages.AuthCap.ip.rawValue }
    private static var cPort: Int { SyslogMessages.AuthCap.port.rawValue }
    private static var cMethod: Int { SyslogMessages.AuthCap.method.rawValue }
    private static var cSig: Int { SyslogMessages.AuthCap.sig.rawValue }
    private static var cReason: Int { SyslogMessages.AuthCap.reason.rawValue }

    /// The rule index (captures in `caps`), or -1.
    @inline(__always)
    static func match(_ p: UnsafePointer<UInt8>, _ n: Int, _ caps: inout Captures, _ rules: UnsafePointer<Rules>) -> Int {
        if n < 16 { return -1 }
        let r = rules
        caps.count = 0
        switch p[0] {
        case 70:  // F
            let e = lit(p, n, 0, "Failed ")
            return e < 0 ? -1 : userFromIPPort(p, n, e, &caps, r.pointee.failedPort, method: true)
        case 65:  // A
            let e = lit(p, n, 0, "Accepted ")
            return e < 0 ? -1 : accepted(p, n, e, &caps, r)
        case 73:  // I
            let e = lit(p, n, 0, "Invalid user ")
            return e < 0 ? -1 : userFromIPPort(p, n, e, &caps, r.pointee.invalidPort, method: false)
        case 97:  // a
            let e = lit(p, n, 0, "authentication failure;")
            return e < 0 ? -1 : pamFailure(p, n, e, &caps, r)
        case 99:  // c
            return lit(p, n, 0, "check pass; user unknown") < 0 ? -1 : r.pointee.checkPass
        case 115:  // s
            var u = lit(p, n, 0, "session opened for user ")
            if u >= 0 {
                if let b = find(p, n, u, " by ") {
                    record(&caps, cUser, u, trimmed(p, u, b))
                    return r.pointee.sessionOpenedBy
                }
                record(&caps, cUser, u, trimmed(p, u, n))
                return r.pointee.sessionOpened
            }
            u = lit(p, n, 0, "session closed for user ")
            if u < 0 { return -1 }
            record(&caps, cUser, u, trimmed(p, u, n))
            return r.pointee.sessionClosed
        case 82:  // R
            let i = lit(p, n, 0, "Received disconnect from ")
            if i < 0 { return -1 }
            guard let q = find(p, n, i, " port ") else { return -1 }
            let pt = skipSpaces(p, n, q + 6)
            guard let c = find(p, n, pt, ":") else { return -1 }
            record(&caps, cIP, i, trimmed(p, i, q))
            record(&caps, cPort, pt, trimmed(p, pt, c))
            record(&caps, cReason, c + 1, trimmed(p, c + 1, n))
            return r.pointee.receivedPort
        case 68:  // D
            let d = lit(p, n, 0, "Disconnected from ")
            if d >= 0 {
                var u = lit(p, n, d, "invalid user ")
                if u >= 0 { return userIPPort(p, n, u, &caps, r.pointee.discInvalidUser) }
                u = lit(p, n, d, "authenticating user ")
                if u >= 0 { return userIPPort(p, n, u, &caps, r.pointee.discAuthUser) }
                u = lit(p, n, d, "user ")
                if u >= 0 { return userIPPort(p, n, u, &caps, r.pointee.discUser) }
                // the three rules above fail on a non-space byte of their literal at `d`
                let c = p[d]
                if c == 97 || c == 105 || c == 117 || isSpace(c) { return -1 }
                return ipPort(p, n, d, &caps, r.pointee.discIP)
            }
            let i = lit(p, n, 0, "Did not receive identification string from ")
            return i < 0 ? -1 : ipPort(p, n, i, &caps, r.pointee.noIdentPort)
        case 67:  // C
            let b = lit(p, n, 0, "Connection closed by ")
            if b < 0 { return -1 }
            var u = lit(p, n, b, "authenticating user ")
            if u >= 0 { return userIPPort(p, n, u, &caps, r.pointee.closedAuthUser) }
            u = lit(p, n, b, "invalid user ")
            if u >= 0 { return userIPPort(p, n, u, &caps, r.pointee.closedInvalidUser) }
            // the two rules above fail on a non-space byte of their literal at `b`
            let c = p[b]
            if c == 97 || c == 105 || isSpace(c) { return -1 }
            return ipPort(p, n, b, &caps, r.pointee.closedIPPort)
        default:
            return -1
        }
    }

    /// `… {method} for {user+} from {ip} port {port}` from `start` (after the leading literal); with `method:
    /// false`, `{user+} from {ip} port {port}`.
    @inline(__always)
    private static func userFromIPPort(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ start: Int, _ caps: inout Captures, _ rule: Int, method: Bool
    ) -> Int {
        var u = start
        if method {
            guard let f = find(p, n, start, " for ") else { return -1 }
            record(&caps, cMethod, start, trimmed(p, start, f))
            u = skipSpaces(p, n, f + 5)
        }
        guard let s = findLast(p, n, u, " from ") else { return -1 }
        let i = skipSpaces(p, n, s + 6)
        guard let q = find(p, n, i, " port ") else { return -1 }
        let pt = skipSpaces(p, n, q + 6)
        record(&caps, cUser, u, trimmed(p, u, s))
        record(&caps, cIP, i, trimmed(p, i, q))
        record(&caps, cPort, pt, trimmed(p, pt, n))
        return rule
    }

    /// `Accepted {method} for {user+} from {ip} port {port} ssh2: {sig}`, else without the signature part.
    @inline(__always)
    private static func accepted(_ p: UnsafePointer<UInt8>, _ n: Int, _ m: Int, _ caps: inout Captures, _ r: UnsafePointer<Rules>) -> Int {
        guard let f = find(p, n, m, " for ") else { return -1 }
        let u = skipSpaces(p, n, f + 5)
        guard let s = findLast(p, n, u, " from ") else { return -1 }
        let i = skipSpaces(p, n, s + 6)
        guard let q = find(p, n, i, " port ") else { return -1 }
        let pt = skipSpaces(p, n, q + 6)
        var rule = r.pointee.acceptedPort
        var portEnd = n
        var sig = -1
        if let k = find(p, n, pt, " ssh2: ") {
            rule = r.pointee.acceptedSig
            portEnd = k
            sig = skipSpaces(p, n, k + 7)
        } else if find(p, n, u, " ssh2: ") != nil {
            return -1  // the signature rule might still match with another `from`: the templates decide
        }
        record(&caps, cMethod, m, trimmed(p, m, f))
        record(&caps, cUser, u, trimmed(p, u, s))
        record(&caps, cIP, i, trimmed(p, i, q))
        record(&caps, cPort, pt, trimmed(p, pt, portEnd))
        if sig >= 0 { record(&caps, cSig, sig, trimmed(p, sig, n)) }
        return rule
    }

    /// `authentication failure;{} rhost={ip} user={user}`, else `authentication failure;{} rhost={ip}` (both lazy:
    /// no backtracking, so this is the whole decision).
    @inline(__always)
    private static func pamFailure(_ p: UnsafePointer<UInt8>, _ n: Int, _ from: Int, _ caps: inout Captures, _ r: UnsafePointer<Rules>) -> Int {
        guard let h = find(p, n, from, " rhost=") else { return -1 }
        let i = h + 7
        if let u = find(p, n, i, " user=") {
            record(&caps, cIP, i, trimmed(p, i, u))
            record(&caps, cUser, u + 6, trimmed(p, u + 6, n))
            return r.pointee.pamFailureUser
        }
        record(&caps, cIP, i, trimmed(p, i, n))
        return r.pointee.pamFailure
    }

    /// `{user+} {ip} port {port}` from `u`: the user ends at the last space from which `{ip} port` still
    /// follows; the candidates are tried from the end as `TemplateMatcher` does (same budget).
    @inline(__always)
    private static func userIPPort(_ p: UnsafePointer<UInt8>, _ n: Int, _ u: Int, _ caps: inout Captures, _ rule: Int) -> Int {
        var s = n - 1
        var budget = 64
        while s >= u {
            if p[s] == 32 {
                budget -= 1
                if budget < 0 { return -1 }
                let i = skipSpaces(p, n, s + 1)
                if let q = find(p, n, i, " port ") {
                    let pt = skipSpaces(p, n, q + 6)
                    record(&caps, cUser, u, trimmed(p, u, s))
                    record(&caps, cIP, i, trimmed(p, i, q))
                    record(&caps, cPort, pt, trimmed(p, pt, n))
                    return rule
                }
            }
            s -= 1
        }
        return -1
    }

    /// `{ip} port {port}` from `i`.
    @inline(__always)
    private static func ipPort(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int, _ caps: inout Captures, _ rule: Int) -> Int {
        guard let q = find(p, n, i, " port ") else { return -1 }
        let pt = skipSpaces(p, n, q + 6)
        record(&caps, cIP, i, trimmed(p, i, q))
        record(&caps, cPort, pt, trimmed(p, pt, n))
        return rule
    }

    // MARK: bytes

    /// The end of the literal when it is at `at` exactly and, if it ends with a space, is followed by a byte that
    /// is not a space/tab (then `TemplateMatcher.matchLiteral` consumes exactly its bytes); else -1.
    @inline(__always)
    private static func lit(_ p: UnsafePointer<UInt8>, _ n: Int, _ at: Int, _ l: StaticString) -> Int {
        let m = l.utf8CodeUnitCount
        if at + m > n { return -1 }
        let b = l.utf8Start
        var k = 0
        while k + 8 <= m {
            if UnsafeRawPointer(p + at + k).loadUnaligned(as: UInt64.self)
                != UnsafeRawPointer(b + k).loadUnaligned(as: UInt64.self) { return -1 }
            k += 8
        }
        while k < m {
            if p[at + k] != b[k] { return -1 }
            k += 1
        }
        if b[m - 1] == 32 && (at + m == n || isSpace(p[at + m])) { return -1 }
        return at + m
    }

    @inline(__always)
    private static func skipSpaces(_ p: UnsafePointer<UInt8>, _ n: Int, _ from: Int) -> Int {
        var i = from
        while i < n && isSpace(p[i]) { i += 1 }
        return i
    }

    @inline(__always)
    private static func trimmed(_ p: UnsafePointer<UInt8>, _ from: Int, _ to: Int) -> Int {
        var e = to
        while e > from && isSpace(p[e - 1]) { e -= 1 }
        return e - from
    }

    /// First start `s >= from` of the literal (at least 2 bytes) inside `p[..<n]` (as `TemplateMatcher.find`).
    /// Candidates are the positions of the literal's second byte, found 8 bytes at a time.
    @inline(__always)
    private static func find(_ p: UnsafePointer<UInt8>, _ n: Int, _ from: Int, _ l: StaticString) -> Int? {
        let m = l.utf8CodeUnitCount
        let lp = l.utf8Start
        let last = n - m  // last possible start
        if from > last { return nil }
        if m == 1 {
            var s = from
            while s <= last && p[s] != lp[0] { s += 1 }
            return s <= last ? s : nil
        }
        let pattern = UInt64(lp[1]) &* 0x0101_0101_0101_0101
        var q = from + 1  // candidate position of the second byte
        let qEnd = last + 1
        while q + 8 <= qEnd + 1 && q + 8 <= n {
            let x = UnsafeRawPointer(p + q).loadUnaligned(as: UInt64.self) ^ pattern
            var hits = (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
            while hits != 0 {
                let c = q + hits.trailingZeroBitCount >> 3
                if c > qEnd { return nil }
                if matchesAt(p, c - 1, lp, m) { return c - 1 }
                hits &= hits &- 1
            }
            q += 8
        }
        while q <= qEnd {
            if p[q] == lp[1] && matchesAt(p, q - 1, lp, m) { return q - 1 }
            q += 1
        }
        return nil
    }

    /// Last start `s >= from` of the literal inside `p[..<n]` (the first candidate `TemplateMatcher.findLast`
    /// gives), scanning backwards 8 bytes at a time for its second byte.
    @inline(__always)
    private static func findLast(_ p: UnsafePointer<UInt8>, _ n: Int, _ from: Int, _ l: StaticString) -> Int? {
        let m = l.utf8CodeUnitCount
        let lp = l.utf8Start
        let last = n - m
        if from > last { return nil }
        let pattern = UInt64(lp[1]) &* 0x0101_0101_0101_0101
        var q = last + 1  // highest candidate position of the second byte
        let qLow = from + 1
        while q - 7 >= qLow {
            let x = UnsafeRawPointer(p + q - 7).loadUnaligned(as: UInt64.self) ^ pattern
            // exact per-byte zero test (no borrow between bytes), so the highest bit is a true hit
            var hits = ~(((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | x | 0x7F7F_7F7F_7F7F_7F7F)
            while hits != 0 {
                let c = q - 7 + (63 - hits.leadingZeroBitCount) >> 3
                if matchesAt(p, c - 1, lp, m) { return c - 1 }
                hits &= ~(UInt64(0x80) << UInt64(((63 - hits.leadingZeroBitCount) >> 3) << 3))
            }
            q -= 8
        }
        while q >= qLow {
            if p[q] == lp[1] && matchesAt(p, q - 1, lp, m) { return q - 1 }
            q -= 1
        }
        return nil
    }

    @inline(__always)
    private static func matchesAt(_ p: UnsafePointer<UInt8>, _ s: Int, _ lp: UnsafePointer<UInt8>, _ m: Int) -> Bool {
        var k = 0
        while k < m && p[s + k] == lp[k] { k &+= 1 }
        return k == m
    }

    @inline(__always)
    private static func record(_ caps: inout Captures, _ kind: Int, _ start: Int, _ len: Int) {
        caps.kinds[caps.count] = kind
        caps.starts[caps.count] = start
        caps.lengths[caps.count] = len
        caps.count += 1
    }
}
