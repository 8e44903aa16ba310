import FlowhoundCore

/// Receives decoded lines. Implement it on a struct and call `ingestLines` with the concrete type so the
/// per-line call is specialised and inlined (no existential, no closure).
@usableFromInline package protocol LineSink {
    /// One complete line, terminator (`\n` or `\r\n`) removed. The bytes are only valid during the call.
    /// At least 64 bytes after `bytes + count` are readable (word-at-a-time loads may over-read).
    /// `number` is 1-based; `offset` is the byte offset of the line start in the decompressed stream.
    mutating func line(_ bytes: UnsafePointer<UInt8>, _ count: Int, number: Int64, offset: Int64)
}

@usableFromInline package struct IngestOptions: Sendable {
    /// Longest line delivered. Longer lines are cut to this many bytes, delivered once, and counted in
    /// `IngestSummary.overlongLines`; the rest of such a line is dropped (never buffered).
    @usableFromInline package var maxLineLength: Int = 1 << 20
    /// Size of each read(2) from the file (raw bytes; compressed bytes for gzip).
    @usableFromInline package var chunkSize: Int = 256 << 10
    /// Most decoded bytes produced per step (the inflate output / plain read window).
    @usableFromInline package var outputChunkSize: Int = 1 << 20
    /// Decoded byte offset to start at (resume). Bytes before it are decoded and discarded. It should be
    /// a line start (the `resumeOffset` of an earlier summary); otherwise the first line is the tail of one.
    @usableFromInline package var startOffset: Int64 = 0
    /// Number given to the first line delivered (the `lastLine + 1` of an earlier run when resuming).
    @usableFromInline package var firstLineNumber: Int64 = 1
    /// gzip decoder: ISA-L when the build has it (unless FLOWHOUND_INFLATER=zlib), else zlib.
    @usableFromInline package var inflater: GzipInflater.Kind = .preferred
    /// gzip input is inflated on a second thread while the caller's thread frames and consumes the lines
    /// (`ingestLinesReadingAhead`); plain input is always read on the caller's thread.
    @usableFromInline package var decodeOnSecondThread = false

    @usableFromInline package init() {}
}

@usableFromInline package struct IngestSummary: Sendable, Equatable {
    /// The input was gzip (detected by its magic bytes).
    @usableFromInline package var compressed = false
    /// Raw (on-disk / on-pipe) bytes consumed, including any skipped prefix.
    @usableFromInline package var bytesRead: Int64 = 0
    /// Decoded bytes produced, including the skipped prefix (`startOffset`).
    @usableFromInline package var bytesDecoded: Int64 = 0
    /// Lines delivered to the sink.
    @usableFromInline package var lines: Int64 = 0
    /// Lines longer than `maxLineLength` (delivered cut).
    @usableFromInline package var overlongLines: Int64 = 0
    /// Bytes dropped from overlong lines.
    @usableFromInline package var overlongBytesDropped: Int64 = 0
    /// An unterminated last line held back because the stream ended in error (0 or 1).
    @usableFromInline package var partialLinesWithheld: Int64 = 0
    /// gzip members started (0 for plain input).
    @usableFromInline package var members: Int = 0
    /// Number of the last line delivered (`firstLineNumber - 1` if none).
    @usableFromInline package var lastLine: Int64 = 0
    /// Decoded offset just past the last delivered line and its terminator: where a later run resumes.
    @usableFromInline package var resumeOffset: Int64 = 0

    @usableFromInline package init() {}
}

/// Why reading stopped early. Everything decoded before the problem has already been delivered.
@usableFromInline package struct IngestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable snake_case codes.
    @usableFromInline package enum Code: String, Sendable, CaseIterable {
        case cannotOpen = "cannot_open"
        case readFailed = "read_failed"
        case gzipTruncated = "gzip_truncated"
        case gzipCRC = "gzip_crc"
        case gzipLength = "gzip_length"
        case gzipCorrupt = "gzip_corrupt"
        case gzipTrailingGarbage = "gzip_trailing_garbage"
        /// zlib could not start (out of memory, library mismatch).
        case zlibFailed = "zlib_failed"
        /// `startOffset` lies beyond the end of the decoded stream.
        case resumePastEnd = "resume_past_end"
    }

    @usableFromInline package var code: Code
    /// As given by the caller ("-" for stdin).
    @usableFromInline package var path: String
    /// Raw byte offset in the file where the problem was detected (equals `decodedOffset` for plain input).
    @usableFromInline package var compressedOffset: Int64
    /// Decoded bytes produced when the problem was detected.
    @usableFromInline package var decodedOffset: Int64
    /// Number of the last line delivered before the problem (0 if none).
    @usableFromInline package var line: Int64
    @usableFromInline package var message: String

    @usableFromInline package init(
        code: Code, path: String, compressedOffset: Int64 = 0, decodedOffset: Int64 = 0, line: Int64 = 0,
        message: String
    ) {
        self.code = code
        self.path = path
        self.compressedOffset = compressedOffset
        self.decodedOffset = decodedOffset
        self.line = line
        self.message = message
    }

    /// "-" is shown as `<stdin>`.
    @usableFromInline package var displayPath: String { path == "-" ? "<stdin>" : path }

    /// The same problem as a core diagnostic: `path:@offset: error[code]: message` (no offset for `cannot_open`).
    package var diagnostic: Diagnostic {
        let offset: Int64? = code == .cannotOpen ? nil : compressedOffset
        return Diagnostic(
            .error, code: code.rawValue, message, at: FileLocation(path: displayPath, byteOffset: offset))
    }

    @usableFromInline package var description: String { diagnostic.description }
}
