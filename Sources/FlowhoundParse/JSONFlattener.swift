import FlowhoundCore

/// One-pass reader of a JSON object line into schema slots, flattening nested objects into dotted key paths
/// (`{"a":{"b":1}}` reaches key `a.b`). Shared by the Windows and generic JSON decoders.
///
/// - Keys are looked up in a `KeyTable`; values of keys it does not know are skipped without being copied.
/// - Strings without escapes point into the line; escaped ones are unescaped into the scratch buffer.
/// - `null` leaves the slot absent; numbers and booleans are their bytes; the string `"-"` is kept (callers
///   that treat it as absent do so).
/// - Arrays of scalars become lists separated by 0x1F (containers inside arrays are skipped).
/// - Depth is limited to 32; deeper objects are skipped whole. A duplicate key: the last value wins.
final class JSONFlattener {
    private let keyBuf: UnsafeMutablePointer<UInt8>
    private let keyCapacity: Int

    init(maxLineLength: Int) {
        keyCapacity = maxLineLength + 64
        keyBuf = .allocate(capacity: keyCapacity)
    }

    deinit { keyBuf.deallocate() }

    @inline(__always) private static func ws(_ c: UInt8) -> Bool { c == 32 || c == 9 || c == 10 || c == 13 }

    /// Decodes the object that `p[0..<n]` holds entirely (leading/trailing blanks allowed). False: malformed.
    func scan(_ table: KeyTable, _ p: UnsafePointer<UInt8>, _ n: Int, _ values: UnsafeMutablePointer<FieldValue>,
              _ scratch: inout Scratch) -> Bool {
        var i = 0
        while i < n && Self.ws(p[i]) { i += 1 }
        guard i < n, p[i] == 123 else { return false }
        guard object(table, p, n, &i, 0, 0, values, &scratch) else { return false }
        while i < n && Self.ws(p[i]) { i += 1 }
        return i == n
    }

    private func object(
        _ table: KeyTable, _ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ prefix: Int, _ depth: Int,
        _ values: UnsafeMutablePointer<FieldValue>, _ scratch: inout Scratch
    ) -> Bool {
        i += 1
        var first = true
        while true {
            while i < n && Self.ws(p[i]) { i += 1 }
            if i >= n { return false }
            if p[i] == 125 && first { i += 1; return true }
            first = false
            guard p[i] == 34 else { return false }
            let ks = i + 1
            var j = ks
            var escapedKey = false
            while j < n && p[j] != 34 {
                if p[j] == 92 { escapedKey = true; j += 1 }
                j += 1
            }
            if j >= n { return false }
            let klen = j - ks
            i = j + 1
            while i < n && Self.ws(p[i]) { i += 1 }
            guard i < n, p[i] == 58 else { return false }
            i += 1
            while i < n && Self.ws(p[i]) { i += 1 }
            if i >= n { return false }
            let fits = !escapedKey && prefix + klen + 1 < keyCapacity
            var slot = -1
            if fits {
                if prefix == 0 {
                    slot = table.lookup(p + ks, klen)
                } else {
                    memcpy(keyBuf + prefix, p + ks, klen)
                    slot = table.lookup(keyBuf, prefix + klen)
                }
            }
            let c = p[i]
            if c == 34 {
                let vs = i + 1
                guard let (k, esc) = Self.stringEnd(p, from: vs, n) else { return false }
                i = k + 1
                if slot >= 0 {
                    if !esc {
                        values[slot] = FieldValue(base: p + vs, count: k - vs)
                    } else {
                        guard scratch.used + (k - vs) <= scratch.capacity,
                              let m = ZeekJSONDecoder.unescapeJSON(p + vs, k - vs, scratch.base + scratch.used)
                        else { return false }
                        values[slot] = FieldValue(base: UnsafePointer(scratch.base + scratch.used), count: m)
                        scratch.used += m
                    }
                } else if esc {
                    // validate escapes even when the value is not kept
                    var q = vs
                    while q < k {
                        if p[q] == 92 {
                            let e = p[q + 1]
                            if !(e == 34 || e == 92 || e == 47 || e == 98 || e == 102 || e == 110 || e == 114 || e == 116 || e == 117) {
                                return false
                            }
                            q += 1
                        }
                        q += 1
                    }
                }
            } else if c == 123 {
                if fits && depth < 32 {
                    if prefix == 0 { memcpy(keyBuf, p + ks, klen) }
                    keyBuf[prefix + klen] = 46
                    guard object(table, p, n, &i, prefix + klen + 1, depth + 1, values, &scratch) else { return false }
                } else if !ZeekJSONDecoder.skipBalanced(p, n, &i) {
                    return false
                }
            } else if c == 91 {
                if slot >= 0 {
                    guard let v = array(p, n, &i, &scratch) else { return false }
                    values[slot] = v
                } else if !ZeekJSONDecoder.skipBalanced(p, n, &i) {
                    return false
                }
            } else {
                let vs = i
                while i < n && p[i] != 44 && p[i] != 125 && p[i] != 93 && !Self.ws(p[i]) { i += 1 }
                guard let kind = Self.scalar(p + vs, i - vs) else { return false }
                if slot >= 0 && kind { values[slot] = FieldValue(base: p + vs, count: i - vs) }
            }
            while i < n && Self.ws(p[i]) { i += 1 }
            if i >= n { return false }
            if p[i] == 44 { i += 1; continue }
            if p[i] == 125 { i += 1; return true }
            return false
        }
    }

    /// nil: invalid token; false: null; true: number/boolean.
    @inline(__always) private static func scalar(_ p: UnsafePointer<UInt8>, _ n: Int) -> Bool? {
        if n == 0 { return nil }
        switch p[0] {
        case 110: return n == 4 && p[1] == 117 && p[2] == 108 && p[3] == 108 ? false : nil
        case 116: return n == 4 && p[1] == 114 && p[2] == 117 && p[3] == 101 ? true : nil
        case 102: return n == 5 && p[1] == 97 && p[2] == 108 && p[3] == 115 && p[4] == 101 ? true : nil
        default:
            if p[0] != 45 && !isDigit(p[0]) { return nil }
            for k in 0..<n {
                let d = p[k]
                if !(isDigit(d) || d == 46 || d == 101 || d == 69 || d == 43 || d == 45) { return nil }
            }
            return true
        }
    }

    private func array(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ scratch: inout Scratch) -> FieldValue? {
        i += 1
        let out = scratch.base + scratch.used
        let room = scratch.capacity - scratch.used
        var w = 0
        var count = 0
        while true {
            while i < n && Self.ws(p[i]) { i += 1 }
            if i >= n { return nil }
            if p[i] == 93 && count == 0 { i += 1; break }
            let c = p[i]
            if c == 34 {
                let vs = i + 1
                guard let (k, esc) = Self.stringEnd(p, from: vs, n) else { return nil }
                i = k + 1
                if w + (k - vs) + 1 > room { return nil }
                if count > 0 { out[w] = rebuiltListSeparator; w += 1 }
                if esc {
                    guard let m = ZeekJSONDecoder.unescapeJSON(p + vs, k - vs, out + w) else { return nil }
                    w += m
                } else {
                    memcpy(out + w, p + vs, k - vs)
                    w += k - vs
                }
            } else if c == 123 || c == 91 {
                if !ZeekJSONDecoder.skipBalanced(p, n, &i) { return nil }
            } else {
                let vs = i
                while i < n && p[i] != 44 && p[i] != 93 && p[i] != 125 && !Self.ws(p[i]) { i += 1 }
                guard let kind = Self.scalar(p + vs, i - vs) else { return nil }
                if kind {
                    if w + (i - vs) + 1 > room { return nil }
                    if count > 0 { out[w] = rebuiltListSeparator; w += 1 }
                    memcpy(out + w, p + vs, i - vs)
                    w += i - vs
                }
            }
            count += 1
            while i < n && Self.ws(p[i]) { i += 1 }
            if i >= n { return nil }
            if p[i] == 44 { i += 1; continue }
            if p[i] == 93 { i += 1; break }
            return nil
        }
        scratch.used += w
        return FieldValue(base: UnsafePointer(out), count: w, listSeparator: rebuiltListSeparator)
    }
}

extension JSONFlattener {
    /// The index of the quote closing a string whose content starts at `start`, and whether it holds a
    /// backslash escape; nil when the line ends first.
    @inline(__always)
    static func stringEnd(_ p: UnsafePointer<UInt8>, from start: Int, _ n: Int) -> (Int, Bool)? {
        var k = start
        var esc = false
        while k < n && p[k] != 34 {
            if p[k] == 92 {
                esc = true
                k += 1
            }
            k += 1
        }
        return k >= n ? nil : (k, esc)
    }
}

/// Line handling shared by the JSON-object decoders (Windows events, generic JSON).
enum JSONLine {
    /// The object's bounds: leading blanks skipped, trailing CR/blanks dropped. `start == end` for a blank line.
    @inline(__always)
    static func trimmed(_ line: UnsafePointer<UInt8>, _ count: Int) -> (start: Int, end: Int) {
        var n = count
        while n > 0 && (line[n - 1] == 13 || line[n - 1] == 32 || line[n - 1] == 9) { n -= 1 }
        var i = 0
        while i < n && (line[i] == 32 || line[i] == 9) { i += 1 }
        return (i, n)
    }

    /// Sizes and clears the record for a line of `length` bytes.
    @inline(__always)
    static func prepare(_ record: inout EventRecord, line: UnsafePointer<UInt8>, length: Int, fieldCount: Int) {
        record.ensureCapacity(fieldCount)
        record.line = line
        record.lineLength = length
        record.reset(fieldCount: fieldCount)
    }
}
