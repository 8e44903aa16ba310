import Foundation
import Testing
@testable import FlowhoundIngest

@Suite("Line framing")
struct FramerTests {
    @Test("exact lines, numbers and offsets of a small plain file")
    func smallPlainExact() {
        let dir = TempDir()
        let path = dir.write("small.log", Array("a\nbb\r\n\nccc".utf8))
        let (summary, error, sink) = ingest(path)
        #expect(error == nil)
        #expect(sink.lines == [
            SeenLine(bytes: Array("a".utf8), number: 1, offset: 0),
            SeenLine(bytes: Array("bb".utf8), number: 2, offset: 2),
            SeenLine(bytes: [], number: 3, offset: 6),
            SeenLine(bytes: Array("ccc".utf8), number: 4, offset: 7),
        ])
        #expect(summary.lines == 4)
        #expect(summary.lastLine == 4)
        #expect(summary.compressed == false)
        #expect(summary.members == 0)
        #expect(summary.bytesRead == 10)
        #expect(summary.bytesDecoded == 10)
        #expect(summary.resumeOffset == 10)
        #expect(summary.partialLinesWithheld == 0)
    }

    @Test("plain file: every chunk size from 1 to 7 (and a few more) frames like the model", arguments: Array(1...7) + [13, 64, 4096])
    func plainChunkSizes(chunk: Int) {
        let dir = TempDir()
        let data = awkwardText(lines: 400, finalNewline: false)
        let path = dir.write("awkward.log", data)
        let (summary, error, sink) = ingest(path) {
            $0.chunkSize = chunk
            $0.outputChunkSize = chunk
        }
        let model = modelLines(data)
        #expect(error == nil)
        #expect(sink.lines == model.lines)
        #expect(summary.lines == Int64(model.lines.count))
        #expect(summary.bytesDecoded == Int64(data.count))
        #expect(summary.resumeOffset == Int64(data.count))
    }

    @Test("CRLF split across two commits at every position, straight into the framer")
    func crlfSplitEverywhere() {
        let data = Array("ab\r\n\r\ncd\r\r\nxy\r\n".utf8)
        // "cd\r\r\n": only the last \r is a terminator.
        let expected = [
            SeenLine(bytes: Array("ab".utf8), number: 1, offset: 0),
            SeenLine(bytes: [], number: 2, offset: 4),
            SeenLine(bytes: Array("cd\r".utf8), number: 3, offset: 6),
            SeenLine(bytes: Array("xy".utf8), number: 4, offset: 11),
        ]
        for cut in 0...data.count {
            let framer = LineFramer(maxLineLength: 100, outputChunkSize: 64)
            var sink = CollectSink()
            for part in [Array(data[0..<cut]), Array(data[cut...])] {
                part.withUnsafeBufferPointer { framer.writePointer.update(from: $0.baseAddress!, count: part.count) }
                framer.commit(part.count, into: &sink)
            }
            framer.finish(deliverPartial: true, into: &sink)
            #expect(sink.lines == expected, "cut at \(cut)")
            #expect(framer.resumeOffset == 15)
        }
    }

    @Test("zeroed padding after the data")
    func zeroPadding() {
        let framer = LineFramer(maxLineLength: 100, outputChunkSize: 64)
        struct PadCheck: LineSink {
            var tails: [[UInt8]] = []
            mutating func line(_ bytes: UnsafePointer<UInt8>, _ count: Int, number: Int64, offset: Int64) {
                tails.append(Array(UnsafeBufferPointer(start: bytes + count, count: 65)))
            }
        }
        var sink = PadCheck()
        // Dirty the buffer first with a long partial line, then a short one.
        let first = Array(repeating: UInt8(ascii: "x"), count: 60) + [10]
        first.withUnsafeBufferPointer { framer.writePointer.update(from: $0.baseAddress!, count: first.count) }
        framer.commit(first.count, into: &sink)
        let second = Array("xyz\n".utf8)
        second.withUnsafeBufferPointer { framer.writePointer.update(from: $0.baseAddress!, count: second.count) }
        framer.commit(second.count, into: &sink)
        #expect(sink.tails.count == 2)
        #expect(sink.tails[1] == [10] + Array(repeating: 0, count: 64))
        let third = Array("last".utf8)
        third.withUnsafeBufferPointer { framer.writePointer.update(from: $0.baseAddress!, count: third.count) }
        framer.commit(third.count, into: &sink)
        framer.finish(deliverPartial: true, into: &sink)
        #expect(sink.tails[2] == Array(repeating: 0, count: 65))
    }

    static let overlongInput = Array("12345\n123456\n1234567\r\nabc\n12345\r\n123456\r\n123456789012".utf8)

    @Test("overlong lines are cut to the cap, delivered once and counted", arguments: Array(1...9) + [64])
    func overlong(chunk: Int) {
        let dir = TempDir()
        let path = dir.write("long.log", FramerTests.overlongInput)
        let (summary, error, sink) = ingest(path) {
            $0.maxLineLength = 5
            $0.chunkSize = chunk
            $0.outputChunkSize = chunk
        }
        #expect(error == nil)
        let five = Array("12345".utf8)
        #expect(sink.lines == [
            SeenLine(bytes: five, number: 1, offset: 0),
            SeenLine(bytes: five, number: 2, offset: 6),
            SeenLine(bytes: five, number: 3, offset: 13),
            SeenLine(bytes: Array("abc".utf8), number: 4, offset: 22),
            SeenLine(bytes: five, number: 5, offset: 26),
            SeenLine(bytes: five, number: 6, offset: 33),
            SeenLine(bytes: five, number: 7, offset: 41),
        ])
        #expect(summary.overlongLines == 4)
        #expect(summary.overlongBytesDropped == 1 + 2 + 1 + 7)
        #expect(summary.lines == 7)
        #expect(summary.resumeOffset == Int64(FramerTests.overlongInput.count))
        let model = modelLines(FramerTests.overlongInput, maxLine: 5)
        #expect(model.lines == sink.lines)
        #expect(model.overlong == summary.overlongLines)
        #expect(model.dropped == summary.overlongBytesDropped)
    }

    @Test("a 6 MB line with a 1000-byte cap: cut, counted, memory stays bounded")
    func hugeLine() {
        let dir = TempDir()
        var data = Array("before\n".utf8)
        data += Array(repeating: UInt8(ascii: "q"), count: 6_000_000)
        data += Array("\r\nafter\n".utf8)
        let path = dir.write("huge.log", data)
        let (summary, error, sink) = ingest(path) { $0.maxLineLength = 1000 }
        #expect(error == nil)
        #expect(sink.lines.map(\.number) == [1, 2, 3])
        #expect(sink.lines[1].bytes == Array(repeating: UInt8(ascii: "q"), count: 1000))
        #expect(sink.lines[1].offset == 7)
        #expect(sink.lines[2] == SeenLine(bytes: Array("after".utf8), number: 3, offset: 7 + 6_000_002))
        #expect(summary.overlongLines == 1)
        #expect(summary.overlongBytesDropped == 5_999_000)
        let framer = LineFramer(maxLineLength: 1000, outputChunkSize: 1 << 20)
        #expect(framer.capacity == 1000 + 2 + (1 << 20))
    }

    @Test("NUL bytes and invalid UTF-8 pass through unchanged")
    func rawBytes() {
        let dir = TempDir()
        let data: [UInt8] = [0x00, 0x41, 0x00, 10, 0xff, 0xfe, 0xc3, 0x28, 10, 0xed, 0xa0, 0x80, 13, 10]
        let path = dir.write("raw.log", data)
        let (_, error, sink) = ingest(path)
        #expect(error == nil)
        #expect(sink.lines == [
            SeenLine(bytes: [0x00, 0x41, 0x00], number: 1, offset: 0),
            SeenLine(bytes: [0xff, 0xfe, 0xc3, 0x28], number: 2, offset: 4),
            SeenLine(bytes: [0xed, 0xa0, 0x80], number: 3, offset: 9),
        ])
    }

    @Test("a bare \\r at the very end of an unterminated last line is stripped")
    func finalCR() {
        let dir = TempDir()
        let path = dir.write("cr.log", Array("one\ntwo\r".utf8))
        let (summary, _, sink) = ingest(path) { $0.chunkSize = 3 }
        #expect(sink.lines.last == SeenLine(bytes: Array("two".utf8), number: 2, offset: 4))
        #expect(summary.resumeOffset == 8)
    }

    @Test("empty file")
    func emptyFile() {
        let dir = TempDir()
        let path = dir.write("empty.log", [])
        let (summary, error, sink) = ingest(path)
        #expect(error == nil)
        #expect(sink.lines.isEmpty)
        #expect(summary == IngestSummary())
    }

    @Test("resume at a decoded offset with a given first line number (plain)", arguments: [1, 5, 4096])
    func resumePlain(chunk: Int) {
        let dir = TempDir()
        let data = awkwardText(lines: 300)
        let full = modelLines(data).lines
        let start = full[137]
        let path = dir.write("resume.log", data)
        let (summary, error, sink) = ingest(path) {
            $0.startOffset = start.offset
            $0.firstLineNumber = start.number
            $0.chunkSize = chunk
        }
        #expect(error == nil)
        #expect(sink.lines == Array(full[137...]))
        #expect(summary.lines == Int64(full.count - 137))
        #expect(summary.lastLine == 300)
        #expect(summary.bytesDecoded == Int64(data.count))
    }

    @Test("resume beyond the end is reported")
    func resumePastEnd() {
        let dir = TempDir()
        let path = dir.write("short.log", Array("abc\n".utf8))
        let (summary, error, sink) = ingest(path) { $0.startOffset = 100 }
        #expect(sink.lines.isEmpty)
        #expect(error?.code == .resumePastEnd)
        #expect(error?.decodedOffset == 4)
        #expect(summary.resumeOffset == 100)
    }
}
