import CZlib
import Foundation
import Testing
import FlowhoundCore
@testable import FlowhoundIngest

/// One line as seen by the sink.
struct SeenLine: Equatable, CustomStringConvertible {
    var bytes: [UInt8]
    var number: Int64
    var offset: Int64
    var description: String { "#\(number)@\(offset) \(String(decoding: bytes, as: UTF8.self).debugDescription)" }
}

/// Records every line (tests only; the real sinks never copy).
struct CollectSink: LineSink {
    var lines: [SeenLine] = []
    /// Every delivered line had 64 readable bytes after it; this sums them so the read is not optimised away.
    var overReadSum = 0
    mutating func line(_ bytes: UnsafePointer<UInt8>, _ count: Int, number: Int64, offset: Int64) {
        lines.append(SeenLine(bytes: Array(UnsafeBufferPointer(start: bytes, count: count)), number: number, offset: offset))
        for i in 0..<64 { overReadSum &+= Int(bytes[count + i]) }
    }
}

/// The expected framing of `data`, written the slow obvious way.
func modelLines(
    _ data: [UInt8], maxLine: Int = 1 << 20, from start: Int = 0, firstNumber: Int64 = 1, deliverPartial: Bool = true
) -> (lines: [SeenLine], overlong: Int64, dropped: Int64) {
    var out: [SeenLine] = []
    var overlong: Int64 = 0
    var dropped: Int64 = 0
    var number = firstNumber
    var i = start
    while i < data.count {
        var j = i
        while j < data.count && data[j] != 10 { j += 1 }
        if j == data.count && !deliverPartial { break }
        var content = Array(data[i..<j])
        if content.last == 13 { content.removeLast() }
        if content.count > maxLine {
            overlong += 1
            dropped += Int64(content.count - maxLine)
            content = Array(content[0..<maxLine])
        }
        out.append(SeenLine(bytes: content, number: number, offset: Int64(i)))
        number += 1
        i = j + 1
    }
    return (out, overlong, dropped)
}

/// Deterministic awkward text: CRLF, empty lines, NUL, invalid UTF-8, varied lengths.
func awkwardText(lines: Int, seed: UInt64 = 42, finalNewline: Bool = true) -> [UInt8] {
    var state = seed
    func next() -> UInt64 {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return state >> 33
    }
    var out: [UInt8] = []
    for n in 0..<lines {
        let kind = next() % 10
        switch kind {
        case 0: break  // empty line
        case 1: out += Array("line \(n) with NUL\u{0} inside".utf8)
        case 2: out += [0xff, 0xfe, 0xc3, 0x28] + Array(" invalid utf8 \(n)".utf8)
        default:
            let len = Int(next() % 120)
            for _ in 0..<len { out.append(UInt8(32 + next() % 95)) }
        }
        if kind == 3 || kind == 4 { out.append(13) }  // CRLF
        if n < lines - 1 || finalNewline { out.append(10) }
    }
    return out
}

func numberedLines(_ prefix: String, _ count: Int) -> [UInt8] {
    var out: [UInt8] = []
    for i in 1...count { out += Array("\(prefix) line \(i) of \(count) some padding text\n".utf8) }
    return out
}

/// gzip (RFC 1952) via zlib deflate with windowBits 31.
func gzipped(_ data: [UInt8], level: Int32 = 6) -> [UInt8] {
    let s = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    s.initialize(to: z_stream())
    defer {
        deflateEnd(s)
        s.deinitialize(count: 1)
        s.deallocate()
    }
    let rc = deflateInit2_(s, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    precondition(rc == Z_OK)
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    var input = data
    input.withUnsafeMutableBufferPointer { inp in
        s.pointee.next_in = inp.baseAddress
        s.pointee.avail_in = UInt32(inp.count)
        while true {
            let r: Int32 = chunk.withUnsafeMutableBufferPointer { o in
                s.pointee.next_out = o.baseAddress
                s.pointee.avail_out = UInt32(o.count)
                return deflate(s, Z_FINISH)
            }
            let produced = chunk.count - Int(s.pointee.avail_out)
            out += chunk[0..<produced]
            if r == Z_STREAM_END { break }
            precondition(r == Z_OK || r == Z_BUF_ERROR)
        }
    }
    return out
}

final class TempDir {
    let url: URL
    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("fh-ingest-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    @discardableResult
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = url.appendingPathComponent(name).path
        precondition(FileManager.default.createFile(atPath: p, contents: Data(bytes)))
        return p
    }
}

/// Ingests `path` twice with the gzip decoder `kind`, on one thread and with gzip inflated on a second thread
/// (`decodeOnSecondThread`), and records an issue unless both give the same lines, summary and error. Returns the
/// one-thread result.
func ingest(
    _ path: String, _ kind: GzipInflater.Kind = .preferred, sourceLocation: SourceLocation = #_sourceLocation,
    _ configure: (inout IngestOptions) -> Void = { _ in }
) -> (IngestSummary, IngestError?, CollectSink) {
    var options = IngestOptions()
    options.inflater = kind
    configure(&options)
    var sink = CollectSink()
    let (summary, error) = ingestLines(path: path, options: options, into: &sink)
    options.decodeOnSecondThread = true
    var threaded = CollectSink()
    let (summary2, error2) = ingestLines(path: path, options: options, into: &threaded)
    #expect(threaded.lines == sink.lines, "lines differ with the inflate thread", sourceLocation: sourceLocation)
    #expect(summary2 == summary, "summary differs with the inflate thread", sourceLocation: sourceLocation)
    #expect(error2 == error, "error differs with the inflate thread", sourceLocation: sourceLocation)
    return (summary, error, sink)
}

/// Feeds `bytes` through a pipe (written by another thread, in pieces of `piece` bytes with a pause after
/// the first, so the reader sees short reads) and ingests the read end.
func ingestThroughPipe(_ bytes: [UInt8], piece: Int = 1, options: IngestOptions = IngestOptions())
    -> (IngestSummary, IngestError?, CollectSink)
{
    var fds: [Int32] = [0, 0]
    precondition(pipe(&fds) == 0)
    let writeFD = fds[1]
    let writer = Thread {
        var sent = 0
        var first = true
        while sent < bytes.count {
            let n = first ? min(piece, bytes.count - sent) : bytes.count - sent
            let w = bytes[sent..<(sent + n)].withUnsafeBytes { Glibc.write(writeFD, $0.baseAddress, n) }
            if w <= 0 { break }
            sent += w
            if first {
                usleep(20_000)
                first = false
            }
        }
        close(writeFD)
    }
    writer.start()
    var sink = CollectSink()
    let (summary, error) = ingestLines(fd: fds[0], path: "-", options: options, into: &sink)
    close(fds[0])
    return (summary, error, sink)
}
