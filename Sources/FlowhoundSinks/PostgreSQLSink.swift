import CLibPQ
import FlowhoundCore

/// One libpq connection (`PGconn`), used by `PostgreSQLSink` and by tests to read back what it wrote.
/// Not thread-safe: the sink's worker thread is its only user.
package final class PostgreSQLConnection {
    fileprivate var conn: OpaquePointer?
    let conninfo: String

    /// Connects (`conninfo` is a `postgresql://` URI or a `key=value` string, as libpq takes it).
    package init(_ conninfo: String) throws(SinkError) {
        self.conninfo = conninfo
        conn = PQconnectdb(conninfo)
        if PQstatus(conn) != CONNECTION_OK {
            let message = lastError
            PQfinish(conn)
            conn = nil
            throw SinkError(sink: "", code: "postgresql_connect", "cannot connect: \(message)")
        }
    }

    deinit { close() }

    package func close() {
        if let c = conn { PQfinish(c) }
        conn = nil
    }

    /// True when the connection is up (libpq's status after the last command).
    package var isOK: Bool { conn != nil && PQstatus(conn) == CONNECTION_OK }

    /// Re-establishes a lost connection (PQreset); true when it is up again.
    package func reconnect() -> Bool {
        guard let c = conn else { return false }
        PQreset(c)
        return PQstatus(c) == CONNECTION_OK
    }

    var lastError: String {
        guard let c = conn, let m = PQerrorMessage(c) else { return "out of memory" }
        return String(cString: m).trimmingCharacters(in: " \n")
    }

    /// Runs one statement with text parameters (nil = SQL NULL) and returns its rows as text.
    @discardableResult
    package func exec(_ sql: String, _ params: [String?] = []) throws(SinkError) -> [[String?]] {
        guard let c = conn else { throw SinkError(sink: "", code: "postgresql_failed", "not connected") }
        // Keep the C strings alive for the call.
        let cStrings: [UnsafeMutablePointer<CChar>?] = params.map { $0.map { strdup($0) } ?? nil }
        defer { for p in cStrings { free(p) } }
        let result: OpaquePointer? = cStrings.withUnsafeBufferPointer { buf in
            buf.withMemoryRebound(to: UnsafePointer<CChar>?.self) { values in
                PQexecParams(c, sql, Int32(params.count), nil, values.baseAddress, nil, nil, 0)
            }
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let message = result.flatMap { PQresultErrorMessage($0) }.map { String(cString: $0) } ?? lastError
            throw SinkError(sink: "", code: "postgresql_failed", message.trimmingCharacters(in: " \n"))
        }
        var rows: [[String?]] = []
        let n = PQntuples(result), f = PQnfields(result)
        for r in 0..<n {
            var row: [String?] = []
            for k in 0..<f {
                row.append(PQgetisnull(result, r, k) != 0 ? nil : String(cString: PQgetvalue(result, r, k)))
            }
            rows.append(row)
        }
        return rows
    }
}

extension PostgreSQLConnection {
    /// Runs `COPY … FROM STDIN` (text format) with `data` as its input: the bulk path for many rows.
    package func copyIn(_ sql: String, _ data: [UInt8]) throws(SinkError) {
        guard let c = conn else { throw SinkError(sink: "", code: "postgresql_failed", "not connected") }
        let start = PQexec(c, sql)
        let startStatus = PQresultStatus(start)
        let startMessage = start.flatMap { PQresultErrorMessage($0) }.map { String(cString: $0) } ?? lastError
        PQclear(start)
        guard startStatus == PGRES_COPY_IN else {
            throw SinkError(sink: "", code: "postgresql_failed", startMessage.trimmingCharacters(in: " \n"))
        }
        var sent = true
        data.withUnsafeBufferPointer { buf in
            var offset = 0
            while offset < buf.count && sent {
                let n = min(1 << 20, buf.count - offset)
                let rc = (buf.baseAddress! + offset).withMemoryRebound(to: CChar.self, capacity: n) {
                    PQputCopyData(c, $0, Int32(n))
                }
                sent = rc == 1
                offset += n
            }
        }
        let ended = PQputCopyEnd(c, sent ? nil : "flowhound: sending the rows failed") == 1
        var failure: String? = sent && ended ? nil : lastError
        while let r = PQgetResult(c) {
            if PQresultStatus(r) != PGRES_COMMAND_OK && failure == nil {
                failure = PQresultErrorMessage(r).map { String(cString: $0) } ?? lastError
            }
            PQclear(r)
        }
        if let failure { throw SinkError(sink: "", code: "postgresql_failed", failure.trimmingCharacters(in: " \n")) }
    }
}

/// Writes alerts to a PostgreSQL table, so that many flowhound instances (one per log source host or Zeek
/// worker) share one findings store: `postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?…]` (any libpq URI).
///
/// - Table (created if missing; `table=NAME` chooses it, default `flowhound_alerts`): one row per finding key
///   (`FindingKey`, the same for repeats of one finding) with the rule, level, log-time first/last seen,
///   addresses, the host that reported it (`reporter`, this machine's host name) and the whole alert as
///   `jsonb` (the JSON-lines object).
/// - A new alert inserts its row; a repeat merged by suppression, or the same finding sent again by another
///   run or another instance, adds its count to the row and moves `last_seen` forward (an upsert), so the
///   store holds each finding once however many instances report it.
/// - One batch is one transaction: all of it is stored or none. A failed batch is reported and counted by
///   the worker; a lost connection is re-established (PQreset) once per batch before it is given up, so a
///   restarted server is picked up again by the next batch. Like every output it has its own bounded queue
///   and thread: a slow or dead server never holds up detection or the other outputs.
package final class PostgreSQLSink: AlertSinkBackend {
    package let name: String
    package let table: String
    let reporter: String
    private var connection: PostgreSQLConnection?
    private let conninfo: String
    /// Batches committed (for tests).
    package private(set) var committed = 0

    package static let defaultTable = "flowhound_alerts"

    /// Connects and creates the table if needed; an unreachable server is an error before any input is read.
    package init(conninfo: String, name: String, table: String = PostgreSQLSink.defaultTable) throws(SinkError) {
        self.name = name
        self.conninfo = conninfo
        guard Self.isPlainIdentifier(table) else {
            throw SinkError(sink: name, code: "bad_output", "table must be a plain lower-case SQL name, got '\(table)'")
        }
        self.table = table
        var host = [CChar](repeating: 0, count: 256)
        reporter = gethostname(&host, 255) == 0 ? String(cString: host) : "unknown"
        do {
            let c = try PostgreSQLConnection(conninfo)
            try c.exec("SET client_min_messages = warning")  // no NOTICE on stderr when the table exists
            try c.exec(Self.createSQL(table))
            connection = c
        } catch {
            throw SinkError(sink: name, code: error.code, error.message)
        }
    }

    deinit { close() }

    static func isPlainIdentifier(_ s: String) -> Bool {
        guard let f = s.utf8.first, f == 0x5F || (0x61...0x7A).contains(f), s.utf8.count <= 63 else { return false }
        return s.utf8.allSatisfy { $0 == 0x5F || (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) }
    }

    static func createSQL(_ table: String) -> String {
        """
        CREATE TABLE IF NOT EXISTS \(table) (
            key text PRIMARY KEY,
            rule_id text NOT NULL,
            title text NOT NULL,
            level text NOT NULL,
            first_seen timestamptz NOT NULL,
            last_seen timestamptz NOT NULL,
            count bigint NOT NULL,
            source_ip text,
            destination_ip text,
            destination_port integer,
            reporter text NOT NULL,
            alert jsonb NOT NULL,
            stored_at timestamptz NOT NULL DEFAULT now()
        )
        """
    }

    private var upsertSQL: String {
        """
        INSERT INTO \(table) AS t (key, rule_id, title, level, first_seen, last_seen, count, source_ip,
            destination_ip, destination_port, reporter, alert)
        VALUES ($1, $2, $3, $4, $5::timestamptz, $6::timestamptz, $7::bigint, $8, $9, $10::integer, $11, $12::jsonb)
        ON CONFLICT (key) DO UPDATE SET count = t.count + EXCLUDED.count,
            first_seen = LEAST(t.first_seen, EXCLUDED.first_seen), last_seen = GREATEST(t.last_seen, EXCLUDED.last_seen)
        """
    }

    package func write(_ batch: [SinkItem], control: SinkControl) throws(SinkError) {
        if batch.isEmpty { return }
        do {
            let c = try liveConnection()
            do {
                try store(batch, on: c)
            } catch where !c.isOK && !control.abandoned && c.reconnect() {
                // The server went away between batches (restart, failover): one more try on the new connection.
                try store(batch, on: c)
            }
            committed += 1
        } catch {
            throw SinkError(
                sink: name, code: error.code,
                "\(error.message); \(batch.count) alert\(batch.count == 1 ? "" : "s") of this batch not stored")
        }
    }

    private func liveConnection() throws(SinkError) -> PostgreSQLConnection {
        if let c = connection {
            if c.isOK || c.reconnect() { return c }
            throw SinkError(sink: name, code: "postgresql_connect", "connection lost: \(c.lastError)")
        }
        let c = try PostgreSQLConnection(conninfo)
        connection = c
        return c
    }

    private func store(_ batch: [SinkItem], on c: PostgreSQLConnection) throws(SinkError) {
        try c.exec("BEGIN")
        do {
            for item in batch {
                let (f, key): (Finding, String)
                switch item {
                case .alert(let a, let k): (f, key) = (a, k)
                case .repeated(let a, let k): (f, key) = (a, k)
                }
                var json = AlertFormatter.json(f)
                if json.last == 0x0A { json.removeLast() }
                try c.exec(upsertSQL, [
                    key, f.ruleID, f.title, f.level.description, f.firstSeen.iso8601, f.lastSeen.iso8601,
                    String(max(1, f.count)), f.sourceIP, f.destinationIP, f.destinationPort.map(String.init), reporter,
                    String(decoding: json, as: UTF8.self),
                ])
            }
            try c.exec("COMMIT")
        } catch {
            if c.isOK { _ = try? c.exec("ROLLBACK") }
            throw error
        }
    }

    package func close() {
        connection?.close()
        connection = nil
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        Substring(self).trimmingCharacters(in: set)
    }
}
