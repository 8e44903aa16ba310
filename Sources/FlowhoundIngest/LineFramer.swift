import FlowhoundCore

/// Splits a decoded byte stream into lines, in place, in one reused buffer.
///
/// Decoded bytes are written straight into the framer's buffer (`writePointer`, at most `writableCount`
/// bytes), then `commit(_:into:)` hands every complete line to the sink as a pointer into that buffer.
/// Only the unterminated tail is kept, moved to the buffer start for the next chunk. Lines end at `\n`;
/// one `\r` before it (or before the end of the stream) is removed.
///
/// Overlong lines: a line whose content exceeds `maxLineLength` is delivered once, cut to `maxLineLength`
/// bytes, with its own line number and offset; the rest of it up to its `\n` is dropped without being
/// buffered. Counted in `overlongLines` and `overlongBytesDropped`. So memory stays at
/// `maxLineLength + 2 + outputChunkSize + 64` bytes whatever the input.
///
/// The buffer has 64 zero bytes after the last byte written, so a sink may read up to 64 bytes past a line.
@usableFromInline package final class LineFramer {
    @usableFromInline static let padding = 64

    @usableFromInline let buffer: UnsafeMutablePointer<UInt8>
    /// Data area size; `padding` more bytes are allocated after it.
    @usableFromInline let capacity: Int
    @usableFromInline let maxLine: Int
    @usableFromInline let window: Int
    /// Bytes in `buffer[0..<filled]`: the start of a line with no terminator yet.
    @usableFromInline var filled = 0
    /// Decoded stream offset of `buffer[0]`.
    @usableFromInline var base: Int64
    @usableFromInline var nextNumber: Int64
    /// Dropping the rest of an overlong line that was already delivered.
    @usableFromInline var discarding = false
    /// The last byte dropped while discarding was `\r` (not content if a `\n` follows).
    @usableFromInline var discardedCR = false
    @usableFromInline var resume: Int64
    @usableFromInline var delivered: Int64 = 0
    @usableFromInline var overlong: Int64 = 0
    @usableFromInline var dropped: Int64 = 0
    @usableFromInline var withheld: Int64 = 0

    @usableFromInline package init(maxLineLength: Int = 1 << 20, outputChunkSize: Int = 1 << 20, startOffset: Int64 = 0,
                 firstLineNumber: Int64 = 1) {
        maxLine = max(1, maxLineLength)
        window = max(1, outputChunkSize)
        capacity = maxLine + 2 + window
        buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity + LineFramer.padding)
        buffer.initialize(repeating: 0, count: capacity + LineFramer.padding)
        base = startOffset
        resume = startOffset
        nextNumber = firstLineNumber
    }

    @usableFromInline package convenience init(options: IngestOptions) {
        self.init(maxLineLength: options.maxLineLength, outputChunkSize: options.outputChunkSize,
                  startOffset: options.startOffset, firstLineNumber: options.firstLineNumber)
    }

    deinit { buffer.deallocate() }

    /// Forgets all state and counters, to frame another stream with the same buffer.
    @usableFromInline package func reset(startOffset: Int64 = 0, firstLineNumber: Int64 = 1) {
        filled = 0
        base = startOffset
        resume = startOffset
        nextNumber = firstLineNumber
        discarding = false
        discardedCR = false
        delivered = 0
        overlong = 0
        dropped = 0
        withheld = 0
    }

    /// Where the next decoded bytes must be written.
    @inlinable package var writePointer: UnsafeMutablePointer<UInt8> { buffer + filled }
    /// How many bytes may be written at `writePointer` (always ≥ 1, at most `outputChunkSize`).
    @inlinable package var writableCount: Int { min(capacity - filled, window) }

    /// Lines delivered so far.
    @usableFromInline package var lines: Int64 { delivered }
    @usableFromInline package var overlongLines: Int64 { overlong }
    @usableFromInline package var overlongBytesDropped: Int64 { dropped }
    @usableFromInline package var partialLinesWithheld: Int64 { withheld }
    /// Number the next line will get.
    @usableFromInline package var nextLineNumber: Int64 { nextNumber }
    /// Decoded offset just past the last delivered line and its terminator.
    @usableFromInline package var resumeOffset: Int64 { resume }
    /// Bytes of an unterminated line currently held.
    @usableFromInline package var pendingCount: Int { filled }

    /// Frames `count` bytes just written at `writePointer`, delivering each complete line to `sink`.
    @inlinable
    package func commit<S: LineSink>(_ count: Int, into sink: inout S) {
        precondition(count >= 0 && count <= capacity - filled, "commit beyond the writable area")
        if count == 0 { return }
        let buf = buffer
        let end = filled + count
        // Keep the promise of zeroed bytes after the data for over-reading sinks.
        (buf + end).initialize(repeating: 0, count: LineFramer.padding)
        let origin = base
        let limit = maxLine
        var scan = filled
        var lineStart = 0
        var number = nextNumber
        var cut: Int64 = 0
        var cutBytes: Int64 = 0

        if discarding {
            guard let hit = memchr(buf + scan, 10, end - scan) else {
                dropped += Int64(count)
                discardedCR = buf[end - 1] == 13
                base = origin + Int64(end)
                filled = 0
                return
            }
            let nl = UnsafeMutablePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - buf
            let crBefore = nl > scan ? buf[nl - 1] == 13 : discardedCR
            dropped += Int64(nl - scan) - (crBefore ? 1 : 0)
            discarding = false
            discardedCR = false
            lineStart = nl + 1
            scan = lineStart
        }

        while scan < end, let hit = memchr(buf + scan, 10, end - scan) {
            let nl = UnsafeMutablePointer<UInt8>(hit.assumingMemoryBound(to: UInt8.self)) - buf
            var len = nl - lineStart
            if len > 0 && buf[nl - 1] == 13 { len -= 1 }
            if len > limit {
                cut += 1
                cutBytes += Int64(len - limit)
                len = limit
            }
            sink.line(buf + lineStart, len, number: number, offset: origin + Int64(lineStart))
            number += 1
            lineStart = nl + 1
            scan = lineStart
        }

        if lineStart > 0 { resume = origin + Int64(lineStart) }
        let partial = end - lineStart
        if partial >= limit + 2 {
            // Content is at least limit + 1 bytes whatever follows: deliver the cut line now, drop the rest.
            sink.line(buf + lineStart, limit, number: number, offset: origin + Int64(lineStart))
            number += 1
            cut += 1
            cutBytes += Int64(partial - limit)
            discarding = true
            discardedCR = buf[end - 1] == 13
            base = origin + Int64(end)
            filled = 0
        } else {
            if lineStart > 0 && partial > 0 { buf.update(from: buf + lineStart, count: partial) }
            base = origin + Int64(lineStart)
            filled = partial
        }
        delivered += number - nextNumber
        nextNumber = number
        overlong += cut
        dropped += cutBytes
    }

    /// Ends the stream. With `deliverPartial` (clean end) an unterminated last line is delivered;
    /// otherwise (the stream ended in error) it is withheld and counted in `partialLinesWithheld`.
    @inlinable
    package func finish<S: LineSink>(deliverPartial: Bool, into sink: inout S) {
        if discarding {
            if deliverPartial {
                // The stream ended inside an overlong line that was already delivered: it is complete now.
                if discardedCR { dropped -= 1 }
                discarding = false
                discardedCR = false
                resume = base
            }
            return
        }
        guard filled > 0 else { return }
        if !deliverPartial {
            withheld += 1
            return
        }
        var len = filled
        if buffer[len - 1] == 13 { len -= 1 }
        if len > maxLine {
            overlong += 1
            dropped += Int64(len - maxLine)
            len = maxLine
        }
        (buffer + filled).initialize(repeating: 0, count: LineFramer.padding)
        sink.line(buffer, len, number: nextNumber, offset: base)
        nextNumber += 1
        delivered += 1
        base += Int64(filled)
        resume = base
        filled = 0
    }
}
