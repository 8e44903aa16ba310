import FlowhoundCore

/// Reads `path` ("-" = stdin) to the end, feeding every line to `sink`.
///
/// Never throws: returns the summary and the error (if any) that stopped it. An error is returned only
/// after every complete line decoded before it was delivered. When the stream ends in error, an
/// unterminated last line is withheld (`partialLinesWithheld`), except after `gzip_trailing_garbage`,
/// where the members before the garbage were complete and verified, so their last line is delivered.
@inlinable
package func ingestLines<S: LineSink>(
    path: String, options: IngestOptions = IngestOptions(), into sink: inout S
) -> (IngestSummary, IngestError?) {
    switch ChunkReader.open(path: path, options: options) {
    case .success(let reader):
        if options.decodeOnSecondThread && reader.detect() == nil && reader.isCompressed {
            return ingestLinesReadingAhead(from: reader, options: options, into: &sink)
        }
        return ingestLines(from: reader, options: options, into: &sink)
    case .failure(var error):
        var summary = IngestSummary()
        summary.lastLine = options.firstLineNumber - 1
        summary.resumeOffset = options.startOffset
        error.line = summary.lastLine
        return (summary, error)
    }
}

/// Same as `ingestLines(path:)` on an already open descriptor (a pipe, stdin, a socket). The descriptor
/// is not closed. `path` only names it in errors.
@inlinable
package func ingestLines<S: LineSink>(
    fd: Int32, path: String, options: IngestOptions = IngestOptions(), into sink: inout S
) -> (IngestSummary, IngestError?) {
    let reader = ChunkReader(fd: fd, path: path, closeOnDeinit: false, chunkSize: options.chunkSize, inflater: options.inflater)
    return ingestLines(from: reader, options: options, into: &sink)
}

/// The driver: decode chunks from `reader` straight into a `LineFramer` and frame them.
/// `reader` should be fresh (nothing read yet).
@inlinable
package func ingestLines<S: LineSink>(
    from reader: ChunkReader, options: IngestOptions = IngestOptions(), into sink: inout S
) -> (IngestSummary, IngestError?) {
    let framer = LineFramer(options: options)
    var error = reader.detect()
    if error == nil && options.startOffset > 0 {
        error = reader.skip(options.startOffset, scratch: framer.writePointer, capacity: framer.writableCount)
    }
    if error == nil { error = readDirect(reader, framer, into: &sink) }
    return finishIngest(reader: reader, framer: framer, error: error, into: &sink)
}

/// Decodes `reader` straight into `framer` on this thread until the end; the error that stopped it, if any.
@inlinable
package func readDirect<S: LineSink>(_ reader: ChunkReader, _ framer: LineFramer, into sink: inout S) -> IngestError? {
    while true {
        switch reader.read(into: framer.writePointer, capacity: framer.writableCount) {
        case .data(let n): framer.commit(n, into: &sink)
        case .end: return nil
        case .failed(let e): return e
        }
    }
}

/// Delivers the framer's last line as the error allows and builds the summary (shared by both drivers).
@inlinable
package func finishIngest<S: LineSink>(
    reader: ChunkReader, framer: LineFramer, error: IngestError?, into sink: inout S
) -> (IngestSummary, IngestError?) {
    var error = error
    framer.finish(deliverPartial: error == nil || error?.code == .gzipTrailingGarbage, into: &sink)

    var summary = IngestSummary()
    summary.compressed = reader.isCompressed
    summary.bytesRead = reader.bytesRead
    summary.bytesDecoded = reader.decodedOffset
    summary.lines = framer.lines
    summary.overlongLines = framer.overlongLines
    summary.overlongBytesDropped = framer.overlongBytesDropped
    summary.partialLinesWithheld = framer.partialLinesWithheld
    summary.members = reader.members
    summary.lastLine = framer.nextLineNumber - 1
    summary.resumeOffset = framer.resumeOffset
    if var e = error {
        e.line = summary.lastLine
        error = e
    }
    return (summary, error)
}
