import FlowhoundCore

/// NUL holes (ingest.md item 10): a writer without `O_APPEND` keeps writing at its old position after
/// copytruncate, so the file regrows with a run of `\0` bytes before the next line. Such runs at the start of
/// a line are not content: they are skipped (never delivered, never counted as a line) and counted.
extension LineFramer {
    /// Like `commit(_:into:)`, but first drops runs of `\0` that start a line. Offsets stay those of the
    /// decoded stream (a line after a hole has the offset of its first non-NUL byte). Returns the NUL bytes
    /// skipped. Costs one `memchr` per chunk when there is no NUL byte at all.
    @discardableResult
    package func commitSkippingNulHoles<S: LineSink>(_ count: Int, into sink: inout S) -> Int64 {
        precondition(count >= 0 && count <= capacity - filled, "commit beyond the writable area")
        if count == 0 { return 0 }
        var start = buffer + filled
        var remaining = count
        if memchr(start, 0, remaining) == nil {
            commit(remaining, into: &sink)
            return 0
        }
        var skipped: Int64 = 0
        while remaining > 0 {
            // at a line start (nothing pending, not inside a cut line): drop the NUL run
            if filled == 0 && !discarding {
                var z = 0
                while z < remaining && start[z] == 0 { z += 1 }
                if z > 0 {
                    base += Int64(z)
                    skipped += Int64(z)
                    start += z
                    remaining -= z
                    if remaining == 0 { break }
                    // move the rest to the write position (the buffer start)
                    buffer.update(from: start, count: remaining)
                    start = buffer
                }
            }
            // commit up to the first newline that is followed by a NUL byte, or everything
            var cut = remaining
            var p = 0
            while p < remaining, let hit = memchr(start + p, 10, remaining - p) {
                let nl = UnsafeMutablePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - start
                if nl + 1 < remaining && start[nl + 1] == 0 {
                    cut = nl + 1
                    break
                }
                p = nl + 1
            }
            let rest = remaining - cut
            if rest > 0 {
                // keep the bytes after the cut safe from the zero padding `commit` writes after its data
                let saved = [UInt8](UnsafeBufferPointer(start: start + cut, count: rest))
                commit(cut, into: &sink)
                start = buffer + filled
                saved.withUnsafeBufferPointer { start.update(from: $0.baseAddress!, count: rest) }
            } else {
                commit(cut, into: &sink)
            }
            remaining = rest
        }
        return skipped
    }
}

/// Resuming in the middle of a cut overlong line (its first `maxLineLength` bytes were already delivered).
extension LineFramer {
    /// The framer is dropping the rest of a line it delivered cut.
    package var isInsideCutLine: Bool { discarding }
    /// Decoded offset just past every byte given to the framer.
    package var consumedOffset: Int64 { base + Int64(filled) }
    /// Starts by dropping bytes up to the next newline (the rest of a cut line delivered by an earlier run).
    package func resumeInsideCutLine() {
        filled = 0
        discarding = true
        discardedCR = false
    }
}
