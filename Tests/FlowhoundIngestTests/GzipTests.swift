import Foundation
import Testing
@testable import FlowhoundIngest

// Every gzip test runs once per decoder compiled in (zlib always; ISA-L when the build found libisal-dev),
// so both inflate paths must give the same lines, offsets and errors.

/// Options that select one gzip decoder.
func options(_ kind: GzipInflater.Kind) -> IngestOptions {
    var o = IngestOptions()
    o.inflater = kind
    return o
}

@Suite("gzip input")
struct GzipTests {
    static let a = numberedLines("alpha", 1000)
    static let b = numberedLines("bravo", 1000)

    @Test("single member, with exact numbers and offsets", arguments: GzipInflater.Kind.available)
    func singleMember(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let gz = gzipped(GzipTests.a)
        let path = dir.write("a.log.gz", gz)
        let (summary, error, sink) = ingest(path, kind)
        #expect(error == nil)
        #expect(sink.lines == modelLines(GzipTests.a).lines)
        #expect(sink.lines[1] == SeenLine(bytes: Array("alpha line 2 of 1000 some padding text".utf8), number: 2, offset: 39))
        #expect(summary.compressed)
        #expect(summary.members == 1)
        #expect(summary.lines == 1000)
        #expect(summary.bytesRead == Int64(gz.count))
        #expect(summary.bytesDecoded == Int64(GzipTests.a.count))
    }

    @Test("inflating on a second thread: several MiB through a ring of small chunks, lines cut at every size",
          arguments: GzipInflater.Kind.available)
    func inflateThreadRing(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let text = awkwardText(lines: 60_000, seed: 7)
        let path = dir.write("big.log.gz", gzipped(text) + gzipped(GzipTests.b))
        for chunk in [4096, 5003, 1 << 20] {
            // `ingest` compares the one-thread and the two-thread results line by line
            let (summary, error, sink) = ingest(path, kind) { $0.outputChunkSize = chunk }
            #expect(error == nil)
            #expect(sink.lines == modelLines(text + GzipTests.b).lines)
            #expect(summary.members == 2)
        }
    }

    @Test("cat a.gz b.gz gives every line of both, in order", arguments: GzipInflater.Kind.available)
    func multiMember(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let path = dir.write("ab.gz", gzipped(GzipTests.a) + gzipped(GzipTests.b))
        let (summary, error, sink) = ingest(path, kind)
        #expect(error == nil)
        #expect(sink.lines == modelLines(GzipTests.a + GzipTests.b).lines)
        #expect(sink.lines.count == 2000)
        #expect(sink.lines[1000].bytes == Array("bravo line 1 of 1000 some padding text".utf8))
        #expect(summary.members == 2)
    }

    @Test("members made by /bin/gzip (FNAME header) concatenated", arguments: GzipInflater.Kind.available)
    func realGzipTool(kind: GzipInflater.Kind) throws {
        let dir = TempDir()
        let pa = dir.write("a.txt", GzipTests.a)
        let pb = dir.write("b.txt", GzipTests.b)
        var bytes: [UInt8] = []
        for p in [pa, pb] {
            let proc = Process()
            proc.executableURL = URL(fileURLWithPath: "/bin/gzip")
            proc.arguments = ["-c", "-9", p]
            let out = Pipe()
            proc.standardOutput = out
            try proc.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            proc.waitUntilExit()
            #expect(proc.terminationStatus == 0)
            bytes += [UInt8](data)
        }
        #expect(bytes[3] & 0x08 != 0)  // FNAME flag set by gzip for a named file
        let path = dir.write("both.log", bytes)
        let (summary, error, sink) = ingest(path, kind)
        #expect(error == nil)
        #expect(sink.lines == modelLines(GzipTests.a + GzipTests.b).lines)
        #expect(summary.members == 2)
    }

    @Test("every tiny input and output chunk size over awkward multi-member data",
          arguments: GzipInflater.Kind.available, [(1, 1), (2, 3), (3, 7), (5, 2), (7, 5), (4, 64), (64, 1), (100, 1000)])
    func tinyChunks(kind: GzipInflater.Kind, chunks: (Int, Int)) {
        let (input, output) = chunks
        let dir = TempDir()
        let p1 = awkwardText(lines: 150, seed: 1)
        let p2 = awkwardText(lines: 150, seed: 2, finalNewline: false)  // member boundary inside a line
        let p3 = awkwardText(lines: 150, seed: 3)
        let path = dir.write("awk.gz", gzipped(p1) + gzipped([]) + gzipped(p2) + gzipped(p3))
        let (summary, error, sink) = ingest(path, kind) {
            $0.chunkSize = input
            $0.outputChunkSize = output
        }
        let all = p1 + p2 + p3
        #expect(error == nil)
        #expect(sink.lines == modelLines(all).lines)
        #expect(summary.members == 4)
        #expect(summary.bytesDecoded == Int64(all.count))
    }

    @Test("several MB over the default buffers", arguments: GzipInflater.Kind.available)
    func bigStream(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let data = awkwardText(lines: 80_000, seed: 9)
        let path = dir.write("big.gz", gzipped(data, level: 1))
        let (summary, error, sink) = ingest(path, kind)
        #expect(error == nil)
        #expect(data.count > 3_000_000)
        #expect(sink.lines == modelLines(data).lines)
        #expect(summary.resumeOffset == Int64(data.count))
    }

    @Test("zero padding after the last member is ignored silently", arguments: GzipInflater.Kind.available)
    func zeroPadding(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let gz = gzipped(GzipTests.a)
        let path = dir.write("pad.gz", gz + [UInt8](repeating: 0, count: 1024))
        let (summary, error, sink) = ingest(path, kind) { $0.chunkSize = 500 }
        #expect(error == nil)
        #expect(sink.lines.count == 1000)
        #expect(summary.members == 1)
        #expect(summary.bytesRead == Int64(gz.count + 1024))
    }

    @Test("an empty gzip member alone, and between members", arguments: GzipInflater.Kind.available)
    func emptyMembers(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let empty = gzipped([])
        let lone = dir.write("empty.gz", empty)
        let (s1, e1, k1) = ingest(lone, kind)
        #expect(e1 == nil)
        #expect(k1.lines.isEmpty)
        #expect(s1.compressed)
        #expect(s1.members == 1)
        #expect(s1.bytesDecoded == 0)

        let mid = dir.write("mid.gz", gzipped(GzipTests.a) + empty + empty + gzipped(GzipTests.b))
        let (s2, e2, k2) = ingest(mid, kind)
        #expect(e2 == nil)
        #expect(k2.lines == modelLines(GzipTests.a + GzipTests.b).lines)
        #expect(s2.members == 4)
    }

    @Test("truncated by 100 bytes: complete lines delivered, partial withheld, then gzip_truncated", arguments: GzipInflater.Kind.available)
    func truncated100(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let all = GzipTests.a + GzipTests.b
        let gz = gzipped(GzipTests.a) + gzipped(GzipTests.b)
        let cut = Array(gz[0..<(gz.count - 100)])
        let path = dir.write("cut.gz", cut)
        let (summary, error, sink) = ingest(path, kind) { $0.chunkSize = 1000 }
        let e = try! #require(error)
        #expect(e.code == .gzipTruncated)
        #expect(e.path == path)
        #expect(e.compressedOffset == Int64(cut.count))
        #expect(e.decodedOffset == summary.bytesDecoded)
        #expect(e.decodedOffset > Int64(GzipTests.a.count))
        #expect(e.decodedOffset < Int64(all.count))
        let prefix = Array(all[0..<Int(e.decodedOffset)])
        let expected = modelLines(prefix, deliverPartial: false).lines
        #expect(sink.lines == expected)
        #expect(e.line == Int64(expected.count))
        #expect(summary.partialLinesWithheld == (prefix.last == 10 ? 0 : 1))
        #expect(summary.resumeOffset == Int64(expected.last!.offset) + Int64(expected.last!.bytes.count) + 1)
        #expect(e.description.hasPrefix("\(path):@\(cut.count): error[gzip_truncated]: "))
    }

    @Test("ISIZE cut off: every line delivered, then gzip_truncated", arguments: GzipInflater.Kind.available)
    func truncatedISIZE(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let gz = gzipped(GzipTests.a)
        let path = dir.write("cut4.gz", Array(gz[0..<(gz.count - 4)]))
        let (summary, error, sink) = ingest(path, kind)
        #expect(error?.code == .gzipTruncated)
        #expect(error?.compressedOffset == Int64(gz.count - 4))
        #expect(error?.decodedOffset == Int64(GzipTests.a.count))
        #expect(sink.lines.count == 1000)
        #expect(summary.partialLinesWithheld == 0)
        #expect(error?.line == 1000)
    }

    @Test("truncated stream whose data ends mid-line withholds that line", arguments: GzipInflater.Kind.available)
    func truncatedWithholds(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let data = GzipTests.a + Array("unfinished tail".utf8)
        let gz = gzipped(data)
        let path = dir.write("cutline.gz", Array(gz[0..<(gz.count - 4)]))
        let (summary, error, sink) = ingest(path, kind)
        #expect(error?.code == .gzipTruncated)
        #expect(sink.lines.count == 1000)
        #expect(summary.partialLinesWithheld == 1)
        #expect(summary.resumeOffset == Int64(GzipTests.a.count))
    }

    @Test("CRC mismatch: all lines delivered first, then gzip_crc", arguments: GzipInflater.Kind.available)
    func crcError(kind: GzipInflater.Kind) {
        let dir = TempDir()
        var gz = gzipped(GzipTests.a + Array("no newline at end".utf8))
        gz[gz.count - 8] ^= 0x55
        let path = dir.write("crc.gz", gz)
        let (summary, error, sink) = ingest(path, kind) { $0.chunkSize = 333 }
        #expect(error?.code == .gzipCRC)
        // zlib checks the CRC as soon as its 4 bytes are in, before reading ISIZE.
        #expect(error?.compressedOffset == Int64(gz.count - 4))
        #expect(error?.decodedOffset == Int64(GzipTests.a.count + 17))
        #expect(sink.lines == modelLines(GzipTests.a).lines)
        #expect(summary.partialLinesWithheld == 1)
        #expect(error.map { "\($0)" }?.hasPrefix("\(path):@\(gz.count - 4): error[gzip_crc]: CRC-32 mismatch") == true)
    }

    @Test("ISIZE mismatch gives gzip_length after all lines", arguments: GzipInflater.Kind.available)
    func lengthError(kind: GzipInflater.Kind) {
        let dir = TempDir()
        var gz = gzipped(GzipTests.a)
        gz[gz.count - 2] ^= 0x01
        let path = dir.write("len.gz", gz)
        let (_, error, sink) = ingest(path, kind)
        #expect(error?.code == .gzipLength)
        #expect(sink.lines.count == 1000)
    }

    @Test("a bad deflate block in the second member gives gzip_corrupt after the first member's lines", arguments: GzipInflater.Kind.available)
    func corruptData(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let ga = gzipped(GzipTests.a)
        var gb = gzipped(GzipTests.b)
        gb[10] = 0xff  // first deflate byte: BTYPE 11 is invalid
        let path = dir.write("bad.gz", ga + gb)
        let (summary, error, sink) = ingest(path, kind)
        let e = try! #require(error)
        #expect(e.code == .gzipCorrupt)
        #expect(e.compressedOffset == Int64(ga.count + 11))
        #expect(e.decodedOffset == Int64(GzipTests.a.count))
        #expect(e.message.contains(kind == .zlib ? "zlib: invalid block type" : "ISA-L: invalid deflate block"))
        #expect(e.message.contains("starting at byte \(ga.count) (member 2)"))
        #expect(sink.lines == modelLines(GzipTests.a).lines)
        #expect(e.line == 1000)
        #expect(summary.partialLinesWithheld == 0)
        #expect(summary.members == 2)
    }

    @Test("a flipped byte in the middle of the data is reported (corrupt or CRC), never silently accepted", arguments: GzipInflater.Kind.available)
    func flippedMiddle(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let data = awkwardText(lines: 3000, seed: 5)
        for position in stride(from: 20, to: 2000, by: 97) {
            var gz = gzipped(data)
            gz[position] ^= 0x5a
            let path = dir.write("flip\(position).gz", gz)
            let (_, error, sink) = ingest(path, kind)
            let e = try! #require(error)
            #expect([.gzipCorrupt, .gzipCRC, .gzipLength].contains(e.code), "flip at \(position)")
            #expect(Int64(sink.lines.count) == e.line)
        }
    }

    @Test("trailing garbage after a member: all lines, then gzip_trailing_garbage at the garbage offset", arguments: GzipInflater.Kind.available)
    func trailingGarbage(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let gz = gzipped(GzipTests.a + Array("last line without newline".utf8))
        let path = dir.write("junk.gz", gz + Array("junk\n".utf8))
        let (summary, error, sink) = ingest(path, kind) { $0.chunkSize = 7 }
        #expect(error?.code == .gzipTrailingGarbage)
        #expect(error?.compressedOffset == Int64(gz.count))
        #expect(sink.lines.count == 1001)
        #expect(sink.lines.last?.bytes == Array("last line without newline".utf8))
        #expect(summary.partialLinesWithheld == 0)
        #expect(error?.message.contains("6a 75 6e 6b 0a") == true)
    }

    @Test("zero padding followed by garbage is still garbage; a lone 1f after a member is a cut header", arguments: GzipInflater.Kind.available)
    func paddingThenGarbage(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let gz = gzipped(GzipTests.a)
        let p1 = dir.write("pg.gz", gz + [0, 0, 0, 0x41])
        let (_, e1, k1) = ingest(p1, kind)
        #expect(e1?.code == .gzipTrailingGarbage)
        #expect(e1?.compressedOffset == Int64(gz.count + 3))
        #expect(k1.lines.count == 1000)
        let p2 = dir.write("one.gz", gz + [0x1f])
        let (_, e2, k2) = ingest(p2, kind)
        #expect(e2?.code == .gzipTruncated)  // the start of a member still being appended
        #expect(e2?.compressedOffset == Int64(gz.count))
        #expect(k2.lines.count == 1000)
        let p3 = dir.write("two.gz", gz + [0x1f, 0x8c])
        let (_, e3, _) = ingest(p3, kind)
        #expect(e3?.code == .gzipTrailingGarbage)
    }

    @Test("detection is by magic: plain text named .gz is plain, gzip named .log is inflated", arguments: GzipInflater.Kind.available)
    func detectionByMagic(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let plain = dir.write("really-plain.gz", GzipTests.a)
        let (s1, e1, k1) = ingest(plain, kind)
        #expect(e1 == nil)
        #expect(!s1.compressed)
        #expect(k1.lines == modelLines(GzipTests.a).lines)

        let gz = dir.write("really-gzip.log", gzipped(GzipTests.b))
        let (s2, e2, k2) = ingest(gz, kind)
        #expect(e2 == nil)
        #expect(s2.compressed)
        #expect(k2.lines == modelLines(GzipTests.b).lines)

        let one = dir.write("one-byte.log", [0x1f])
        let (s3, e3, k3) = ingest(one, kind)
        #expect(e3 == nil)
        #expect(!s3.compressed)
        #expect(k3.lines == [SeenLine(bytes: [0x1f], number: 1, offset: 0)])
    }

    @Test("resume inside a multi-member gzip at a decoded offset",
          arguments: GzipInflater.Kind.available, [7, 1 << 16])
    func resumeGzip(kind: GzipInflater.Kind, chunk: Int) {
        let dir = TempDir()
        let all = GzipTests.a + GzipTests.b
        let path = dir.write("r.gz", gzipped(GzipTests.a) + gzipped(GzipTests.b))
        let full = modelLines(all).lines
        let (summary, error, sink) = ingest(path, kind) {
            $0.startOffset = full[1500].offset
            $0.firstLineNumber = 1501
            $0.chunkSize = chunk
        }
        #expect(error == nil)
        #expect(sink.lines == Array(full[1500...]))
        #expect(summary.lastLine == 2000)
    }

    @Test("ChunkReader records member start offsets", arguments: GzipInflater.Kind.available)
    func memberStarts(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let ga = gzipped(GzipTests.a)
        let path = dir.write("m.gz", ga + gzipped(GzipTests.b))
        guard case .success(let reader) = ChunkReader.open(path: path, options: options(kind)) else {
            Issue.record("open failed")
            return
        }
        let buf = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
        defer { buf.deallocate() }
        var total = 0
        loop: while true {
            switch reader.read(into: buf, capacity: 4096) {
            case .data(let n): total += n
            case .end: break loop
            case .failed(let e):
                Issue.record("\(e)")
                break loop
            }
        }
        #expect(total == GzipTests.a.count + GzipTests.b.count)
        #expect(reader.members == 2)
        #expect(reader.memberStartRawOffset == Int64(ga.count))
        #expect(reader.memberStartDecodedOffset == Int64(GzipTests.a.count))
        #expect(reader.read(into: buf, capacity: 4096) == .end)
    }
}

@Suite("following a growing file")
struct FollowTests {
    /// Reads until the reader stops, framing into `framer`; returns the stopping chunk.
    func drain(_ reader: ChunkReader, _ framer: LineFramer, _ sink: inout CollectSink) -> ChunkReader.Chunk {
        while true {
            let c = reader.read(into: framer.writePointer, capacity: framer.writableCount)
            guard case .data(let n) = c else { return c }
            framer.commit(n, into: &sink)
        }
    }

    func append(_ path: String, _ bytes: [UInt8]) {
        let h = FileHandle(forWritingAtPath: path)!
        h.seekToEndOfFile()
        h.write(Data(bytes))
        h.closeFile()
    }

    @Test("gzip cut mid-member, then completed, then a new member appended: every line exactly once",
          arguments: GzipInflater.Kind.available, [3, 1 << 16])
    func gzipGrows(kind: GzipInflater.Kind, chunk: Int) {
        let dir = TempDir()
        let ga = gzipped(GzipTests.a)
        let gb = gzipped(GzipTests.b)
        let path = dir.write("grow.gz", Array(ga[0..<(ga.count / 2)]))
        var options = IngestOptions()
        options.inflater = kind
        options.chunkSize = chunk
        guard case .success(let reader) = ChunkReader.open(path: path, options: options) else {
            Issue.record("open failed")
            return
        }
        let framer = LineFramer(options: options)
        var sink = CollectSink()
        guard case .failed(let e) = drain(reader, framer, &sink) else {
            Issue.record("expected a truncation")
            return
        }
        #expect(e.code == .gzipTruncated)
        let seenAtCut = sink.lines.count
        #expect(seenAtCut > 0 && seenAtCut < 1000)

        append(path, Array(ga[(ga.count / 2)...]))
        #expect(reader.continueAfterEOF())
        #expect(drain(reader, framer, &sink) == .end)
        #expect(sink.lines.count == 1000)

        append(path, [gb[0]])  // half a header
        #expect(reader.continueAfterEOF())
        guard case .failed(let e2) = drain(reader, framer, &sink) else {
            Issue.record("expected a truncation")
            return
        }
        #expect(e2.code == .gzipTruncated)
        append(path, Array(gb[1...]))
        #expect(reader.continueAfterEOF())
        #expect(drain(reader, framer, &sink) == .end)
        framer.finish(deliverPartial: true, into: &sink)
        #expect(sink.lines == modelLines(GzipTests.a + GzipTests.b).lines)
        #expect(reader.members == 2)
    }

    @Test("plain file grows after EOF, including from empty and with a line split across the growth")
    func plainGrows() {
        let dir = TempDir()
        let path = dir.write("grow.log", [])
        guard case .success(let reader) = ChunkReader.open(path: path) else {
            Issue.record("open failed")
            return
        }
        let framer = LineFramer()
        var sink = CollectSink()
        #expect(drain(reader, framer, &sink) == .end)
        append(path, Array("first\nsec".utf8))
        #expect(reader.continueAfterEOF())
        #expect(drain(reader, framer, &sink) == .end)
        #expect(sink.lines.count == 1)
        append(path, Array("ond\n".utf8))
        #expect(reader.continueAfterEOF())
        #expect(drain(reader, framer, &sink) == .end)
        #expect(sink.lines == [
            SeenLine(bytes: Array("first".utf8), number: 1, offset: 0),
            SeenLine(bytes: Array("second".utf8), number: 2, offset: 6),
        ])
        #expect(!reader.isCompressed)
    }

    @Test("an empty file that later receives gzip data is sniffed again", arguments: GzipInflater.Kind.available)
    func emptyThenGzip(kind: GzipInflater.Kind) {
        let dir = TempDir()
        let path = dir.write("late.gz", [])
        guard case .success(let reader) = ChunkReader.open(path: path, options: options(kind)) else {
            Issue.record("open failed")
            return
        }
        let framer = LineFramer()
        var sink = CollectSink()
        #expect(drain(reader, framer, &sink) == .end)
        append(path, gzipped(GzipTests.a))
        #expect(reader.continueAfterEOF())
        #expect(drain(reader, framer, &sink) == .end)
        #expect(reader.isCompressed)
        #expect(sink.lines.count == 1000)
    }

    @Test("no continuing after a CRC error", arguments: GzipInflater.Kind.available)
    func noContinueAfterCRC(kind: GzipInflater.Kind) {
        let dir = TempDir()
        var gz = gzipped(GzipTests.a)
        gz[gz.count - 8] ^= 1
        let path = dir.write("crc.gz", gz)
        guard case .success(let reader) = ChunkReader.open(path: path, options: options(kind)) else {
            Issue.record("open failed")
            return
        }
        let framer = LineFramer()
        var sink = CollectSink()
        guard case .failed(let e) = drain(reader, framer, &sink) else {
            Issue.record("expected a CRC failure")
            return
        }
        #expect(e.code == .gzipCRC)
        #expect(!reader.continueAfterEOF())
        #expect(reader.read(into: framer.writePointer, capacity: 10) == .failed(e))
    }
}

@Suite("gzip decoder selection")
struct InflaterSelectionTests {
    @Test("a machine with libisal-dev builds the ISA-L decoder in (unless FLOWHOUND_ZLIB_ONLY=1), zlib always")
    func isalBuiltWhenPresent() {
        let header = FileManager.default.fileExists(atPath: "/usr/include/isa-l/igzip_lib.h")
        let zlibOnly = ProcessInfo.processInfo.environment["FLOWHOUND_ZLIB_ONLY"] == "1"
        #expect(GzipInflater.Kind.available.first == .zlib)
        if header && !zlibOnly {
            #expect(GzipInflater.Kind.available.contains(.isal))
        }
        for kind in GzipInflater.Kind.available {
            #expect(GzipInflater(kind: kind)?.kind == kind)
        }
    }
}

@Suite("stdin, pipes and open errors")
struct SourceTests {
    @Test("gzip through a pipe with short first reads is sniffed and inflated", arguments: [1, 2, 3])
    func gzipPipe(piece: Int) {
        let data = GzipTests.a + GzipTests.b
        let (summary, error, sink) = ingestThroughPipe(gzipped(GzipTests.a) + gzipped(GzipTests.b), piece: piece)
        #expect(error == nil)
        #expect(summary.compressed)
        #expect(sink.lines == modelLines(data).lines)
    }

    @Test("plain text through a pipe")
    func plainPipe() {
        let data = awkwardText(lines: 500, finalNewline: false)
        let (summary, error, sink) = ingestThroughPipe(data, piece: 1)
        #expect(error == nil)
        #expect(!summary.compressed)
        #expect(sink.lines == modelLines(data).lines)
    }

    @Test("truncated gzip through a pipe names <stdin>")
    func truncatedPipe() {
        let gz = gzipped(GzipTests.a)
        let (_, error, sink) = ingestThroughPipe(Array(gz[0..<(gz.count - 4)]), piece: 5)
        #expect(error?.code == .gzipTruncated)
        #expect(error?.path == "-")
        #expect(error?.description.hasPrefix("<stdin>:@\(gz.count - 4): error[gzip_truncated]") == true)
        #expect(sink.lines.count == 1000)
    }

    @Test("missing file")
    func missing() {
        let dir = TempDir()
        let path = dir.url.appendingPathComponent("nope.log").path
        let (summary, error, sink) = ingest(path)
        #expect(sink.lines.isEmpty)
        #expect(summary.bytesRead == 0)
        #expect(error?.code == .cannotOpen)
        #expect(error?.path == path)
        #expect(error?.description == "\(path): error[cannot_open]: cannot open: No such file or directory; check the path (a rotated file may have been removed)")
    }

    @Test("a directory is refused")
    func directory() {
        let dir = TempDir()
        let (_, error, _) = ingest(dir.url.path)
        #expect(error?.code == .cannotOpen)
        #expect(error?.message.contains("directory") == true)
    }

    @Test("unreadable file", .enabled(if: getuid() != 0, "root can read anything"))
    func permission() {
        let dir = TempDir()
        let path = dir.write("secret.log", Array("x\n".utf8))
        chmod(path, 0)
        let (_, error, _) = ingest(path)
        #expect(error?.code == .cannotOpen)
        #expect(error?.message.contains("ermission") == true)
    }

    @Test("error codes are stable")
    func codes() {
        #expect(IngestError.Code.allCases.map(\.rawValue) == [
            "cannot_open", "read_failed", "gzip_truncated", "gzip_crc", "gzip_length", "gzip_corrupt",
            "gzip_trailing_garbage", "zlib_failed", "resume_past_end",
        ])
    }
}
