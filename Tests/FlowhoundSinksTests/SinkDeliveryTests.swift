import FlowhoundCore
import FlowhoundSinks
import FlowhoundTestSupport
import Foundation
import Testing

func plainFinding(_ i: Int, level: Severity = .medium) -> Finding {
    Finding(
        ruleID: "r-\(i % 3)", title: "finding \(i)", level: level, firstSeen: Timestamp(seconds: 1_772_442_000 + Int64(i)),
        lastSeen: Timestamp(seconds: 1_772_442_000 + Int64(i)), sourceIP: "10.0.0.\(i % 250)", destinationIP: "10.0.1.1",
        destinationPort: 445, format: "zeek-tsv", evidence: [Evidence(path: "conn.log", line: Int64(i), byteOffset: 0, excerpt: "line \(i)")])
}

/// A backend that holds every write until released: a stand-in for a stalled receiver (it implements no
/// protocol; it only blocks the worker thread, which is what a hung TCP peer does).
final class StalledBackend: AlertSinkBackend, @unchecked Sendable {  // guarded by `lock`
    let name = "stalled"
    let lock = NSCondition()
    var released = false
    var items = 0

    func write(_ batch: [SinkItem], control: SinkControl) throws(SinkError) {
        lock.lock()
        while !released && !control.abandoned { lock.wait(until: Date().addingTimeInterval(0.05)) }
        items += batch.count
        lock.unlock()
    }

    func release() {
        lock.lock()
        released = true
        lock.broadcast()
        lock.unlock()
    }

    func close() {}
}

@Suite(.serialized) struct SyslogSinkTests {
    func deliver(_ spec: String, _ findings: [Finding]) throws -> AlertSinkSet.Summary {
        let parsed = try OutputSpec.parse(spec)
        guard case .syslog(let transport) = parsed.kind else { throw POSIXError(.EINVAL) }
        let sink = SyslogSink(transport: transport, name: spec, facility: 4, format: parsed.format ?? .json)
        let set = AlertSinkSet(outputs: [
            .init(worker: SinkWorker(backend: sink, capacity: 100, batchSize: 7, report: { _ in }), flushTimeout: 10)
        ])
        for f in findings { set.submit(f) }
        return set.close()
    }

    func check(_ messages: [[UInt8]], count: Int) throws {
        #expect(messages.count == count)
        for (i, m) in messages.enumerated() {
            assertNoControlBytes(m, allowedNewlines: 0, "syslog message \(i)")
            let s = String(decoding: m, as: UTF8.self)
            #expect(s.hasPrefix("<35>1 ") || s.hasPrefix("<36>1 "), "\(s)")
            let json = try #require(s.split(separator: "\u{FEFF}", maxSplits: 1).last)
            let obj = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            #expect(obj["@timestamp"] != nil)
        }
    }

    @Test func udpOneDatagramPerAlert() throws {
        let listener = try SyslogListener(.udp)
        let findings = (0..<20).map { plainFinding($0) } + [hostileFinding(level: .high)]
        let summary = try deliver("syslog+udp://127.0.0.1:\(listener.port)", findings)
        #expect(summary.outputs[0].written == 21 && summary.errors.isEmpty)
        try check(listener.wait(for: 21), count: 21)
    }

    @Test func tcpOctetCountedFramesSurviveHostileText() throws {
        let listener = try SyslogListener(.tcp)
        let findings = [hostileFinding(level: .high)] + (0..<30).map { plainFinding($0) } + [hostileFinding(level: .high)]
        let summary = try deliver("syslog+tcp://127.0.0.1:\(listener.port)", findings)
        #expect(summary.outputs[0].written == 32 && summary.errors.isEmpty)
        let messages = listener.wait(for: 32)
        #expect(messages.allSatisfy { $0.first != 0x21 }, "the stream parses as octet-counted frames throughout")
        try check(messages, count: 32)
        let forged = messages.filter { String(decoding: $0, as: UTF8.self).contains("\"id\":\"forged\"") }
        #expect(forged.isEmpty, "no frame starts with the forged alert")
    }

    @Test func unixDatagramSocket() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let listener = try SyslogListener(.unixDatagram(dir + "/log"))
        let summary = try deliver("syslog+unix://\(dir)/log format=text", [hostileFinding(level: .high), plainFinding(1)])
        #expect(summary.errors.isEmpty)
        let messages = listener.wait(for: 2)
        #expect(messages.count == 2)
        for m in messages { assertNoControlBytes(m, allowedNewlines: 0, "unix") }
        #expect(String(decoding: messages[0], as: UTF8.self).contains("HIGH SMB between workstations"))
    }

    @Test func aDeadReceiverIsReportedAndDoesNotStopTheOthers() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // a TCP port with nothing listening: bound, never listened on, so a connect is refused
        let closed = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(closed) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(closed, $0, len) == 0 && getsockname(closed, $0, &len) == 0 }
        }
        let port = Int(UInt16(bigEndian: addr.sin_port))
        let reports = ReportBox()
        let dead = SyslogSink(transport: .tcp(host: "127.0.0.1", port: port), name: "syslog+tcp://127.0.0.1:\(port)")
        let file = try StreamSink(path: dir + "/alerts.jsonl", format: .json)
        let set = AlertSinkSet(outputs: [
            .init(worker: SinkWorker(backend: dead, capacity: 100, batchSize: 10, report: reports.add), flushTimeout: 5),
            .init(worker: SinkWorker(backend: file, capacity: 100, batchSize: 10, report: reports.add), flushTimeout: nil),
        ])
        for i in 0..<25 { set.submit(plainFinding(i)) }
        let summary = set.close()
        #expect(summary.outputs[1].written == 25)
        let lines = try String(contentsOfFile: dir + "/alerts.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 25)
        #expect(summary.outputs[0].failed == 25 && summary.outputs[0].errors >= 3, "\(summary.outputs[0])")
        #expect(summary.errors.count == 1 && summary.errors.first?.code == "syslog_connect", "\(summary.errors)")
        #expect(summary.errors.first?.message.contains("failed writes, 25 alerts not delivered") == true)
        #expect(reports.lines.count == 1 && reports.lines[0].contains("cannot connect to 127.0.0.1:\(port)"))
    }
}

final class ReportBox: @unchecked Sendable {  // guarded by `lock`
    let lock = NSLock()
    private var stored: [String] = []
    var lines: [String] { lock.withLock { stored } }
    var add: @Sendable (String) -> Void { { [self] s in lock.withLock { stored.append(s) } } }
}

@Suite(.serialized) struct WebhookSinkTests {
    func webhook(_ url: String, retries: Int = 4, ca: String? = nil) throws -> WebhookSink {
        try WebhookSink(url: url, name: url, caFile: ca, headers: ["Authorization: Bearer t0ken"], timeout: 5, retries: retries, backoff: 0.05, backoffMax: 0.2)
    }

    @Test func postsJSONBatches() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try HTTPReceiver(directory: dir)
        let sink = try webhook("http://127.0.0.1:\(server.port)/alerts")
        let set = AlertSinkSet(outputs: [.init(worker: SinkWorker(backend: sink, capacity: 100, batchSize: 10, report: { _ in }), flushTimeout: 20)])
        for i in 0..<24 { set.submit(plainFinding(i)) }
        set.submit(hostileFinding())
        let summary = set.close()
        #expect(summary.errors.isEmpty && summary.outputs[0].written == 25)
        let requests = server.wait(for: 3)
        #expect(requests.count >= 3)
        var alerts: [[String: Any]] = []
        for r in requests {
            #expect(r["path"] as? String == "/alerts" && r["content_type"] as? String == "application/json")
            #expect(r["auth"] as? String == "Bearer t0ken")
            let body = try #require(r["body"] as? String)
            let batch = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [[String: Any]])
            #expect(batch.count <= 10)
            alerts += batch
        }
        #expect(alerts.count == 25)
        #expect((alerts.last?["user"] as? [String: Any])?["name"] as? String == hostile)
    }

    @Test func serverErrorsAreRetriedWithBackoff() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try HTTPReceiver(directory: dir, statuses: [503, 500, 200])
        let sink = try webhook("http://127.0.0.1:\(server.port)/")
        let set = AlertSinkSet(outputs: [.init(worker: SinkWorker(backend: sink, capacity: 100, batchSize: 50, report: { _ in }), flushTimeout: 20)])
        for i in 0..<5 { set.submit(plainFinding(i)) }
        let summary = set.close()
        #expect(summary.errors.isEmpty && summary.outputs[0].written == 5)
        // The first batch is refused twice, then taken; the worker may have cut the 5 alerts into more than one
        // batch (it starts sending as soon as the first arrives), and later batches are taken at once.
        let requests = server.requests
        let statuses = requests.map { $0["status"] as? Int }
        #expect(Array(statuses.prefix(3)) == [503, 500, 200])
        #expect(statuses.dropFirst(3).allSatisfy { $0 == 200 })
        let bodies = requests.map { $0["body"] as? String }
        #expect(bodies.count >= 3 && bodies[0] == bodies[2] && bodies[1] == bodies[2], "the same batch retried")
        var delivered = 0
        for r in requests.dropFirst(2) {
            let body = try #require(r["body"] as? String)
            delivered += try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [Any]).count
        }
        #expect(delivered == 5, "every alert taken exactly once")
    }

    @Test func clientErrorsAreNotRetriedAndAreReported() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try HTTPReceiver(directory: dir, statuses: [400])
        let sink = try webhook("http://127.0.0.1:\(server.port)/")
        let set = AlertSinkSet(outputs: [.init(worker: SinkWorker(backend: sink, capacity: 100, batchSize: 50, report: { _ in }), flushTimeout: 20)])
        set.submit(plainFinding(1))
        let summary = set.close()
        #expect(server.requests.count == 1)
        #expect(summary.outputs[0].failed == 1)
        #expect(summary.errors.first?.message.contains("HTTP status 400") == true)
    }

    @Test func retriesAreCappedAndGiveUp() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try HTTPReceiver(directory: dir, statuses: [503])
        let sink = try webhook("http://127.0.0.1:\(server.port)/", retries: 3)
        let set = AlertSinkSet(outputs: [.init(worker: SinkWorker(backend: sink, capacity: 100, batchSize: 50, report: { _ in }), flushTimeout: 20)])
        set.submit(plainFinding(1))
        let summary = set.close()
        #expect(server.requests.count == 4, "one try and three retries")
        #expect(summary.errors.first?.message.contains("after 4 attempts") == true)
    }

    @Test func tlsWithAPrivateCAAndRejectionWithoutIt() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try sh(
            "cd '\(dir)' && openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 2 "
                + "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1")
        try #require(made == 0, "openssl could make a self-signed certificate")
        let server = try HTTPReceiver(directory: dir, tls: (dir + "/cert.pem", dir + "/key.pem"))
        let trusted = try webhook("https://127.0.0.1:\(server.port)/tls", ca: dir + "/cert.pem")
        let untrusted = try webhook("https://127.0.0.1:\(server.port)/tls", retries: 0)
        let set = AlertSinkSet(outputs: [
            .init(worker: SinkWorker(backend: trusted, capacity: 10, batchSize: 10, report: { _ in }), flushTimeout: 20),
            .init(worker: SinkWorker(backend: untrusted, capacity: 10, batchSize: 10, report: { _ in }), flushTimeout: 20),
        ])
        set.submit(plainFinding(7))
        let summary = set.close()
        #expect(summary.outputs[0].written == 1 && summary.outputs[0].errors == 0)
        #expect(summary.outputs[1].failed == 1)
        #expect(server.wait(for: 1).count == 1)
        #expect(summary.errors.count == 1 && summary.errors[0].message.lowercased().contains("certificate"))
    }
}

@Suite(.serialized) struct SinkQueueTests {
    @Test func aStalledOutputDropsAndCountsButNeverBlocksTheCaller() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let stalled = StalledBackend()
        let file = try StreamSink(path: dir + "/a.jsonl", format: .json)
        let set = AlertSinkSet(outputs: [
            .init(worker: SinkWorker(backend: stalled, capacity: 50, batchSize: 10, report: { _ in }), flushTimeout: 5),
            .init(worker: SinkWorker(backend: file, capacity: 10_000, batchSize: 100, report: { _ in }), flushTimeout: nil),
        ])
        let start = Date()
        for i in 0..<5000 { set.submit(plainFinding(i)) }
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed < 2, "5000 submits took \(elapsed) s with one output stalled")
        stalled.release()
        let summary = set.close()
        let s = summary.outputs[0]
        #expect(s.written + s.dropped == 5000 && s.dropped >= 4900, "capacity 50 plus one batch in flight: \(s)")
        #expect(summary.outputs[1].written == 5000 && summary.outputs[1].dropped == 0)
        #expect(summary.warnings.count == 1 && summary.warnings[0].message.contains("dropped because its queue was full"))
        #expect(try String(contentsOfFile: dir + "/a.jsonl", encoding: .utf8).split(separator: "\n").count == 5000)
    }

    @Test func shutdownStopsWaitingAtTheFlushTimeout() {
        let stalled = StalledBackend()
        let set = AlertSinkSet(outputs: [.init(worker: SinkWorker(backend: stalled, capacity: 100, batchSize: 1, report: { _ in }), flushTimeout: 0.3)])
        for i in 0..<20 { set.submit(plainFinding(i)) }
        let start = Date()
        let summary = set.close()
        #expect(Date().timeIntervalSince(start) < 3)
        #expect(summary.outputs[0].abandoned >= 18)
        #expect(summary.warnings.first?.message.contains("still queued when shutdown stopped waiting") == true)
    }

    @Test func blockPolicyLosesNothing() {
        let stalled = StalledBackend()
        let set = AlertSinkSet(outputs: [.init(worker: SinkWorker(backend: stalled, capacity: 5, batchSize: 5, policy: .block, report: { _ in }), flushTimeout: nil)])
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { stalled.release() }
        for i in 0..<200 { set.submit(plainFinding(i)) }
        let summary = set.close()
        #expect(summary.outputs[0].dropped == 0 && stalled.items == 200)
    }

    @Test func suppressionMergesRepeatsBeforeTheOutputs() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = try StreamSink(path: dir + "/a.jsonl", format: .json)
        let set = AlertSinkSet(
            outputs: [.init(worker: SinkWorker(backend: file, capacity: 100, batchSize: 10, report: { _ in }), flushTimeout: nil)],
            suppressor: AlertSuppressor(intervalSeconds: 600))
        var f = plainFinding(0)
        var emitted = 0
        for minute in 0..<30 {
            f.firstSeen = Timestamp(seconds: 1_772_442_000 + Int64(minute) * 60)
            f.lastSeen = f.firstSeen
            if set.submit(f) { emitted += 1 }
        }
        let summary = set.close()
        #expect(emitted == 3, "one alert per 10 minutes of log time")
        #expect(summary.merged == 27 && summary.emitted == 3)
        #expect(try String(contentsOfFile: dir + "/a.jsonl", encoding: .utf8).split(separator: "\n").count == 3)
    }
}

@Suite(.serialized) struct FileSinkTests {
    @Test func sighupReopensTheFileAfterRotation() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        HangupSignal.install()
        let path = dir + "/alerts.csv"
        let sink = try StreamSink(path: path, format: .csv)
        let worker = SinkWorker(backend: sink, capacity: 100, batchSize: 10, report: { _ in })
        let set = AlertSinkSet(outputs: [.init(worker: worker, flushTimeout: nil)])
        set.submit(plainFinding(1))
        // wait for the first row, rotate as logrotate does, signal
        let end = Date().addingTimeInterval(10)
        while (try? String(contentsOfFile: path, encoding: .utf8))?.contains("finding 1") != true && Date() < end { usleep(10_000) }
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        let before = HangupSignal.generation
        // process-directed: test threads may block signals, the main thread takes it (as in the CLI)
        kill(getpid(), SIGHUP)
        let signalled = Date().addingTimeInterval(5)
        while HangupSignal.generation == before && Date() < signalled { usleep(5000) }
        #expect(HangupSignal.generation == before + 1)
        set.submit(plainFinding(2))
        _ = set.close()
        let old = try String(contentsOfFile: path + ".1", encoding: .utf8)
        let new = try String(contentsOfFile: path, encoding: .utf8)
        #expect(old.contains("finding 1") && !old.contains("finding 2"))
        #expect(new.contains("finding 2") && !new.contains("finding 1"))
        #expect(new.hasPrefix("timestamp,start,end,"), "the new file gets its CSV header")
        #expect(old.components(separatedBy: "timestamp,start").count == 2)
    }
}
