import FlowhoundCore
import FlowhoundSinks
import FlowhoundTestSupport
import Foundation
import Testing

/// Counts what reaches it: the other output next to PostgreSQL.
final class CountingBackend: AlertSinkBackend, @unchecked Sendable {  // only the worker thread writes
    let name = "counting"
    var items = 0
    func write(_ batch: [SinkItem], control: SinkControl) throws(SinkError) { items += batch.count }
    func close() {}
}

@Suite(.serialized) struct PostgreSQLSinkTests {
    func withServer(_ body: (LocalPostgres) throws -> Void) throws { try LocalPostgres.with(body) }

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
