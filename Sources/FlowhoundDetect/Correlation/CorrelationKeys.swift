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

/// A group key being built (`GroupKeyCodec` layout), written in place into storage kept from event to event.
struct GroupKeyBuilder {
    private var storage: [UInt8] = Array(repeating: 0, count: 64)
    private(set) var count = 0

    init() {}

    mutating func removeAll() { count = 0 }

    /// Makes room for `n` more bytes.
    @inline(__always) private mutating func reserve(_ n: Int) {
        if count + n > storage.count {
            storage.append(contentsOf: repeatElement(0, count: max(storage.count, count + n - storage.count)))
        }
    }

    /// Tag `1` + the 16 address bytes.
    mutating func appendAddress(_ ip: IPAddress) {
        reserve(17)
        let at = count
        storage.withUnsafeMutableBytes { b in
            b[at] = GroupKeyCodec.addressTag
            b.storeBytes(of: ip.high, toByteOffset: at + 1, as: UInt64.self)
            b.storeBytes(of: ip.low, toByteOffset: at + 9, as: UInt64.self)
        }
        count += 17
    }

    /// Tag `0` + 4-byte little-endian length + the bytes (ASCII-lowercased when `fold`).
    mutating func appendText(_ p: UnsafePointer<UInt8>?, _ n: Int, fold: Bool) {
        reserve(5 + n)
        let at = count
        storage.withUnsafeMutableBytes { b in
            b[at] = GroupKeyCodec.textTag
            b.storeBytes(of: UInt32(n).littleEndian, toByteOffset: at + 1, as: UInt32.self)
            guard let p, n > 0 else { return }
            let d = b.baseAddress!.assumingMemoryBound(to: UInt8.self) + at + 5
            if fold {
                for i in 0..<n {
                    let c = p[i]
                    d[i] = c &- 65 < 26 ? c + 32 : c
                }
            } else {
                d.update(from: p, count: n)
            }
        }
        count += 5 + n
    }

    /// A display string as a key entry (the forward path of chained correlations and non-ASCII values).
    mutating func appendDisplay(_ s: String) {
        var utf8 = s
        utf8.withUTF8 { u in
            guard let base = u.baseAddress else {
                appendText(nil, 0, fold: false)
                return
            }
            if let ip = IPAddress.parse(base, u.count), ip.description == s {
                appendAddress(ip)
            } else {
                appendText(base, u.count, fold: false)
            }
        }
    }

    /// The key built so far.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        storage.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }
}

/// The bytes behind a `RawEvidence`: one buffer that a group's evidence ring refills for later lines (no
/// allocation per matched line). Shared by copies of the evidence (COW by hand: `RawEvidence.fill` writes only into
/// a buffer nothing else references, and takes a new one otherwise).
final class EvidenceBytes {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int
    var count = 0

    init(capacity: Int) {
        self.capacity = max(capacity, 1)
        base = .allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }
}

/// A matched line kept as possible evidence, as bytes: the excerpt and the entity fields are copied when the
/// event arrives; `Evidence` and `EventEntities` strings (and the port numbers) are built only when a finding
/// needs them. An entity field that lies inside the copied excerpt (the usual case: decoders point into the line)
/// is kept as a range of the excerpt instead of a second copy.
struct RawEvidence {
    var path: String
    var line: Int64
    var byteOffset: Int64
    /// The excerpt bytes, then the entity texts that are not part of the excerpt (nil before the first line).
    var storage: EvidenceBytes?
    var excerptCount: Int32
    var truncated: Bool
    /// (start, length) in `storage`; length -1 when absent.
    var sourceIP: (Int32, Int32) = (0, -1)
    var destinationIP: (Int32, Int32) = (0, -1)
    var user: (Int32, Int32) = (0, -1)
    var sourcePortText: (Int32, Int32) = (0, -1)
    var destinationPortText: (Int32, Int32) = (0, -1)

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

    /// Nothing yet (a ring slot before its first line).
    init() {
        path = ""
        line = 0
        byteOffset = 0
        storage = nil
        excerptCount = 0
        truncated = false
    }

    /// The same bytes `EventEntities(record:schema:)` and the excerpt would read.
    init(record: EventRecord, slots: EntitySlots, origin: EventOrigin, maxExcerptBytes: Int) {
        self.init()
        fill(record: record, slots: slots, origin: origin, maxExcerptBytes: maxExcerptBytes)
    }

    /// Replaces what this evidence holds by the line in `record`, reusing the byte buffer when nothing else
    /// references it and it is large enough.
    mutating func fill(record: EventRecord, slots: EntitySlots, origin: EventOrigin, maxExcerptBytes: Int) {
        path = origin.path
        line = origin.line
        byteOffset = origin.byteOffset
        let n = min(record.lineLength, maxExcerptBytes)
        excerptCount = Int32(n)
        truncated = record.lineLength > n
        let lo = record.line, hi = record.line + n
        let a = Self.field(record, slots.sourceIP), d = Self.field(record, slots.destinationIP)
        let u = Self.field(record, slots.user)
        let sp = Self.field(record, slots.sourcePort), dp = Self.field(record, slots.destinationPort)
        var need = n
        if !Self.inside(a, lo, hi) { need += a.count }
        if !Self.inside(d, lo, hi) { need += d.count }
        if !Self.inside(u, lo, hi) { need += u.count }
        if !Self.inside(sp, lo, hi) { need += sp.count }
        if !Self.inside(dp, lo, hi) { need += dp.count }
        if (storage?.capacity ?? 0) < need || !isKnownUniquelyReferenced(&storage) {
            storage = EvidenceBytes(capacity: max(need, 64))
        }
        let buffer = storage!
        let b = buffer.base
        if n > 0 { b.update(from: record.line, count: n) }
        var end = n
        func place(_ v: FieldValue) -> (Int32, Int32) {
            guard let base = v.base, v.count > 0 else { return (0, -1) }
            if base >= lo && base + v.count <= hi { return (Int32(base - lo), Int32(v.count)) }
            (b + end).update(from: base, count: v.count)
            defer { end += v.count }
            return (Int32(end), Int32(v.count))
        }
        sourceIP = place(a)
        destinationIP = place(d)
        user = place(u)
        sourcePortText = place(sp)
        destinationPortText = place(dp)
        buffer.count = end
    }

    @inline(__always) private static func inside(_ v: FieldValue, _ lo: UnsafePointer<UInt8>, _ hi: UnsafePointer<UInt8>) -> Bool {
        guard let base = v.base, v.count > 0 else { return true }  // nothing to copy
        return base >= lo && base + v.count <= hi
    }

    @inline(__always) private static func field(_ record: EventRecord, _ slot: Int) -> FieldValue {
        guard slot >= 0 else { return .absent }
        let v = record[slot]
        return v.count > 0 ? v : .absent
    }

    private func port(_ r: (Int32, Int32)) -> Int? {
        guard r.1 > 0, let b = storage?.base, let p = Bytes.parseInt(b + Int(r.0), Int(r.1)), p >= 0, p <= 65_535
        else { return nil }
        return Int(p)
    }

    var sourcePort: Int? { port(sourcePortText) }
    var destinationPort: Int? { port(destinationPortText) }

    var evidence: Evidence {
        let excerpt = String(decoding: UnsafeBufferPointer(start: storage?.base, count: Int(excerptCount)), as: UTF8.self)
        return Evidence(path: path, line: line, byteOffset: byteOffset, excerpt: truncated ? excerpt + "…" : excerpt)
    }

    var entities: EventEntities {
        let b = storage?.base
        func text(_ r: (Int32, Int32)) -> String? {
            guard r.1 > 0, let b else { return nil }
            return String(decoding: UnsafeBufferPointer(start: b + Int(r.0), count: Int(r.1)), as: UTF8.self)
        }
        func address(_ r: (Int32, Int32)) -> String? {
            guard r.1 > 0, let b else { return nil }
            if let ip = IPAddress.parse(b + Int(r.0), Int(r.1)) { return ip.description }
            return text(r)
        }
        return EventEntities(
            sourceIP: address(sourceIP), sourcePort: sourcePort, destinationIP: address(destinationIP),
            destinationPort: destinationPort, userName: text(user))
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

    /// The slot whose group has this key, if any; `hashOf(slot)` gives a slot's hash, `sameKey(slot)` whether its
    /// key is `key` (asked only when the hashes are equal).
    func find(hash: Int, hashOf: (Int32) -> Int, sameKey: (Int32) -> Bool) -> Int32? {
        var i = hash & mask
        while true {
            let s = buckets[i]
            if s < 0 { return nil }
            if hashOf(s) == hash && sameKey(s) { return s }
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
