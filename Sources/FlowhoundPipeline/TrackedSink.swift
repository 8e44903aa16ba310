import FlowhoundCore
import FlowhoundDetect
import FlowhoundIngest
import FlowhoundParse
import FlowhoundSinks
import FlowhoundState

/// Raw line output (`--emit-raw`): every new line as read, one per line, instead of detection. It is what
/// the rotation harness checks, and a way to use flowhound as a rotation-proof `tail`.
final class RawLineOutput {
    private var fd: Int32
    private let owns: Bool
    private var buffer: [UInt8] = []
    private(set) var failure: Diagnostic?
    private(set) var lines: Int64 = 0
    let destination: String

    init(path: String?) throws(Diagnostic) {
        if let path {
            let d = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
            if d < 0 {
                throw Diagnostic(
                    code: "cannot_open_output", "cannot open output: \(String(cString: strerror(errno)))",
                    at: FileLocation(path: path))
            }
            fd = d
            owns = true
            destination = path
        } else {
            fd = 1
            owns = false
            destination = "<stdout>"
        }
        buffer.reserveCapacity(256 << 10)
    }

    deinit {
        flush()
        if owns { close(fd) }
    }

    func write(_ p: UnsafePointer<UInt8>, _ n: Int) {
        buffer.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        buffer.append(10)
        lines += 1
        if buffer.count >= 256 << 10 { flush() }
    }

    func flush() {
        var off = 0
        while off < buffer.count && failure == nil {
            let n = buffer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = Diagnostic(
                    code: "write_failed", "cannot write: \(String(cString: strerror(errno)))",
                    at: FileLocation(path: destination))
            } else {
                off += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// `flush`, then fsync when writing to a file.
    func sync() {
        flush()
        if owns {
            fsync(fd)
            syncedFile = SyncedFile.of(fd: fd, path: destination)
        }
    }

    /// The output file's identity and length after the last `sync` (nil for standard output).
    private(set) var syncedFile: SyncedFile?

    /// Writes what is buffered, then opens the path again (SIGHUP after logrotate moved the file away).
    func reopen() throws(Diagnostic) {
        guard owns else { return }
        flush()
        let d = open(destination, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        if d < 0 {
            throw Diagnostic(
                code: "cannot_open_output", "cannot reopen output: \(String(cString: strerror(errno))); still writing to the old file",
                at: FileLocation(path: destination))
        }
        close(fd)
        fd = d
    }
}

/// Lines that detector windows may still need after this run (see `CarriedLine`), bounded by count and bytes;
/// the oldest go first and are counted. Pruned to the detection horizon when the run ends.
final class CarryJournal {
    struct Entry {
        var line: CarriedLine
        var time: Int64
    }

    let maxLines: Int
    let maxBytes: Int
    private(set) var entries: [Entry] = []
    private var head = 0
    private var bytes = 0
    private(set) var headers: [String: [CarriedLine]] = [:]
    /// Lines dropped because a cap was reached.
    private(set) var dropped = 0

    init(maxLines: Int = 50_000, maxBytes: Int = 16 << 20) {
        self.maxLines = max(1, maxLines)
        self.maxBytes = max(1, maxBytes)
    }

    func add(_ l: CarriedLine, time: Int64) {
        entries.append(Entry(line: l, time: time))
        bytes += l.bytes.count
        while entries.count - head > maxLines || bytes > maxBytes {
            bytes -= entries[head].line.bytes.count
            head += 1
            dropped += 1
        }
        if head > 4096 && head * 2 > entries.count {
            entries.removeFirst(head)
            head = 0
        }
    }

    func setHeader(_ lines: [CarriedLine], for path: String) {
        if !lines.isEmpty { headers[path] = lines }
    }

    /// The lines to carry: those at or after `cutoff` (log time), each path's header lines first.
    func carried(from cutoff: Int64) -> [CarriedLine] {
        var out: [CarriedLine] = []
        var lastPath: String?
        for e in entries[head...] where e.time >= cutoff {
            if e.line.path != lastPath {
                lastPath = e.line.path
                out += headers[e.line.path] ?? []
            }
            out.append(e.line)
        }
        return out
    }
}

/// The line consumer of `scan --incremental` and `tail` for one file: detection (or raw output), the offset
/// marker of the last delivered bytes, the Zeek header, and the lines to carry to the next run.
struct TrackedSink: LineSink {
    var scan: ScanSink?
    let raw: RawLineOutput?
    let journal: CarryJournal?
    let correlations: CorrelationEngine?
    let path: String
    /// Read without emitting anything (`--from end` on a first run).
    var discard = false
    var marker: MarkerTail
    var lines: Int64 = 0
    var capturingHeader = true
    var header: [CarriedLine] = []
    var headerBytes = 0

    init(
        scan: ScanSink?, raw: RawLineOutput?, journal: CarryJournal?, correlations: CorrelationEngine?,
        path: String, marker: [UInt8]
    ) {
        self.scan = scan
        self.raw = raw
        self.journal = journal
        self.correlations = correlations
        self.path = path
        self.marker = MarkerTail(marker)
    }

    mutating func line(_ bytes: UnsafePointer<UInt8>, _ count: Int, number: Int64, offset: Int64) {
        let term = bytes[count] == 10 ? 1 : (bytes[count] == 13 && bytes[count + 1] == 10 ? 2 : 0)
        marker.append(bytes, count + term)
        lines += 1
        if discard { return }
        if let raw {
            raw.write(bytes, count)
            return
        }
        guard scan != nil else { return }
        if capturingHeader {
            if count > 0 && bytes[0] == 35 {
                if headerBytes < 64 << 10 {
                    header.append(
                        CarriedLine(
                            path: path, line: number, offset: offset, format: "", header: true,
                            bytes: Array(UnsafeBufferPointer(start: bytes, count: count))))
                    headerBytes += count
                }
            } else if count > 0 {
                capturingHeader = false
            }
        }
        let before = scan!.events
        scan!.line(bytes, count, number: number, offset: offset)
        guard let journal, scan!.events > before, let t = scan!.record.timestamp else { return }
        let s = scan!
        let keep = s.feedsBehaviour || (correlations.map { c in s.matches.contains { c.isReferenced(ruleIndex: $0) } } ?? false)
        if keep {
            journal.add(
                CarriedLine(
                    path: path, line: number, offset: offset, format: s.formatName ?? "", header: false,
                    bytes: Array(UnsafeBufferPointer(start: bytes, count: count))),
                time: t.nanoseconds)
        }
    }

    /// Feeds header lines read from the start of a file that is resumed further on (Zeek TSV needs them).
    mutating func feedHeader(_ lines: [(number: Int64, offset: Int64, bytes: [UInt8])]) {
        guard scan != nil, !discard else { return }
        for l in lines {
            var b = l.bytes
            b.append(contentsOf: [UInt8](repeating: 0, count: 72))
            b.withUnsafeBufferPointer { p in
                scan!.line(p.baseAddress!, l.bytes.count, number: l.number, offset: l.offset)
            }
            header.append(CarriedLine(path: path, line: l.number, offset: l.offset, format: "", header: true, bytes: l.bytes))
        }
        capturingHeader = false
    }

    func finish() { scan?.finish() }
}

/// Reads the `#` lines at the top of a file (at most 64 KiB), for resuming a Zeek TSV log in the middle.
func readHeaderLines(path: String) -> [(number: Int64, offset: Int64, bytes: [UInt8])] {
    guard case .success(let reader) = ChunkReader.open(path: path) else { return [] }
    var out: [(Int64, Int64, [UInt8])] = []
    let cap = 64 << 10
    var buf = [UInt8](repeating: 0, count: cap)
    var have = 0
    buf.withUnsafeMutableBufferPointer { p in
        while have < cap {
            guard case .data(let n) = reader.read(into: p.baseAddress! + have, capacity: cap - have) else { break }
            have += n
            // stop once a complete non-# line is in the buffer
            var start = 0
            var done = false
            for i in 0..<have where p[i] == 10 {
                if p[start] != 35 {
                    done = true
                    break
                }
                start = i + 1
            }
            if done { break }
        }
    }
    var start = 0
    var number: Int64 = 1
    for i in 0..<have where buf[i] == 10 {
        guard buf[start] == 35 else { break }
        var end = i
        if end > start && buf[end - 1] == 13 { end -= 1 }
        out.append((number, Int64(start), Array(buf[start..<end])))
        number += 1
        start = i + 1
    }
    return out.map { (number: $0.0, offset: $0.1, bytes: $0.2) }
}
