import Foundation
import Testing

@testable import FlowhoundIngest

/// Units behind `tail` and `scan --incremental`: NUL holes, identities, rotated generations, the watcher.
@Suite("follow support")
struct FollowSupportTests {
    struct Collect: LineSink {
        var lines: [(String, Int64)] = []
        mutating func line(_ bytes: UnsafePointer<UInt8>, _ count: Int, number: Int64, offset: Int64) {
            lines.append((String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self), offset))
        }
    }

    func frame(_ chunks: [[UInt8]]) -> ([(String, Int64)], Int64, LineFramer) {
        let f = LineFramer(maxLineLength: 64, outputChunkSize: 4096)
        var sink = Collect()
        var skipped: Int64 = 0
        for c in chunks {
            c.withUnsafeBufferPointer { f.writePointer.update(from: $0.baseAddress!, count: c.count) }
            skipped += f.commitSkippingNulHoles(c.count, into: &sink)
        }
        return (sink.lines, skipped, f)
    }

    @Test("10: NUL runs that start a line are skipped and counted; offsets stay those of the file")
    func nulHoles() {
        let data = Array("a\n".utf8) + [UInt8](repeating: 0, count: 5) + Array("b\nc\n".utf8) + [0, 0] + Array("d\n".utf8)
        let (lines, skipped, f) = frame([data])
        #expect(lines.map(\.0) == ["a", "b", "c", "d"])
        #expect(lines.map(\.1) == [0, 7, 9, 13])
        #expect(skipped == 7)
        #expect(f.resumeOffset == Int64(data.count))
    }

    @Test("10: a hole longer than a chunk and than the line limit, split at every position")
    func nulHoleAcrossChunks() {
        let data = Array("x\n".utf8) + [UInt8](repeating: 0, count: 300) + Array("y\n".utf8)
        for cut in [1, 2, 3, 150, 302, 303] {
            let (lines, skipped, _) = frame([Array(data[..<cut]), Array(data[cut...])])
            #expect(lines.map(\.0) == ["x", "y"], "cut at \(cut)")
            #expect(skipped == 300)
        }
        // NULs inside a line are content, not a hole
        let (inner, s2, _) = frame([Array("p".utf8) + [0, 0] + Array("q\n".utf8)])
        #expect(inner.first?.0.utf8.count == 4)
        #expect(s2 == 0)
    }

    @Test("1-5: identity: growing fingerprint, decoded prefix of gzip, plain marker")
    func identity() throws {
        let dir = NSTemporaryDirectory() + "fh-id-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let plain = dir + "/a.log"
        try "short\n".write(toFile: plain, atomically: false, encoding: .utf8)
        let small = try FileProbe.identity(path: plain).get()
        #expect(small.prefix == Array("short\n".utf8))
        try (String(repeating: "short\n", count: 400)).write(toFile: plain, atomically: false, encoding: .utf8)
        let big = try FileProbe.identity(path: plain).get()
        #expect(big.prefix.count == FileIdentity.prefixLength)
        #expect(big.extends(small.prefix))
        #expect(!small.extends(big.prefix))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "gzip -c '\(plain)' > '\(plain).gz'"]
        try p.run()
        p.waitUntilExit()
        let gz = try FileProbe.identity(path: plain + ".gz").get()
        #expect(gz.compressed)
        #expect(gz.prefix == big.prefix)
        let fd = open(plain, O_RDONLY)
        defer { close(fd) }
        #expect(FileProbe.plainMarker(fd: fd, before: 12) == Array("short\nshort\n".utf8))
        #expect(FileProbe.plainMarker(fd: fd, before: 1 << 20) == nil)
        var tail = MarkerTail()
        let bytes = Array(String(repeating: "z", count: 40).utf8)
        bytes.withUnsafeBufferPointer { tail.append($0.baseAddress!, 40) }
        #expect(tail.bytes.count == FileIdentity.markerLength)
    }

    @Test("24: generations are listed oldest first for each naming scheme")
    func generations() throws {
        let dir = NSTemporaryDirectory() + "fh-gen-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for n in ["app.log", "app.log.1", "app.log.2.gz", "app.log.10.gz", "app.log.bak", "other.log.1"] {
            FileManager.default.createFile(atPath: dir + "/" + n, contents: Data("x\n".utf8))
        }
        #expect(
            RotatedGenerations.siblings(of: dir + "/app.log").map { ($0.path as NSString).lastPathComponent }
                == ["app.log.10.gz", "app.log.2.gz", "app.log.1"])
        let d2 = NSTemporaryDirectory() + "fh-gen-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: d2, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: d2) }
        for n in ["x.log", "x.log-20260302.gz", "x.log-20260228", "x.log-20260301-1772400000"] {
            FileManager.default.createFile(atPath: d2 + "/" + n, contents: Data("x\n".utf8))
        }
        #expect(
            RotatedGenerations.siblings(of: d2 + "/x.log").map { ($0.path as NSString).lastPathComponent }
                == ["x.log-20260228", "x.log-20260301-1772400000", "x.log-20260302.gz"])
        #expect(RotatedGenerations.isGeneration(dir + "/app.log.3.gz", of: dir + "/app.log"))
        #expect(!RotatedGenerations.isGeneration(dir + "/app.log.bak", of: dir + "/app.log"))
        #expect(Glob.expand(dir + "/app.log.*.gz").count == 2)
    }

    @Test("9 and 17: a changed file wakes the inotify watcher; without changes it times out")
    func watcherWakes() throws {
        let dir = NSTemporaryDirectory() + "fh-w-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let f = dir + "/w.log"
        FileManager.default.createFile(atPath: f, contents: Data())
        let w = FileWatcher(forcePoll: false, safetyInterval: 200)
        #expect(!w.isPolling)
        w.watch(f, directory: false)
        w.watch(dir, directory: true)
        #expect(w.wait() == .timeout)
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: f))
        try h.write(contentsOf: Data("x\n".utf8))
        try h.close()
        #expect(w.wait() == .changed)
        let polled = FileWatcher(forcePoll: true, pollInterval: 20)
        #expect(polled.isPolling && polled.pollingReason == "--poll")
        #expect(polled.wait() == .timeout)
    }
}
