import FlowhoundCore

/// Group keys as bytes: one entry per group-by value, so that two keys are equal exactly when the values'
/// display strings (addresses in canonical form, other text ASCII-lowercased) are equal, without building
/// those strings per event.
///
/// Entry layout: tag `1` + 16 bytes (an address whose display string is its canonical form), or tag `0` +
/// 4-byte little-endian length + the display string's UTF-8 bytes.
enum GroupKeyCodec {
    static let addressTag: UInt8 = 1
    static let textTag: UInt8 = 0

    static func appendAddress(_ ip: IPAddress, to key: inout [UInt8]) {
        key.append(addressTag)
        withUnsafeBytes(of: ip.high) { key.append(contentsOf: $0) }
        withUnsafeBytes(of: ip.low) { key.append(contentsOf: $0) }
    }

    static func appendText(_ p: UnsafePointer<UInt8>, _ n: Int, fold: Bool, to key: inout [UInt8]) {
        key.append(textTag)
        let len = UInt32(n)
        withUnsafeBytes(of: len.littleEndian) { key.append(contentsOf: $0) }
        if !fold {
            key.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
            return
        }
        for i in 0..<n {
            let b = p[i]
            key.append(b &- 65 < 26 ? b + 32 : b)
        }
    }

    /// A display string as a key entry (the forward path of chained correlations and non-ASCII values).
    static func appendDisplay(_ s: String, to key: inout [UInt8]) {
        var utf8 = s
        utf8.withUTF8 { u in
            guard let base = u.baseAddress else {
                key.append(textTag)
                withUnsafeBytes(of: UInt32(0)) { key.append(contentsOf: $0) }
                return
            }
            if let ip = IPAddress.parse(base, u.count), ip.description == s {
                appendAddress(ip, to: &key)
            } else {
                appendText(base, u.count, fold: false, to: &key)
            }
        }
    }

    /// The display strings of a key, in group-by order.
    static func displayValues(_ key: [UInt8]) -> [String] {
        var out: [String] = []
        key.withUnsafeBufferPointer { b in
            var i = 0
            while i < b.count {
                if b[i] == addressTag {
                    let raw = UnsafeRawPointer(b.baseAddress! + i + 1)
                    let high = raw.loadUnaligned(as: UInt64.self)
                    let low = raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                    out.append(IPAddress(high: high, low: low).description)
                    i += 17
                } else {
                    let n = Int(b[i + 1]) | Int(b[i + 2]) << 8 | Int(b[i + 3]) << 16 | Int(b[i + 4]) << 24
                    out.append(String(decoding: UnsafeBufferPointer(rebasing: b[(i + 5)..<(i + 5 + n)]), as: UTF8.self))
                    i += 5 + n
                }
            }
        }
        return out
    }

    static func hash(_ p: UnsafeRawBufferPointer) -> Int {
        var h = Hasher()
        h.combine(bytes: p)
        return h.finalize()
    }
}

/// A matched line kept as possible evidence, as bytes: the excerpt and the entity fields are copied when the
/// event arrives; `Evidence` and `EventEntities` strings are built only when a finding needs them.
struct RawEvidence {
    var path: String
    var line: Int64
    var byteOffset: Int64
    /// The excerpt bytes, then the entity texts.
    var bytes: [UInt8]
    var excerptCount: Int32
    var truncated: Bool
    /// (start, length) in `bytes`; length -1 when absent.
    var sourceIP: (Int32, Int32) = (0, -1)
    var destinationIP: (Int32, Int32) = (0, -1)
    var user: (Int32, Int32) = (0, -1)
    var sourcePort: Int32 = -1
    var destinationPort: Int32 = -1

    /// Slots of the entity roles in one schema (-1: none).
    struct EntitySlots {
        var sourceIP = -1, sourcePort = -1, destinationIP = -1, destinationPort = -1, user = -1

        init(_ schema: Schema) {
            sourceIP = schema.slot(.sourceIP) ?? -1
            sourcePort = schema.slot(.sourcePort) ?? -1
            destinationIP = schema.slot(.destinationIP) ?? -1
            destinationPort = schema.slot(.destinationPort) ?? -1
            user = schema.slot(.user) ?? -1
        }
    }

    /// The same bytes `EventEntities(record:schema:)` and the excerpt would read.
    init(record: EventRecord, slots: EntitySlots, origin: EventOrigin, maxExcerptBytes: Int) {
        path = origin.path
        line = origin.line
        byteOffset = origin.byteOffset
        let n = min(record.lineLength, maxExcerptBytes)
        excerptCount = Int32(n)
        truncated = record.lineLength > n
        let a = Self.field(record, slots.sourceIP), d = Self.field(record, slots.destinationIP), u = Self.field(record, slots.user)
        var b: [UInt8] = []
        b.reserveCapacity(n + a.count + d.count + u.count)
        b.append(contentsOf: UnsafeBufferPointer(start: record.line, count: n))
        sourceIP = Self.append(a, to: &b)
        destinationIP = Self.append(d, to: &b)
        user = Self.append(u, to: &b)
        sourcePort = Self.port(record, slots.sourcePort)
        destinationPort = Self.port(record, slots.destinationPort)
        bytes = b
    }

    @inline(__always) private static func field(_ record: EventRecord, _ slot: Int) -> FieldValue {
        guard slot >= 0 else { return .absent }
        let v = record[slot]
        return v.count > 0 ? v : .absent
    }

    @inline(__always) private static func append(_ v: FieldValue, to b: inout [UInt8]) -> (Int32, Int32) {
        guard let base = v.base, v.count > 0 else { return (0, -1) }
        let start = Int32(b.count)
        b.append(contentsOf: UnsafeBufferPointer(start: base, count: v.count))
        return (start, Int32(v.count))
    }

    @inline(__always) private static func port(_ record: EventRecord, _ slot: Int) -> Int32 {
        guard slot >= 0 else { return -1 }
        let v = record[slot]
        guard let base = v.base, let p = Bytes.parseInt(base, v.count), p >= 0, p <= 65_535 else { return -1 }
        return Int32(p)
    }

    var evidence: Evidence {
        let excerpt = bytes.withUnsafeBufferPointer {
            String(decoding: UnsafeBufferPointer(rebasing: $0[0..<Int(excerptCount)]), as: UTF8.self)
        }
        return Evidence(path: path, line: line, byteOffset: byteOffset, excerpt: truncated ? excerpt + "…" : excerpt)
    }

    var entities: EventEntities {
        bytes.withUnsafeBufferPointer { b in
            func text(_ r: (Int32, Int32)) -> String? {
                guard r.1 > 0 else { return nil }
                return String(decoding: UnsafeBufferPointer(rebasing: b[Int(r.0)..<Int(r.0 + r.1)]), as: UTF8.self)
            }
            func address(_ r: (Int32, Int32)) -> String? {
                guard r.1 > 0, let base = b.baseAddress else { return nil }
                if let ip = IPAddress.parse(base + Int(r.0), Int(r.1)) { return ip.description }
                return text(r)
            }
            return EventEntities(
                sourceIP: address(sourceIP), sourcePort: sourcePort >= 0 ? Int(sourcePort) : nil,
                destinationIP: address(destinationIP), destinationPort: destinationPort >= 0 ? Int(destinationPort) : nil,
                userName: text(user))
        }
    }
}

/// What an evidence item holds: the raw line of a base-rule match, or (chained correlations) evidence
/// already built by the inner correlation.
enum EvidencePayload {
    case raw(RawEvidence)
    case built(Evidence, EventEntities?)
}

/// Open addressing (linear probing, backward-shift deletion) from key bytes to group slots.
struct GroupTable {
    private var buckets: [Int32] = Array(repeating: -1, count: 16)
    private var mask = 15
    private(set) var count = 0

    /// The slot whose group has this key, if any; `keyOf(slot)` gives a slot's key and hash.
    func find(_ key: UnsafeRawBufferPointer, hash: Int, keyOf: (Int32) -> (hash: Int, key: [UInt8])) -> Int32? {
        var i = hash & mask
        while true {
            let s = buckets[i]
            if s < 0 { return nil }
            let k = keyOf(s)
            if k.hash == hash && k.key.count == key.count
                && k.key.withUnsafeBytes({ memcmp($0.baseAddress!, key.baseAddress!, key.count) == 0 })
            {
                return s
            }
            i = (i + 1) & mask
        }
    }

    mutating func insert(slot: Int32, hash: Int, hashOf: (Int32) -> Int) {
        if (count + 1) * 2 > buckets.count { grow(hashOf) }
        var i = hash & mask
        while buckets[i] >= 0 { i = (i + 1) & mask }
        buckets[i] = slot
        count += 1
    }

    mutating func remove(slot: Int32, hash: Int, hashOf: (Int32) -> Int) {
        var i = hash & mask
        while buckets[i] != slot {
            if buckets[i] < 0 { return }
            i = (i + 1) & mask
        }
        buckets[i] = -1
        count -= 1
        var j = i
        while true {
            j = (j + 1) & mask
            let s = buckets[j]
            if s < 0 { return }
            let ideal = hashOf(s) & mask
            // move the entry back unless its ideal bucket lies cyclically in (i, j]
            if (j &- ideal) & mask >= (j &- i) & mask {
                buckets[i] = s
                buckets[j] = -1
                i = j
            }
        }
    }

    mutating func removeAll() {
        buckets = Array(repeating: -1, count: 16)
        mask = 15
        count = 0
    }

    private mutating func grow(_ hashOf: (Int32) -> Int) {
        let old = buckets
        buckets = Array(repeating: -1, count: old.count * 2)
        mask = buckets.count - 1
        for s in old where s >= 0 {
            var i = hashOf(s) & mask
            while buckets[i] >= 0 { i = (i + 1) & mask }
            buckets[i] = s
        }
    }
}
