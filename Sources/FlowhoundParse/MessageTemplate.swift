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
    /// A literal (`capture == -2`) or a capture (`capture` = kind, -1 = skip). Plain data: matching touches
    /// no reference counts.
    struct Part {
        var literal: UnsafePointer<UInt8>
        var literalCount: Int
        var capture: Int
        var greedy: Bool
        /// A literal without tabs and without two spaces in a row: an exact byte match of it is a match (see
        /// `TemplateMatcher.matchLiteral`).
        var simple = false
        var isLiteral: Bool { capture == -2 }
    }

    /// Parts live for the process (templates are static tables).
    let parts: UnsafeBufferPointer<Part>
    /// The leading literal up to its first space (quick rejection); count 0 when the pattern starts with a capture.
    let head: UnsafePointer<UInt8>
    let headCount: Int
    /// Caller's payload: index into its rule table.
    let tag: Int

    init(_ pattern: String, kinds: [String: Int], tag: Int) {
        var raw: [(lit: [UInt8]?, cap: Int, greedy: Bool)] = []
        var lit: [UInt8] = []
        let b = Array(pattern.utf8)
        var i = 0
        while i < b.count {
            if b[i] == 123, let close = b[i...].firstIndex(of: 125) {  // {name}
                if !lit.isEmpty { raw.append((lit, -2, false)); lit = [] }
                var name = String(decoding: b[(i + 1)..<close], as: UTF8.self)
                let greedy = name.hasSuffix("+")
                if greedy { name.removeLast() }
                let kind = name.isEmpty ? -1 : kinds[name]
                precondition(kind != nil, "unknown capture \(name) in \(pattern)")
                raw.append((nil, kind!, greedy))
                i = close + 1
            } else {
                lit.append(b[i])
                i += 1
            }
        }
        if !lit.isEmpty { raw.append((lit, -2, false)) }
        for k in 0..<raw.count - 1 where raw[k].lit == nil && raw[k + 1].lit == nil {
            preconditionFailure("adjacent captures: \(pattern)")
        }
        let buf = UnsafeMutableBufferPointer<Part>.allocate(capacity: raw.count)
        for (k, r) in raw.enumerated() {
            if let l = r.lit {
                let p = UnsafeMutablePointer<UInt8>.allocate(capacity: l.count)
                p.initialize(from: l, count: l.count)
                var simple = !l.contains(9)
                for j in 1..<max(l.count, 1) where l[j] == 32 && l[j - 1] == 32 { simple = false }
                buf[k] = Part(literal: UnsafePointer(p), literalCount: l.count, capture: -2, greedy: false, simple: simple)
            } else {
                buf[k] = Part(literal: UnsafePointer(bitPattern: 1)!, literalCount: 0, capture: r.cap, greedy: r.greedy)
            }
        }
        parts = UnsafeBufferPointer(buf)
        if let f = parts.first, f.isLiteral {
            var h = 0
            while h < f.literalCount && f.literal[h] != 32 { h += 1 }
            head = f.literal
            headCount = h
        } else {
            head = UnsafePointer(bitPattern: 1)!
            headCount = 0
        }
        self.tag = tag
    }

    var firstByte: UInt8? { headCount > 0 ? head[0] : nil }
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
    @inline(__always)
    static func match(_ t: MessageTemplate, _ p: UnsafePointer<UInt8>, _ n: Int, _ caps: inout Captures) -> Bool {
        if t.headCount > 0 {
            // heads are one word: compared inline (a libc call costs more than the comparison)
            if t.headCount > n { return false }
            var k = 0
            while k < t.headCount {
                if p[k] != t.head[k] { return false }
                k &+= 1
            }
        }
        caps.count = 0
        var budget = 64
        return matchFrom(t.parts, 0, p, n, 0, &caps, &budget)
    }

    private static func matchFrom(
        _ parts: UnsafeBufferPointer<MessageTemplate.Part>, _ k0: Int, _ p: UnsafePointer<UInt8>, _ n: Int,
        _ pos0: Int, _ caps: inout Captures, _ budget: inout Int
    ) -> Bool {
        var k = k0
        var pos = pos0
        while k < parts.count {
            let part = parts[k]
            if part.isLiteral {
                guard let np = matchLiteral(part, p, n, pos) else { return false }
                pos = np
                k += 1
                continue
            }
            if k + 1 == parts.count {
                var end = n
                while end > pos && isSpace(p[end - 1]) { end -= 1 }
                record(&caps, part.capture, pos, end - pos)
                return true
            }
            let l = parts[k + 1]
            if !part.greedy {
                guard let at = find(l, p, n, pos) else { return false }
                record(&caps, part.capture, pos, trimmedLength(p, pos, at))
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
                record(&caps, part.capture, pos, trimmedLength(p, pos, at))
                if matchFrom(parts, k + 1, p, n, at, &caps, &budget) { return true }
                limit = at + l.literalCount - 1
            }
            caps.count = saved
            return false
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
    ///
    /// Simple literals are compared 8 bytes at a time. Bytes equal to the literal match it (each inner space is
    /// followed by the literal's next, non-space byte, so its run has length one; a trailing space's run is
    /// skipped). At the first differing byte `k` the byte-wise rules would fail the same way unless whitespace
    /// is involved there (literal[k] or literal[k-1] a space, or a space/tab in the message): only then, or
    /// when the message is shorter than the literal, the byte-wise matcher decides.
    @inline(__always)
    static func matchLiteral(_ l: MessageTemplate.Part, _ p: UnsafePointer<UInt8>, _ n: Int, _ pos: Int) -> Int? {
        let m = l.literalCount
        if l.simple && m > 0 && pos + m <= n {
            let a = UnsafeRawPointer(p + pos), b = UnsafeRawPointer(l.literal)
            var k = 0
            var differs = -1
            while k + 8 <= m {
                let x = a.loadUnaligned(fromByteOffset: k, as: UInt64.self) ^ b.loadUnaligned(fromByteOffset: k, as: UInt64.self)
                if x != 0 {
                    differs = k + (x.littleEndian.trailingZeroBitCount >> 3)
                    break
                }
                k += 8
            }
            if differs < 0 {
                while k < m {
                    if p[pos + k] != l.literal[k] {
                        differs = k
                        break
                    }
                    k += 1
                }
            }
            if differs < 0 {
                var i = pos + m
                if l.literal[m - 1] == 32 { while i < n && isSpace(p[i]) { i += 1 } }
                return i
            }
            let c = l.literal[differs]
            if c != 32 && !isSpace(p[pos + differs]) && (differs == 0 || l.literal[differs - 1] != 32) { return nil }
        }
        return matchLiteralBytewise(l, p, n, pos)
    }

    @inline(__always)
    static func matchLiteralBytewise(_ l: MessageTemplate.Part, _ p: UnsafePointer<UInt8>, _ n: Int, _ pos: Int) -> Int? {
        var i = pos
        let lp = l.literal
        for j in 0..<l.literalCount {
            let c = lp[j]
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
    private static func find(_ l: MessageTemplate.Part, _ p: UnsafePointer<UInt8>, _ n: Int, _ from: Int) -> Int? {
        if from >= n { return nil }
        // inline scan: the next literal is usually a few bytes away (libc calls cost more than the bytes)
        let m = l.literalCount
        let lit = l.literal
        let f = lit[0], e = lit[m - 1]
        var s = from
        let last = n - m
        while s <= last {
            if p[s] == f && p[s + m - 1] == e {
                var k = 1
                while k < m - 1 && p[s + k] == lit[k] { k &+= 1 }
                if k >= m - 1 { return s }
            }
            s &+= 1
        }
        return nil
    }

    /// Last start position `s >= from` with the literal fully inside `p[..<limit]`.
    private static func findLast(_ l: MessageTemplate.Part, _ p: UnsafePointer<UInt8>, _ limit: Int, _ from: Int) -> Int? {
        var s = limit - l.literalCount
        let f = l.literal[0]
        while s >= from {
            if p[s] == f && memcmp(p + s, l.literal, l.literalCount) == 0 { return s }
            s -= 1
        }
        return nil
    }
}
