import CZlib
import FlowhoundCore

/// A thin owner of one zlib inflate stream configured for gzip only (windowBits 15 + 16).
///
/// The `z_stream` lives at a fixed heap address for the life of the object (zlib checks that the
/// stream it was initialised with is the one passed back). It decodes one member at a time; after
/// `.memberEnd` the caller decides whether another member follows and calls `reset()`.
/// Member sequencing, padding, truncation and offsets are handled by `ChunkReader`.
@usableFromInline package final class GzipInflater {
    @usableFromInline package enum Status: Equatable, Sendable {
        /// Progress was made (or may be made with more input / output room).
        case ok
        /// The member's trailer was read and its CRC-32 and ISIZE matched.
        case memberEnd
        /// zlib could make no progress: it needs more input (or output room).
        case noProgress
        /// The data is invalid; zlib's message (e.g. "incorrect data check").
        case dataError(String)
        /// zlib itself failed (memory, internal state).
        case failed(String)
    }

    @usableFromInline package struct Step: Equatable, Sendable {
        @usableFromInline package var consumed: Int
        @usableFromInline package var produced: Int
        @usableFromInline package var status: Status
    }

    private let stream: UnsafeMutablePointer<z_stream>

    /// Returns nil if zlib cannot initialise (out of memory or a header/library mismatch).
    @usableFromInline package init?() {
        stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        if flowhound_inflateInit2(stream, 15 + 16) != Z_OK {
            stream.deinitialize(count: 1)
            stream.deallocate()
            return nil
        }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Prepares for the next member, keeping the allocated window.
    @usableFromInline package func reset() {
        inflateReset(stream)
    }

    /// Decompressed bytes produced since the last `reset()` (of the current member).
    @usableFromInline package var memberDecodedBytes: Int64 { Int64(stream.pointee.total_out) }

    /// Runs inflate once over `input[0..<inputCount]`, writing at most `outputCount` bytes to `output`.
    @usableFromInline package func step(
        _ input: UnsafePointer<UInt8>, _ inputCount: Int, _ output: UnsafeMutablePointer<UInt8>, _ outputCount: Int
    ) -> Step {
        let inCount = UInt32(clamping: inputCount)
        let outCount = UInt32(clamping: outputCount)
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input)
        stream.pointee.avail_in = inCount
        stream.pointee.next_out = output
        stream.pointee.avail_out = outCount
        let rc = inflate(stream, Z_NO_FLUSH)
        let consumed = Int(inCount - stream.pointee.avail_in)
        let produced = Int(outCount - stream.pointee.avail_out)
        stream.pointee.next_in = nil
        stream.pointee.next_out = nil
        let status: Status
        switch rc {
        case Z_OK: status = .ok
        case Z_STREAM_END: status = .memberEnd
        case Z_BUF_ERROR: status = .noProgress
        case Z_DATA_ERROR: status = .dataError(lastMessage ?? "invalid data")
        case Z_NEED_DICT: status = .dataError("stream needs a preset dictionary")
        case Z_MEM_ERROR: status = .failed("out of memory")
        default: status = .failed(lastMessage ?? "inflate returned \(rc)")
        }
        return Step(consumed: consumed, produced: produced, status: status)
    }

    private var lastMessage: String? {
        guard let m = stream.pointee.msg else { return nil }
        return String(cString: m)
    }
}
