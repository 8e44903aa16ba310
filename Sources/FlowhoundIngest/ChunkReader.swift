import FlowhoundCore

/// Produces the decoded byte stream of one input (a file, stdin or any readable descriptor).
///
/// The format is sniffed from the first two bytes (gzip magic `1f 8b`), never from the name, and
/// without seeking: the sniffed bytes stay in the input buffer and are decoded like any other, so
/// pipes work. gzip input is decoded member after member (RFC 1952): NUL padding after a member is
/// skipped, a next member must start with the magic, anything else is trailing garbage.
///
/// `read(into:capacity:)` hands out decoded bytes in the caller's buffer. A failure is returned only
/// after every byte decoded before it has been returned as `.data`; after `.end` or `.failed` the
/// reader keeps answering the same. Not thread-safe; create it on the thread that uses it.
@usableFromInline package final class ChunkReader {
    @usableFromInline package enum Chunk: Sendable, Equatable {
        /// `n > 0` decoded bytes were written to the buffer.
        case data(Int)
        /// Clean end of the stream.
        case end
        case failed(IngestError)
    }

    @usableFromInline package let path: String
    private let fd: Int32
    private let closeOnDeinit: Bool
    private let input: UnsafeMutablePointer<UInt8>
    private let inputCapacity: Int
    private let readSize: Int
    private var inStart = 0
    private var inEnd = 0
    private var eof = false
    private var sniffed = false
    private var inflater: GzipInflater?
    private let inflaterKind: GzipInflater.Kind
    private var memberEnded = false
    private var terminal: Chunk?
    /// A failure found while the same inflate call still produced data: returned on the next call.
    private var deferred: IngestError?

    /// gzip magic seen at the start (valid after `detect()` or the first read).
    @usableFromInline package private(set) var isCompressed = false
    /// Raw bytes obtained from the descriptor (read or seeked over).
    @usableFromInline package private(set) var bytesRead: Int64 = 0
    /// Raw bytes consumed by the decoder: the compressed position reached.
    @usableFromInline package private(set) var rawOffset: Int64 = 0
    /// Decoded bytes handed out (or skipped) so far.
    @usableFromInline package private(set) var decodedOffset: Int64 = 0
    /// gzip members started.
    @usableFromInline package private(set) var members = 0
    /// Raw and decoded offsets at the start of the current gzip member: a resume point that needs no
    /// inflate history (re-inflate from here and skip `decoded - memberStartDecodedOffset` bytes).
    @usableFromInline package private(set) var memberStartRawOffset: Int64 = 0
    @usableFromInline package private(set) var memberStartDecodedOffset: Int64 = 0

    /// Opens `path` ("-" means standard input, which is not closed afterwards).
    @usableFromInline package static func open(path: String, options: IngestOptions = IngestOptions()) -> Result<ChunkReader, IngestError> {
        if path == "-" {
            return .success(ChunkReader(fd: 0, path: path, closeOnDeinit: false, chunkSize: options.chunkSize, inflater: options.inflater))
        }
        var fd: Int32
        repeat {
            fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        } while fd < 0 && errno == EINTR
        if fd < 0 {
            return .failure(openError(path: path, errno: errno))
        }
        var st = stat()
        if fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
            close(fd)
            return .failure(openError(path: path, errno: EISDIR))
        }
        return .success(ChunkReader(fd: fd, path: path, closeOnDeinit: true, chunkSize: options.chunkSize, inflater: options.inflater))
    }

    /// Wraps an open descriptor (a pipe, a socket, a file). `path` is only used in errors.
    @usableFromInline package init(
        fd: Int32, path: String, closeOnDeinit: Bool, chunkSize: Int = 256 << 10,
        inflater: GzipInflater.Kind = .preferred
    ) {
        self.fd = fd
        inflaterKind = inflater
        self.path = path
        self.closeOnDeinit = closeOnDeinit
        readSize = max(1, chunkSize)
        inputCapacity = max(16, readSize)
        input = UnsafeMutablePointer<UInt8>.allocate(capacity: inputCapacity)
        input.initialize(repeating: 0, count: inputCapacity)
    }

    deinit {
        input.deallocate()
        if closeOnDeinit { close(fd) }
    }

    /// Reads the first bytes (if not done yet) and decides plain or gzip.
    @usableFromInline package func detect() -> IngestError? {
        if sniffed {
            if case .failed(let e)? = terminal { return e }
            return nil
        }
        sniffed = true
        while inEnd - inStart < 2 && !eof {
            if let e = fill() { return fail(e) }
        }
        isCompressed = inEnd - inStart >= 2 && input[inStart] == 0x1f && input[inStart + 1] == 0x8b
        if isCompressed {
            guard let z = GzipInflater(kind: inflaterKind) else {
                return fail(makeError(
                    .zlibFailed, "\(inflaterKind) could not initialise its inflate state (out of memory?)"))
            }
            inflater = z
            members = 1
        }
        return nil
    }

    /// Writes up to `capacity` (> 0) decoded bytes to `out`.
    @usableFromInline package func read(into out: UnsafeMutablePointer<UInt8>, capacity: Int) -> Chunk {
        precondition(capacity > 0, "ChunkReader.read needs room for at least one byte")
        if let t = terminal { return t }
        if let e = deferred {
            deferred = nil
            return .failed(fail(e))
        }
        if !sniffed, let e = detect() { return .failed(e) }
        return isCompressed ? readGzip(out, capacity) : readPlain(out, capacity)
    }

    /// Decodes and discards `count` bytes, using `scratch` as the output area (resume at a decoded
    /// offset). Plain regular files are seeked over. Fails with `resume_past_end` if the stream is shorter.
    @usableFromInline package func skip(_ count: Int64, scratch: UnsafeMutablePointer<UInt8>, capacity: Int) -> IngestError? {
        if let e = detect() { return e }
        var remaining = count
        if !isCompressed && remaining > 0 {
            let pending = Int64(inEnd - inStart)
            let fromPending = min(pending, remaining)
            inStart += Int(fromPending)
            rawOffset += fromPending
            decodedOffset += fromPending
            remaining -= fromPending
            var st = stat()
            if remaining > 0 && !eof && fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG {
                let here = lseek(fd, 0, SEEK_CUR)
                if here >= 0 && Int64(st.st_size) - Int64(here) >= remaining
                    && lseek(fd, off_t(remaining), SEEK_CUR) >= 0
                {
                    bytesRead += remaining
                    rawOffset += remaining
                    decodedOffset += remaining
                    remaining = 0
                }
            }
        }
        while remaining > 0 {
            switch read(into: scratch, capacity: Int(min(Int64(capacity), remaining))) {
            case .data(let n): remaining -= Int64(n)
            case .failed(let e): return e
            case .end:
                return makeError(
                    .resumePastEnd,
                    "cannot resume at decoded offset \(count): the stream ends after \(decodedOffset) bytes "
                        + "(the file was truncated or replaced); start it from the beginning")
            }
        }
        return nil
    }

    /// For following a growing file: after `.end`, or a `gzip_truncated` failure (EOF inside a member),
    /// forget the end of input so the next `read` asks the descriptor again. The inflate state and any
    /// partial member are kept, so a member completed later decodes as if it had never been cut; a new
    /// member appended after a clean end is picked up. Do not call `LineFramer.finish` in between.
    /// Returns false, changing nothing, after any other failure.
    @discardableResult
    package func continueAfterEOF() -> Bool {
        switch terminal {
        case nil, .end?: break
        case .failed(let e)? where e.code == .gzipTruncated: break
        default: return false
        }
        terminal = nil
        eof = false
        // Nothing decoded yet (an empty or one-byte file): sniff again once more bytes exist.
        if !isCompressed && decodedOffset == 0 { sniffed = false }
        return true
    }

    // MARK: - plain

    private func readPlain(_ out: UnsafeMutablePointer<UInt8>, _ capacity: Int) -> Chunk {
        let pending = inEnd - inStart
        if pending > 0 {
            let n = min(pending, capacity)
            out.update(from: input + inStart, count: n)
            inStart += n
            rawOffset += Int64(n)
            decodedOffset += Int64(n)
            return .data(n)
        }
        if eof { return finish() }
        let want = min(capacity, readSize)
        while true {
            let r = Glibc.read(fd, out, want)
            if r > 0 {
                bytesRead += Int64(r)
                rawOffset += Int64(r)
                decodedOffset += Int64(r)
                return .data(r)
            }
            if r == 0 {
                eof = true
                return finish()
            }
            if errno != EINTR { return .failed(fail(readError(errno))) }
        }
    }

    // MARK: - gzip

    private func readGzip(_ out: UnsafeMutablePointer<UInt8>, _ capacity: Int) -> Chunk {
        guard let z = inflater else { return .failed(fail(makeError(.zlibFailed, "no inflate state"))) }
        while true {
            if memberEnded {
                // Skip NUL padding, then expect the magic of another member or the end.
                while true {
                    while inStart < inEnd && input[inStart] == 0 {
                        inStart += 1
                        rawOffset += 1
                    }
                    if inStart < inEnd { break }
                    if eof { return finish() }
                    if let e = fill() { return .failed(fail(e)) }
                }
                while inEnd - inStart < 2 && !eof {
                    if let e = fill() { return .failed(fail(e)) }
                }
                if inEnd - inStart == 1 && input[inStart] == 0x1f {
                    // A member header cut after its first byte (e.g. still being appended). The byte is
                    // kept so that `continueAfterEOF` can pick the member up.
                    return .failed(fail(makeError(
                        .gzipTruncated,
                        "unexpected end of file after the first byte of a new gzip member at byte \(rawOffset): "
                            + "the file is cut short or still being appended; everything before it was processed. "
                            + "Retry when the writer has finished")))
                }
                guard inEnd - inStart >= 2 && input[inStart] == 0x1f && input[inStart + 1] == 0x8b else {
                    return .failed(fail(trailingGarbageError()))
                }
                z.reset()
                memberEnded = false
                members += 1
                memberStartRawOffset = rawOffset
                memberStartDecodedOffset = decodedOffset
            }
            if inStart == inEnd && !eof {
                if let e = fill() { return .failed(fail(e)) }
            }
            let step = z.step(input + inStart, inEnd - inStart, out, capacity)
            inStart += step.consumed
            rawOffset += Int64(step.consumed)
            decodedOffset += Int64(step.produced)
            var problem: IngestError?
            switch step.status {
            case .memberEnd:
                memberEnded = true
                if step.consumed == 0 && step.produced == 0 {
                    // Only possible if the stream was not restarted: never spin on it.
                    problem = makeError(.zlibFailed, "\(inflaterKind) did not start the next gzip member; report this as a bug")
                }
            case .ok, .noProgress:
                if step.produced == 0 && inStart == inEnd && eof {
                    problem = truncatedError()
                } else if step.produced == 0 && step.consumed == 0 && inStart < inEnd {
                    // Cannot happen with output room; guard against spinning.
                    problem = makeError(.gzipCorrupt, "\(inflaterKind) made no progress on the gzip data; the file is damaged")
                }
            case .dataError(let msg):
                problem = dataError(msg)
            case .failed(let msg):
                problem = makeError(.zlibFailed, "\(inflaterKind) failed while inflating (\(msg)); try again with more memory")
            }
            if let p = problem {
                if step.produced > 0 {
                    deferred = p
                    return .data(step.produced)
                }
                return .failed(fail(p))
            }
            if step.produced > 0 { return .data(step.produced) }
        }
    }

    // MARK: - helpers

    /// Appends one read(2) of raw bytes to the pending input, compacting it first.
    private func fill() -> IngestError? {
        if inStart == inEnd {
            inStart = 0
            inEnd = 0
        } else if inStart > 0 {
            (input).update(from: input + inStart, count: inEnd - inStart)
            inEnd -= inStart
            inStart = 0
        }
        if inEnd == inputCapacity { return nil }
        while true {
            let r = Glibc.read(fd, input + inEnd, min(readSize, inputCapacity - inEnd))
            if r > 0 {
                inEnd += r
                bytesRead += Int64(r)
                return nil
            }
            if r == 0 {
                eof = true
                return nil
            }
            if errno != EINTR { return readError(errno) }
        }
    }

    private func finish() -> Chunk {
        terminal = .end
        return .end
    }

    private func fail(_ e: IngestError) -> IngestError {
        terminal = .failed(e)
        return e
    }

    private func makeError(_ code: IngestError.Code, _ message: String) -> IngestError {
        IngestError(code: code, path: path, compressedOffset: rawOffset, decodedOffset: decodedOffset, message: message)
    }

    private static func openError(path: String, errno e: Int32) -> IngestError {
        let advice: String
        switch e {
        case ENOENT: advice = "check the path (a rotated file may have been removed)"
        case EACCES, EPERM: advice = "check its permissions; the reader needs read access"
        case EISDIR: advice = "give a log file, not a directory"
        default: advice = "check that it is a readable file"
        }
        return IngestError(
            code: .cannotOpen, path: path, message: "cannot open: \(String(cString: strerror(e))); \(advice)")
    }

    private func readError(_ e: Int32) -> IngestError {
        makeError(
            .readFailed,
            "read failed: \(String(cString: strerror(e))); nothing after byte \(rawOffset) was processed, "
                + "check the device or file system and read it again")
    }

    private var memberDescription: String {
        "the gzip member starting at byte \(memberStartRawOffset) (member \(members))"
    }

    private func truncatedError() -> IngestError {
        makeError(
            .gzipTruncated,
            "unexpected end of file inside \(memberDescription), before its trailer: the file is cut short or "
                + "still being written; complete lines before the cut were processed, the partial last line was "
                + "not. Retry when the writer has finished, or restore a complete copy")
    }

    private func dataError(_ zmsg: String) -> IngestError {
        let decodedInMember = decodedOffset - memberStartDecodedOffset
        switch zmsg {
        case "incorrect data check":
            return makeError(
                .gzipCRC,
                "CRC-32 mismatch in \(memberDescription) (\(inflaterKind): \(zmsg)); its \(decodedInMember) decoded bytes were "
                    + "processed but may be corrupt. Treat findings from it as suspect and restore a good copy")
        case "incorrect length check":
            return makeError(
                .gzipLength,
                "length (ISIZE) mismatch in \(memberDescription) (\(inflaterKind): \(zmsg)); its \(decodedInMember) decoded "
                    + "bytes were processed but may be incomplete. Restore a good copy of the file")
        default:
            return makeError(
                .gzipCorrupt,
                "corrupt gzip data in \(memberDescription) (\(inflaterKind): \(zmsg)); the \(decodedInMember) bytes decoded "
                    + "from it before the damage were processed, the rest of the file was skipped. Restore a good copy")
        }
    }

    private func trailingGarbageError() -> IngestError {
        while inEnd - inStart < 8 && !eof {
            if fill() != nil { break }
        }
        let n = min(8, inEnd - inStart)
        var hex = ""
        for i in 0..<n {
            let b = input[inStart + i]
            hex += (i == 0 ? "" : " ") + (b < 16 ? "0" : "") + String(b, radix: 16)
        }
        return makeError(
            .gzipTrailingGarbage,
            "trailing garbage after the last gzip member (first bytes: \(hex)); everything before it was decoded "
                + "and processed. Recompress the file or strip the extra bytes to silence this")
    }
}
