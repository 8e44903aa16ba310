import FlowhoundCore
import FlowhoundSinks
import Foundation
import Testing

/// A throwaway PostgreSQL cluster in a temporary directory (initdb + pg_ctl), listening only on a Unix socket
/// in that directory. As root it runs the server as the `postgres` user (postgres refuses to run as root).
final class LocalPostgres {
    let dir: String
    let bin: String
    let runAs: String?
    let port = 5433

    /// The server's binaries, or nil (with the reason) when PostgreSQL is not installed.
    static func binaries() -> (String?, String) {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        for v in versions.reversed() where FileManager.default.isExecutableFile(atPath: "\(root)/\(v)/bin/initdb") {
            return ("\(root)/\(v)/bin", "")
        }
        return (nil, "PostgreSQL server binaries not found under \(root) (apt-get install postgresql)")
    }

    init(bin: String) throws {
        self.bin = bin
        var template = Array("/tmp/flowhound-pg-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw POSIXError(.EIO) }
        dir = String(cString: p)
        if geteuid() == 0 {
            guard let pw = getpwnam("postgres") else {
                throw SinkError(sink: "test", code: "setup", "running as root but there is no postgres user to run the server")
            }
            chown(dir, pw.pointee.pw_uid, pw.pointee.pw_gid)
            runAs = "postgres"
        } else {
            runAs = nil
        }
        try run("initdb", ["-D", "\(dir)/data", "-A", "trust", "-U", "flowhound", "-N", "-E", "UTF8", "--no-locale"])
        try start()
    }

    var url: String { "postgresql:///postgres?host=\(dir)&port=\(port)&user=flowhound" }

    func start() throws {
        try run("pg_ctl", [
            "-D", "\(dir)/data", "-l", "\(dir)/server.log", "-w", "-t", "60",
            "-o", "-k \(dir) -p \(port) -c listen_addresses= -c fsync=off", "start",
        ])
    }

    func stop() throws {
        try run("pg_ctl", ["-D", "\(dir)/data", "-w", "-m", "fast", "stop"])
    }

    func destroy() {
        try? stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func run(_ tool: String, _ args: [String]) throws {
        // system(3), not Process: the server that pg_ctl leaves running inherits Foundation's internal
        // descriptors, and Process would not report the exit of pg_ctl until the server stops.
        func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let command = ([runAs.map { "/usr/sbin/runuser -u \($0) --" } ?? ""] + ["\(bin)/\(tool)"] + args)
            .filter { !$0.isEmpty }.map { $0.hasPrefix("/usr/sbin/runuser") ? $0 : quote($0) }.joined(separator: " ")
        let logPath = "\(dir)/\(tool).out"
        let status = system("\(command) > \(quote(logPath)) 2>&1 < /dev/null")
        if status != 0 {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw SinkError(sink: "test", code: "setup", "\(tool) failed (\(status)): \(text)")
        }
    }
}

/// Counts what reaches it: the other output next to PostgreSQL.
final class CountingBackend: AlertSinkBackend, @unchecked Sendable {  // only the worker thread writes
    let name = "counting"
    var items = 0
    func write(_ batch: [SinkItem], control: SinkControl) throws(SinkError) { items += batch.count }
    func close() {}
}

@Suite(.serialized) struct PostgreSQLSinkTests {
    func withServer(_ body: (LocalPostgres) throws -> Void) throws {
        let (bin, why) = LocalPostgres.binaries()
        guard let bin else {
            print("skipped: \(why)")
            return
        }
        let server = try LocalPostgres(bin: bin)
        defer { server.destroy() }
        try body(server)
    }

    func finding(_ i: Int, at t: Int64, count: Int = 1) -> Finding {
        var f = plainFinding(i)
        f.firstSeen = Timestamp(seconds: t)
        f.lastSeen = Timestamp(seconds: t)
        f.count = count
        return f
    }

    @Test("alerts become one row per finding key; merged repeats add their count and move last_seen")
    func upsert() throws {
        try withServer { server in
            let sink = try PostgreSQLSink(conninfo: server.url, name: "pg", table: "alerts_test")
            let worker = SinkWorker(backend: sink, capacity: 100, batchSize: 3, report: { _ in })
            #expect(worker.submit(.alert(finding(1, at: 1_772_442_000), key: "k1")))
            #expect(worker.submit(.alert(finding(2, at: 1_772_442_010), key: "k2")))
            for j in 1...4 {
                #expect(worker.submit(.repeated(finding(1, at: 1_772_442_000 + Int64(j) * 60, count: 2), key: "k1")))
            }
            let stats = worker.close(deadline: nil)
            #expect(stats.written == 2)  // new alerts; the 4 repeats are merged into k1, not counted as written
            #expect(stats.failed == 0)
            #expect(stats.firstError == nil)

            let check = try PostgreSQLConnection(server.url)
            let rows = try check.exec(
                "SELECT key, count, rule_id, level, extract(epoch FROM first_seen)::bigint, "
                    + "extract(epoch FROM last_seen)::bigint, destination_port, alert->'destination'->>'port' "
                    + "FROM alerts_test ORDER BY key")
            #expect(rows.count == 2)
            #expect(rows.first == ["k1", "9", "r-1", "medium", "1772442000", "1772442240", "445", "445"])
            #expect(rows.last?[0] == "k2")
            #expect(rows.last?[1] == "1")

            // A second instance reporting the same finding adds to the same row instead of a duplicate.
            let other = try PostgreSQLSink(conninfo: server.url, name: "pg2", table: "alerts_test")
            try other.write([.alert(finding(2, at: 1_772_441_990), key: "k2")], control: SinkControl())
            other.close()
            let k2 = try check.exec(
                "SELECT count, extract(epoch FROM first_seen)::bigint FROM alerts_test WHERE key = $1", ["k2"])
            #expect(k2 == [["2", "1772441990"]])
        }
    }

    @Test("server stopped mid-run: its batches fail and are counted, the other output gets everything, a restarted server is used again")
    func failureIsolation() throws {
        try withServer { server in
            let sink = try PostgreSQLSink(conninfo: server.url, name: "pg", table: "alerts_iso")
            let pg = SinkWorker(backend: sink, capacity: 100, batchSize: 10, report: { _ in })
            let counting = CountingBackend()
            let other = SinkWorker(backend: counting, capacity: 100, batchSize: 10, report: { _ in })
            func send(_ range: ClosedRange<Int>) {
                for i in range {
                    let item = SinkItem.alert(finding(i, at: 1_772_442_000 + Int64(i)), key: "key-\(i)")
                    #expect(pg.submit(item))
                    #expect(other.submit(item))
                }
                pg.sync(deadline: nil)
                other.sync(deadline: nil)
            }
            send(1...5)
            try server.stop()
            send(6...8)
            #expect(pg.firstError?.code != nil)
            try server.start()
            send(9...12)
            let stats = pg.close(deadline: nil)
            _ = other.close(deadline: nil)
            #expect(counting.items == 12)
            #expect(stats.failed == 3)
            #expect(stats.written == 9)
            #expect(stats.errors >= 1)
            let check = try PostgreSQLConnection(server.url)
            let keys = try check.exec("SELECT key FROM alerts_iso ORDER BY count, key").map { $0[0] ?? "" }
            #expect(Set(keys) == Set((Array(1...5) + Array(9...12)).map { "key-\($0)" }))
        }
    }

    @Test("an unreachable server is an error when the output is opened, naming the output")
    func unreachable() {
        #expect(throws: SinkError.self) {
            try PostgreSQLSink(conninfo: "postgresql:///postgres?host=/nonexistent-flowhound&port=1", name: "pgx")
        }
        do {
            _ = try PostgreSQLSink(conninfo: "postgresql:///postgres?host=/nonexistent-flowhound&port=1", name: "pgx")
        } catch {
            #expect(error.code == "postgresql_connect")
            #expect(error.sink == "pgx")
            #expect(error.message.contains("cannot connect"))
        }
    }

    @Test("postgresql:// output specs: table option, password hidden in messages, bad table names refused")
    func specs() throws {
        let spec = try OutputSpec.parse("postgresql://fh:secret@db.example:5432/alerts table=site_a queue=100")
        #expect(spec.kind == .postgresql("postgresql://fh:secret@db.example:5432/alerts"))
        #expect(spec.options["table"] == "site_a")
        #expect(spec.display == "postgresql://fh:***@db.example:5432/alerts")
        #expect(try OutputSpec.parse("postgres://db/alerts").kind == .postgresql("postgres://db/alerts"))
        #expect(throws: Diagnostic.self) { try OutputSpec.parse("postgresql://db/alerts table=Robert;DROP") }
        #expect(throws: Diagnostic.self) { try OutputSpec.parse("postgresql://db/alerts format=csv") }
    }
}
