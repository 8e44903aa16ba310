import CZlib
import FlowhoundCore

#if FLOWHOUND_ISAL
    import CIsal
#endif

/// A thin owner of one gzip inflate stream: system zlib (windowBits 15 + 16, gzip only), or Intel ISA-L's
/// igzip streaming decoder (`isal_inflate` with `ISAL_GZIP`) when the build found libisal-dev.
///
/// Both backends give the same answers for the same bytes: `.memberEnd` only after the member's CRC-32 and
/// ISIZE matched, `.dataError("incorrect data check")` / `("incorrect length check")` for a bad CRC / ISIZE
/// (zlib's wording, which `ChunkReader` maps to error codes), `.noProgress` when more input is needed.
/// The stream state lives at a fixed heap address for the life of the object (zlib checks that the
/// stream it was initialised with is the one passed back; ISA-L's state is 87 KB and must not be copied).
/// It decodes one member at a time; after `.memberEnd` the caller decides whether another member follows
/// and calls `reset()`. Member sequencing, padding, truncation and offsets are handled by `ChunkReader`.
@usableFromInline package final class GzipInflater {
    /// Which decoder to use. `.isal` exists only in builds with ISA-L (see Package.swift).
    @usableFromInline package enum Kind: String, Sendable, CaseIterable, CustomStringConvertible {
        case zlib
        case isal

        /// The decoders compiled into this build, zlib first.
        @usableFromInline package static var available: [Kind] {
            #if FLOWHOUND_ISAL
                return [.zlib, .isal]
            #else
                return [.zlib]
            #endif
        }

        /// The default: ISA-L when built in, unless the environment says FLOWHOUND_INFLATER=zlib.
        @usableFromInline package static let preferred: Kind = {
            if let e = getenv("FLOWHOUND_INFLATER"), String(cString: e) == "zlib" { return .zlib }
            return available.last ?? .zlib
        }()

        @usableFromInline package var description: String { self == .zlib ? "zlib" : "ISA-L" }
    }

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

    /// The decoder actually in use (`.isal` falls back to zlib in a build without ISA-L).
    package let kind: Kind
    private let stream: UnsafeMutablePointer<z_stream>?
    #if FLOWHOUND_ISAL
        private let isal: UnsafeMutablePointer<inflate_state>?
        /// The last (up to 8) compressed bytes ISA-L consumed: the gzip trailer when it reports a bad checksum.
        private var tail: UInt64 = 0
    #endif
    private var memberOut: Int64 = 0

    /// Returns nil if the decoder cannot initialise (out of memory or a header/library mismatch).
    @usableFromInline package init?(kind requested: Kind = .preferred) {
        #if FLOWHOUND_ISAL
            if requested == .isal {
                kind = .isal
                stream = nil
                let st = UnsafeMutablePointer<inflate_state>.allocate(capacity: 1)
                isal_inflate_init(st)
                st.pointee.crc_flag = UInt32(ISAL_GZIP)
                isal = st
                return
            }
            isal = nil
        #endif
        kind = .zlib
        let zs = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        zs.initialize(to: z_stream())
        if flowhound_inflateInit2(zs, 15 + 16) != Z_OK {
            zs.deinitialize(count: 1)
            zs.deallocate()
            return nil
        }
        stream = zs
    }

    deinit {
        if let zs = stream {
            inflateEnd(zs)
            zs.deinitialize(count: 1)
            zs.deallocate()
        }
        #if FLOWHOUND_ISAL
            isal?.deallocate()
        #endif
    }

    /// Name for messages ("zlib" or "ISA-L").
    package var name: String { kind.description }

    /// Prepares for the next member, keeping the allocated window.
    @usableFromInline package func reset() {
        memberOut = 0
        if let zs = stream { inflateReset(zs) }
        #if FLOWHOUND_ISAL
            if let st = isal {
                isal_inflate_reset(st)
                st.pointee.crc_flag = UInt32(ISAL_GZIP)
                tail = 0
            }
        #endif
    }

    /// Decompressed bytes produced since the last `reset()` (of the current member).
    @usableFromInline package var memberDecodedBytes: Int64 { memberOut }

    /// Runs the decoder once over `input[0..<inputCount]`, writing at most `outputCount` bytes to `output`.
    @usableFromInline package func step(
        _ input: UnsafePointer<UInt8>, _ inputCount: Int, _ output: UnsafeMutablePointer<UInt8>, _ outputCount: Int
    ) -> Step {
        #if FLOWHOUND_ISAL
            if let st = isal { return isalStep(st, input, inputCount, output, outputCount) }
        #endif
        let stream = self.stream!
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
        memberOut += Int64(produced)
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
        guard let m = stream?.pointee.msg else { return nil }
        return String(cString: m)
    }

    #if FLOWHOUND_ISAL
        private func isalStep(
            _ st: UnsafeMutablePointer<inflate_state>, _ input: UnsafePointer<UInt8>, _ inputCount: Int,
            _ output: UnsafeMutablePointer<UInt8>, _ outputCount: Int
        ) -> Step {
            if st.pointee.block_state == ISAL_BLOCK_FINISH {
                // Already at the end of the member: the caller must reset() before more data.
                return Step(consumed: 0, produced: 0, status: .memberEnd)
            }
            let inCount = UInt32(clamping: inputCount)
            let outCount = UInt32(clamping: outputCount)
            st.pointee.next_in = UnsafeMutablePointer(mutating: input)
            st.pointee.avail_in = inCount
            st.pointee.next_out = output
            st.pointee.avail_out = outCount
            let rc = isal_inflate(st)
            var consumed = Int(inCount - st.pointee.avail_in)
            let produced = Int(outCount - st.pointee.avail_out)
            st.pointee.next_in = nil
            st.pointee.next_out = nil
            memberOut += Int64(produced)
            // Keep the last 8 consumed bytes (little-endian shift register) to read the trailer on a bad check.
            let k = min(consumed, 8)
            for i in (consumed - k)..<consumed {
                tail = tail >> 8 | UInt64(input[i]) << 56
            }
            let status: Status
            switch rc {
            case ISAL_DECOMP_OK, ISAL_END_INPUT, ISAL_OUT_OVERFLOW:
                if st.pointee.block_state == ISAL_BLOCK_FINISH {
                    status = .memberEnd
                } else {
                    status = consumed == 0 && produced == 0 ? .noProgress : .ok
                }
            case ISAL_INCORRECT_CHECKSUM:
                let message = checksumMessage(st)
                // zlib stops right after a bad CRC field, before ISIZE; report the same position.
                if message == "incorrect data check" { consumed -= min(consumed, 4) }
                status = .dataError(message)
            case ISAL_INVALID_BLOCK: status = .dataError("invalid deflate block")
            case ISAL_INVALID_SYMBOL: status = .dataError("invalid code in the deflate data")
            case ISAL_INVALID_LOOKBACK: status = .dataError("invalid distance too far back")
            case ISAL_INVALID_WRAPPER: status = .dataError("incorrect header check")
            case ISAL_UNSUPPORTED_METHOD: status = .dataError("unknown compression method")
            case ISAL_NEED_DICT: status = .dataError("stream needs a preset dictionary")
            default: status = .failed("isal_inflate returned \(rc)")
            }
            if case .dataError = status, rc != ISAL_INCORRECT_CHECKSUM {
                // ISA-L loads input 8 bytes ahead into its bit buffer; the damage is before those bytes.
                consumed -= min(consumed, Int(max(0, st.pointee.read_in_length)) / 8)
            }
            return Step(consumed: consumed, produced: produced, status: status)
        }

        /// ISA-L reports a bad CRC and a bad ISIZE with the same code; tell them apart from the trailer
        /// (CRC-32 then ISIZE, little-endian) as zlib does: CRC first, then length.
        private func checksumMessage(_ st: UnsafeMutablePointer<inflate_state>) -> String {
            let storedCRC = UInt32(truncatingIfNeeded: tail)
            let storedSize = UInt32(truncatingIfNeeded: tail >> 32)
            if storedCRC != st.pointee.crc { return "incorrect data check" }
            if storedSize != UInt32(truncatingIfNeeded: memberOut) { return "incorrect length check" }
            return "incorrect data check"
        }
    #endif
}
