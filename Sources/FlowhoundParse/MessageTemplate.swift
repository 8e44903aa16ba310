import FlowhoundCore

/// A message pattern: literal text with captures, e.g. `Failed {method} for {user+} from {ip} port {port}`.
///
/// Matching rules (all on bytes, no allocation):
/// - the pattern must match from the start of the message; text after its end is allowed;
/// - a space in the literal matches one or more spaces/tabs;
/// - `{name}` is lazy: it ends at the first later occurrence of the literal that follows it;
/// - `{name+}` is greedy: it ends at the last occurrence that still lets the rest match (at most 64 tries), so
///   user names containing ` from ` cannot move the address an attacker wants logged;
/// - a capture at the very end takes the rest of the message; captures are trimmed of spaces at the end;
/// - `{}` / `{+}` capture nothing.
struct MessageTemplate {
    enum Part {
        case literal([UInt8])
        case capture(Int, greedy: Bool)  // capture kind (-1 = skip)
    }

    let parts: [Part]
    /// The leading literal (quick rejection), empty when the pattern starts with a capture.
    let head: [UInt8]
    /// Caller's payload: index into its rule table.
    let tag: Int

    init(_ pattern: String, kinds: [String: Int], tag: Int) {
        var parts: [Part] = []
        var lit: [UInt8] = []
        let b = Array(pattern.utf8)
        var i = 0
        while i < b.count {
            if b[i] == 123, let close = b[i...].firstIndex(of: 125) {  // {name}
                if !lit.isEmpty { parts.append(.literal(lit)); lit = [] }
                var name = String(decoding: b[(i + 1)..<close], as: UTF8.self)
                let greedy = name.hasSuffix("+")
                if greedy { name.removeLast() }
                let kind = name.isEmpty ? -1 : kinds[name]
                precondition(kind != nil, "unknown capture \(name) in \(pattern)")
                parts.append(.capture(kind!, greedy: greedy))
                i = close + 1
            } else {
                lit.append(b[i])
                i += 1
            }
        }
        if !lit.isEmpty { parts.append(.literal(lit)) }
        for k in 0..<parts.count - 1 {
            if case .capture = parts[k], case .capture = parts[k + 1] { preconditionFailure("adjacent captures: \(pattern)") }
        }
        self.parts = parts
        if case .literal(let l)? = parts.first {
            var h: [UInt8] = []
            for c in l { if c == 32 { break }; h.append(c) }
            head = h
        } else {
            head = []
        }
        self.tag = tag
    }
}

/// Capture results of one match: kind, start, length (start/length relative to the message).
struct Captures {
    static let capacity = 12
    let kinds: UnsafeMutablePointer<Int>
    let starts: UnsafeMutablePointer<Int>
    let lengths: UnsafeMutablePointer<Int>
    var count = 0

    init() {
        kinds = .allocate(capacity: Captures.capacity)
        starts = .allocate(capacity: Captures.capacity)
        lengths = .allocate(capacity: Captures.capacity)
    }

    func free() {
        kinds.deallocate()
        starts.deallocate()
        lengths.deallocate()
    }
}

enum TemplateMatcher {
    /// Tries `t` against the message; on success `caps` holds the named captures.
    static func match(_ t: MessageTemplate, _ p: UnsafePointer<UInt8>, _ n: Int, _ caps: inout Captures) -> Bool {
        if !t.head.isEmpty {
            if t.head.count > n || t.head.withUnsafeBufferPointer({ memcmp(p, $0.baseAddress!, t.head.count) }) != 0 {
                return false
            }
        }
        caps.count = 0
        var budget = 64
        return t.parts.withUnsafeBufferPointer { parts in
            matchFrom(parts, 0, p, n, 0, &caps, &budget)
        }
    }

    private static func matchFrom(
        _ parts: UnsafeBufferPointer<MessageTemplate.Part>, _ k0: Int, _ p: UnsafePointer<UInt8>, _ n: Int,
        _ pos0: Int, _ caps: inout Captures, _ budget: inout Int
    ) -> Bool {
        var k = k0
        var pos = pos0
        while k < parts.count {
            switch parts[k] {
            case .literal(let l):
                guard let np = matchLiteral(l, p, n, pos) else { return false }
                pos = np
                k += 1
            case .capture(let kind, let greedy):
                if k + 1 == parts.count {
                    var end = n
                    while end > pos && isSpace(p[end - 1]) { end -= 1 }
                    record(&caps, kind, pos, end - pos)
                    return true
                }
                guard case .literal(let l) = parts[k + 1] else { return false }
                if !greedy {
                    guard let at = find(l, p, n, pos) else { return false }
                    record(&caps, kind, pos, trimmedLength(p, pos, at))
                    pos = at
                    k += 1
                    continue
                }
                // greedy: last occurrence first, backtracking over earlier ones
                var limit = n
                let saved = caps.count
                while let at = findLast(l, p, limit, pos) {
                    budget -= 1
                    if budget < 0 { return false }
                    caps.count = saved
                    record(&caps, kind, pos, trimmedLength(p, pos, at))
                    if matchFrom(parts, k + 1, p, n, at, &caps, &budget) { return true }
                    limit = at + l.count - 1
                }
                caps.count = saved
                return false
            }
        }
        return true
    }

    @inline(__always) private static func trimmedLength(_ p: UnsafePointer<UInt8>, _ from: Int, _ to: Int) -> Int {
        var e = to
        while e > from && isSpace(p[e - 1]) { e -= 1 }
        return e - from
    }

    @inline(__always) private static func record(_ caps: inout Captures, _ kind: Int, _ start: Int, _ len: Int) {
        if kind < 0 || caps.count >= Captures.capacity { return }
        caps.kinds[caps.count] = kind
        caps.starts[caps.count] = start
        caps.lengths[caps.count] = len
        caps.count += 1
    }

    /// Matches a literal at `pos`; a space matches a run of spaces/tabs. Returns the position after it.
    @inline(__always)
    private static func matchLiteral(_ l: [UInt8], _ p: UnsafePointer<UInt8>, _ n: Int, _ pos: Int) -> Int? {
        var i = pos
        for c in l {
            if c == 32 {
                if i >= n || !isSpace(p[i]) { return nil }
                while i < n && isSpace(p[i]) { i += 1 }
            } else {
                if i >= n || p[i] != c { return nil }
                i += 1
            }
        }
        return i
    }

    @inline(__always)
    private static func find(_ l: [UInt8], _ p: UnsafePointer<UInt8>, _ n: Int, _ from: Int) -> Int? {
        if from >= n { return nil }
        return l.withUnsafeBufferPointer { lb in Bytes.find(p + from, n - from, lb.baseAddress!, lb.count).map { $0 + from } }
    }

    /// Last start position `s >= from` with the literal fully inside `p[..<limit]`.
    private static func findLast(_ l: [UInt8], _ p: UnsafePointer<UInt8>, _ limit: Int, _ from: Int) -> Int? {
        var s = limit - l.count
        while s >= from {
            if p[s] == l[0] && l.withUnsafeBufferPointer({ memcmp(p + s, $0.baseAddress!, l.count) == 0 }) { return s }
            s -= 1
        }
        return nil
    }
}
