/// The value of one field in the line being looked at: a view of bytes owned by the decoder.
///
/// `base == nil` means the field is absent or unset (Zeek `-`, JSON `null`, key missing).
/// A list field (`listSeparator != 0`) holds its elements separated by that byte; an empty list has `count == 0`.
public struct FieldValue {
    @usableFromInline package var base: UnsafePointer<UInt8>?
    @usableFromInline package var count: Int
    @usableFromInline package var listSeparator: UInt8

    @inlinable @inline(__always)
    package init(base: UnsafePointer<UInt8>?, count: Int, listSeparator: UInt8 = 0) {
        self.base = base
        self.count = count
        self.listSeparator = listSeparator
    }

    @inlinable @inline(__always) package static var absent: FieldValue { FieldValue(base: nil, count: 0) }

    @inlinable @inline(__always) package var isPresent: Bool { base != nil }

    /// Copies the bytes into a String (for findings and diagnostics only, never per line).
    @usableFromInline package var string: String? {
        guard let base else { return nil }
        return String(decoding: UnsafeBufferPointer(start: base, count: count), as: UTF8.self)
    }

    /// Calls `body` once per element (once for a scalar). Stops early when `body` returns true; returns that.
    @inlinable @inline(__always)
    package func anyElement(_ body: (UnsafePointer<UInt8>, Int) -> Bool) -> Bool {
        guard let base else { return false }
        if listSeparator == 0 { return body(base, count) }
        if count == 0 { return false }
        var start = 0
        var i = 0
        while i < count {
            if base[i] == listSeparator {
                if body(base + start, i - start) { return true }
                start = i + 1
            }
            i += 1
        }
        return body(base + start, count - start)
    }
}

/// One decoded line: the values of every schema slot plus where the line came from.
///
/// The decoder owns the storage and reuses it for every line; nothing here may be kept past the next line.
public struct EventRecord {
    @usableFromInline package var values: UnsafeMutablePointer<FieldValue>
    @usableFromInline package var capacity: Int
    /// The raw line (without its newline), for keyword matching and evidence excerpts.
    @usableFromInline package var line: UnsafePointer<UInt8>
    @usableFromInline package var lineLength: Int
    /// Log time of the event, if the decoder found one.
    @usableFromInline package var timestamp: Timestamp?

    /// Allocates room for `capacity` slots; free with `deallocate()`.
    package init(capacity: Int) {
        self.capacity = max(capacity, 1)
        values = .allocate(capacity: self.capacity)
        values.initialize(repeating: .absent, count: self.capacity)
        line = UnsafePointer(values).withMemoryRebound(to: UInt8.self, capacity: 0) { $0 }
        lineLength = 0
        timestamp = nil
    }

    package func deallocate() { values.deallocate() }

    /// Marks every slot absent (call before decoding a new line).
    @inlinable @inline(__always)
    package mutating func reset(fieldCount: Int) {
        // `.absent` is all zero bits (nil base, count 0, no separator): one memset instead of a store loop.
        let n = min(fieldCount, capacity)
        if n > 0 { _ = memset(values, 0, n * MemoryLayout<FieldValue>.stride) }
        timestamp = nil
    }

    /// Grows the slot storage if a new schema has more fields.
    @inlinable @inline(__always)
    package mutating func ensureCapacity(_ n: Int) {
        if n > capacity { grow(n) }
    }

    @usableFromInline
    package mutating func grow(_ n: Int) {
        values.deallocate()
        capacity = n
        values = .allocate(capacity: n)
        values.initialize(repeating: .absent, count: n)
    }

    @inlinable @inline(__always)
    package subscript(slot: Int) -> FieldValue {
        get { values[slot] }
        nonmutating set { values[slot] = newValue }
    }
}
