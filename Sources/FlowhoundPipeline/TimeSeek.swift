import FlowhoundCore
import FlowhoundIngest
import FlowhoundParse

/// Where a file without saved position starts for `scan --incremental --since TIME` and `tail --from TIME`
/// (ingest.md item 23): at the first line whose log time is at or after TIME.
///
/// A plain file is binary-searched on line timestamps (`probe(offset)` = the time of the first line with a
/// time that starts at or after `offset`; about log2(size) probes of one line each), so a multi-gigabyte log
/// costs a few dozen reads, plus one pass counting the newlines before the start for line numbers. A `.gz` cannot
/// be entered in the middle: it is decoded from the start and scanned forward. Logs are assumed to be in time
/// order; a line out of order after the start is read like any other. The time of a line comes from the
/// decoder of its format (sniffed from the first line, or `--format`); syslog stamps without a year take it
/// from the file's modification time, in `zone`.
enum TimeSeek {
    struct Start: Equatable {
        /// Decoded offset of the first line at or after the time.
        var offset: Int64
        /// Lines before it.
        var linesBefore: Int64
        /// The `FileIdentity.markerLength` decoded bytes before it.
        var marker: [UInt8]
    }

    /// The start of `path` for `since`, or a diagnostic (format unknown, no time in the file, unreadable).
    static func find(
        path: String, identity: FileIdentity, since: Timestamp, zone: LogTimeZone, forcedFormat: LogFormat?,
        maxLineLength: Int
    ) -> Result<Start, Diagnostic> {
        var context = DecoderContext(timeZone: zone)
        context.referenceTime = Timestamp(nanoseconds: identity.mtime)
        if identity.compressed {
            return forward(path: path, since: since, context: context, forcedFormat: forcedFormat, maxLineLength: maxLineLength)
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            return .failure(
                Diagnostic(code: "cannot_open", "cannot open: \(String(cString: strerror(errno)))", at: FileLocation(path: path)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            return .failure(Diagnostic(code: "cannot_read", "cannot stat: \(String(cString: strerror(errno)))", at: FileLocation(path: path)))
        }
        let size = Int64(st.st_size)
        let file = PlainLines(fd: fd, size: size, maxLineLength: maxLineLength)
        guard let clock = LineClock(path: path, firstLines: file, context: context, forcedFormat: forcedFormat, maxLineLength: maxLineLength)
        else {
            return .failure(noFormat(path))
        }
        // the first line with a time at or after `offset`: (its start, its time), nil when there is none
        func probe(_ offset: Int64) -> (Int64, Timestamp)? {
            var p = offset == 0 ? 0 : file.nextLineStart(from: offset - 1)
            var tries = 0
            while let (line, next) = file.line(at: p), tries < 4096 {
                if let t = clock.time(line) { return (p, t) }
                p = next
                tries += 1
            }
            return nil
        }
        var lo: Int64 = 0
        var hi: Int64 = size
        var sawTime = false
        while lo < hi {
            let mid = lo + (hi - lo) / 2
            if let (_, t) = probe(mid) {
                sawTime = true
                if t < since { lo = mid + 1 } else { hi = mid }
            } else {
                hi = mid
            }
        }
        let start: Int64
        if let (s, _) = probe(lo) {
            start = s
        } else {
            if !sawTime && probe(0) == nil { return .failure(noTime(path)) }
            // every timed line is before `since`: start after the last complete line
            start = file.endOfCompleteLines()
        }
        return .success(
            Start(
                offset: start, linesBefore: file.newlines(before: start),
                marker: FileProbe.plainMarker(fd: fd, before: start) ?? []))
    }

    static func noFormat(_ path: String) -> Diagnostic {
        Diagnostic(
            .warning, code: "since_no_format",
            "cannot tell the format of this file to find a time in it; reading it from the start (give --format)",
            at: FileLocation(path: path))
    }

    static func noTime(_ path: String) -> Diagnostic {
        Diagnostic(
            .warning, code: "since_no_time", "no line with a time in this file; reading it from the start",
            at: FileLocation(path: path))
    }

    /// A `.gz` (or any stream): decoded from the start, the first line at or after `since`.
    private static func forward(
        path: String, since: Timestamp, context: DecoderContext, forcedFormat: LogFormat?, maxLineLength: Int
    ) -> Result<Start, Diagnostic> {
        guard case .success(let reader) = ChunkReader.open(path: path) else {
            return .failure(Diagnostic(code: "cannot_open", "cannot open", at: FileLocation(path: path)))
        }
        var clock: LineClock?
        var buf: [UInt8] = []
        var base: Int64 = 0  // decoded offset of buf[0]
        var lines: Int64 = 0
        var before: [UInt8] = []  // decoded bytes before buf[0] (at most the marker length)
        var sawTime = false
        let chunk = UnsafeMutablePointer<UInt8>.allocate(capacity: 256 << 10)
        defer { chunk.deallocate() }
        func marker(at i: Int) -> [UInt8] {
            let m = FileIdentity.markerLength
            let fromBuf = Array(buf[max(0, i - m)..<i])
            return Array((before + fromBuf).suffix(m))
        }
        while true {
            let r = reader.read(into: chunk, capacity: 256 << 10)
            guard case .data(let n) = r else {
                if case .failed(let e) = r, e.code != .gzipTruncated { return .failure(e.diagnostic) }
                break
            }
            buf.append(contentsOf: UnsafeBufferPointer(start: chunk, count: n))
            var s = 0
            while let nl = buf[s...].firstIndex(of: 10) {
                var end = nl
                if end > s && buf[end - 1] == 13 { end -= 1 }
                let line = Array(buf[s..<min(end, s + maxLineLength)])
                if clock == nil && !line.allSatisfy({ $0 == 32 || $0 == 9 }) {
                    clock = LineClock(firstLine: line, path: path, context: context, forcedFormat: forcedFormat, maxLineLength: maxLineLength)
                    if clock == nil { return .failure(noFormat(path)) }
                }
                if let clock, let t = clock.time(line) {
                    sawTime = true
                    if t >= since { return .success(Start(offset: base + Int64(s), linesBefore: lines, marker: marker(at: s))) }
                }
                lines += 1
                s = nl + 1
            }
            before = marker(at: s)
            buf.removeFirst(s)
            base += Int64(s)
        }
        if !sawTime { return .failure(noTime(path)) }
        return .success(Start(offset: base, linesBefore: lines, marker: before))
    }
}

/// The complete lines of a plain file, read with pread (no shared file position).
struct PlainLines {
    let fd: Int32
    let size: Int64
    let maxLineLength: Int

    /// The line starting at `offset` (without its newline, cut at `maxLineLength`) and where the next one
    /// starts; nil at the end or for a last line without newline.
    func line(at offset: Int64) -> ([UInt8], Int64)? {
        var out: [UInt8] = []
        var p = offset
        var chunk = [UInt8](repeating: 0, count: 4096)
        while p < size {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(p)) }
            if n <= 0 { return nil }
            if let i = chunk[0..<n].firstIndex(of: 10) {
                if out.count < maxLineLength { out += chunk[0..<min(i, maxLineLength - out.count)] }
                if out.last == 13 { out.removeLast() }
                return (out, p + Int64(i) + 1)
            }
            if out.count < maxLineLength { out += chunk[0..<min(n, maxLineLength - out.count)] }
            p += Int64(n)
        }
        return nil
    }

    /// The offset just after the first newline at or after `offset` (size when there is none).
    func nextLineStart(from offset: Int64) -> Int64 {
        var p = offset
        var chunk = [UInt8](repeating: 0, count: 4096)
        while p < size {
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(p)) }
            if n <= 0 { break }
            if let i = chunk[0..<n].firstIndex(of: 10) { return p + Int64(i) + 1 }
            p += Int64(n)
        }
        return size
    }

    /// The offset just after the last newline (0 when there is none).
    func endOfCompleteLines() -> Int64 {
        var end = size
        var chunk = [UInt8](repeating: 0, count: 4096)
        while end > 0 {
            let start = max(0, end - 4096)
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Int(end - start), off_t(start)) }
            if n <= 0 { break }
            if let i = chunk[0..<n].lastIndex(of: 10) { return start + Int64(i) + 1 }
            end = start
        }
        return 0
    }

    /// Newlines in the first `offset` bytes (line numbers continue from there).
    func newlines(before offset: Int64) -> Int64 {
        var count: Int64 = 0
        var p: Int64 = 0
        let cap = 1 << 20
        let buf = UnsafeMutableRawPointer.allocate(byteCount: cap, alignment: 16)
        defer { buf.deallocate() }
        while p < offset {
            let n = pread(fd, buf, Int(min(Int64(cap), offset - p)), off_t(p))
            if n <= 0 { break }
            var q = UnsafeRawPointer(buf)
            var left = n
            while left > 0, let hit = memchr(q, 10, left) {
                count += 1
                let used = UnsafeRawPointer(hit) - q + 1
                q += used
                left -= used
            }
            p += Int64(n)
        }
        return count
    }
}

/// The log time of single lines of one file, through the decoder of its format (no detection, no output).
final class LineClock {
    private let decoder: any LineDecoder
    private var record = EventRecord(capacity: 64)
    private var padded: [UInt8] = []

    /// From the first non-blank line (the format is sniffed from it unless forced).
    init?(firstLine: [UInt8], path: String, context: DecoderContext, forcedFormat: LogFormat?, maxLineLength: Int) {
        let format = forcedFormat ?? firstLine.withUnsafeBufferPointer { p in
            FormatSniffer.sniff(p.baseAddress!, p.count, fileName: path)
        }
        guard let format,
            let d = makeDecoder(format: format, fileName: path, requestedFields: [], maxLineLength: maxLineLength, context: context)
        else { return nil }
        decoder = d
    }

    /// From the top of a plain file: the format from its first non-blank line, and a Zeek TSV's `#` header fed.
    convenience init?(path: String, firstLines file: PlainLines, context: DecoderContext, forcedFormat: LogFormat?, maxLineLength: Int) {
        var p: Int64 = 0
        var header: [[UInt8]] = []
        var first: [UInt8]?
        while let (line, next) = file.line(at: p), header.count < 1000 {
            p = next
            if line.allSatisfy({ $0 == 32 || $0 == 9 }) { continue }
            if first == nil { first = line }
            if line.first == 35 { header.append(line) } else { break }
        }
        guard let first else { return nil }
        self.init(firstLine: first, path: path, context: context, forcedFormat: forcedFormat, maxLineLength: maxLineLength)
        for h in header { _ = time(h) }
    }

    /// The time of one line, nil for a header, a malformed line or one without a time.
    func time(_ line: [UInt8]) -> Timestamp? {
        padded.removeAll(keepingCapacity: true)
        padded += line
        padded += [UInt8](repeating: 0, count: 72)
        return padded.withUnsafeBufferPointer { p -> Timestamp? in
            var outcome = DecodeOutcome.schemaChanged
            for _ in 0..<2 where outcome == .schemaChanged {
                record.ensureCapacity(decoder.schema.fieldCount)
                record.reset(fieldCount: decoder.schema.fieldCount)
                outcome = decoder.decode(p.baseAddress!, line.count, into: &record)
            }
            return outcome == .event ? record.timestamp : nil
        }
    }
}
