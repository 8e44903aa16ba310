import FlowhoundCore

/// The shared behavioural baseline in PostgreSQL (`flowhound baseline push` / `pull`): every flowhound host
/// stores what it learned under its source name, and every host can merge in what the others learned.
///
/// Tables (created if missing, under an advisory lock so that hosts starting together do not race):
/// - `flowhound_baseline_sources`: one row per source (learning start, newest event, row counts, push time);
/// - `flowhound_baseline_edges`, `flowhound_baseline_hosts`, `flowhound_baseline_volumes`: the snapshot rows of
///   each source (addresses as `inet`, log times as nanoseconds since the epoch, histograms as `bigint[]`).
///
/// A push replaces the rows of its source, in one transaction, so pushing again is idempotent and other
/// sources' rows are never touched; the merge happens when reading (`pull`, `BaselineSnapshot.merge`).
package final class PostgreSQLBaselineStore {
    /// The URL with any password replaced by `***`, for messages.
    package let display: String
    private let connection: PostgreSQLConnection

    package static let tables = [
        "flowhound_baseline_sources", "flowhound_baseline_edges", "flowhound_baseline_hosts",
        "flowhound_baseline_volumes",
    ]

    /// Connects and creates the tables when needed. Errors carry libpq's message (the caller names the URL).
    package init(url: String) throws(SinkError) {
        display = OutputSpec.redactingPassword(url)
        connection = try PostgreSQLConnection(url)
        try connection.exec("SET client_min_messages = warning")
        try connection.exec("BEGIN")
        do {
            try connection.exec("SELECT pg_advisory_xact_lock(7310293487)")  // "flowhound baseline schema"
            for sql in Self.schema { try connection.exec(sql) }
            try connection.exec("COMMIT")
        } catch {
            if connection.isOK { _ = try? connection.exec("ROLLBACK") }
            throw error
        }
    }

    deinit { connection.close() }

    static let schema = [
        """
        CREATE TABLE IF NOT EXISTS flowhound_baseline_sources (
            source text PRIMARY KEY,
            learning_start_ns bigint,
            clock_ns bigint,
            edges integer NOT NULL,
            hosts integer NOT NULL,
            volumes integer NOT NULL,
            pushed_at timestamptz NOT NULL DEFAULT now()
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS flowhound_baseline_edges (
            source text NOT NULL REFERENCES flowhound_baseline_sources ON DELETE CASCADE,
            detector text NOT NULL,
            src inet NOT NULL,
            dst inet NOT NULL,
            service bigint NOT NULL,
            first_seen_ns bigint NOT NULL,
            last_seen_ns bigint NOT NULL,
            days smallint NOT NULL,
            PRIMARY KEY (source, detector, src, dst, service)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS flowhound_baseline_hosts (
            source text NOT NULL REFERENCES flowhound_baseline_sources ON DELETE CASCADE,
            detector text NOT NULL,
            addr inet NOT NULL,
            first_seen_ns bigint NOT NULL,
            last_seen_ns bigint NOT NULL,
            clients integer NOT NULL,
            destinations integer NOT NULL,
            PRIMARY KEY (source, detector, addr)
        )
        """,
        """
        CREATE TABLE IF NOT EXISTS flowhound_baseline_volumes (
            source text NOT NULL REFERENCES flowhound_baseline_sources ON DELETE CASCADE,
            detector text NOT NULL,
            addr inet NOT NULL,
            bytes_out_hist bigint[] NOT NULL,
            pcr_hist bigint[] NOT NULL,
            PRIMARY KEY (source, detector, addr)
        )
        """,
    ]

    /// Stores `snapshot` as everything `source` learned, replacing that source's earlier push, in one
    /// transaction (all of it is stored or none). Returns the number of sources now stored.
    @discardableResult
    package func push(_ snapshot: BaselineSnapshot, source: String) throws(SinkError) -> Int {
        let c = connection
        try c.exec("BEGIN")
        do {
            // The upsert locks this source's row: two pushes of one source run one after the other.
            try c.exec(
                """
                INSERT INTO flowhound_baseline_sources AS s (source, learning_start_ns, clock_ns, edges, hosts, volumes)
                VALUES ($1, $2::bigint, $3::bigint, $4::integer, $5::integer, $6::integer)
                ON CONFLICT (source) DO UPDATE SET learning_start_ns = EXCLUDED.learning_start_ns,
                    clock_ns = EXCLUDED.clock_ns, edges = EXCLUDED.edges, hosts = EXCLUDED.hosts,
                    volumes = EXCLUDED.volumes, pushed_at = now()
                """,
                [
                    source, snapshot.learningStart.map(String.init), snapshot.clock.map(String.init),
                    String(snapshot.edges.count), String(snapshot.hosts.count), String(snapshot.volumes.count),
                ])
            for t in Self.tables.dropFirst() { try c.exec("DELETE FROM \(t) WHERE source = $1", [source]) }
            var rows = CopyText()
            for e in snapshot.edges {
                rows.row([
                    source, e.detector, e.source.description, e.destination.description, String(e.service),
                    String(e.firstSeen), String(e.lastSeen), String(e.days),
                ])
            }
            try c.copyIn(
                "COPY flowhound_baseline_edges (source, detector, src, dst, service, first_seen_ns, last_seen_ns, days) FROM STDIN",
                rows.bytes)
            rows = CopyText()
            for h in snapshot.hosts {
                rows.row([
                    source, h.detector, h.address.description, String(h.firstSeen), String(h.lastSeen),
                    String(h.clients), String(h.destinations),
                ])
            }
            try c.copyIn(
                "COPY flowhound_baseline_hosts (source, detector, addr, first_seen_ns, last_seen_ns, clients, destinations) FROM STDIN",
                rows.bytes)
            rows = CopyText()
            func array(_ h: [UInt32]) -> String { "{" + h.map(String.init).joined(separator: ",") + "}" }
            for v in snapshot.volumes {
                rows.row([source, v.detector, v.address.description, array(v.hourlyBytesOut), array(v.hourlyPCR)])
            }
            try c.copyIn(
                "COPY flowhound_baseline_volumes (source, detector, addr, bytes_out_hist, pcr_hist) FROM STDIN", rows.bytes)
            let count = try c.exec("SELECT count(*) FROM flowhound_baseline_sources")
            try c.exec("COMMIT")
            return Int(count.first?.first.flatMap { $0 } ?? "") ?? 0
        } catch {
            if c.isOK { _ = try? c.exec("ROLLBACK") }
            throw error
        }
    }

    /// The merge (`BaselineSnapshot.merge`) of every stored source except `excluding`, read in one consistent
    /// snapshot of the database, and the names of the sources merged (sorted).
    package func pull(excluding: String?) throws(SinkError) -> (baseline: BaselineSnapshot, sources: [String]) {
        let c = connection
        try c.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        do throws(SinkError) {
            let filter = "WHERE source IS DISTINCT FROM $1"
            let params: [String?] = [excluding]
            var per: [String: BaselineSnapshot] = [:]
            for r in try c.exec("SELECT source, learning_start_ns, clock_ns FROM flowhound_baseline_sources \(filter)", params) {
                var s = BaselineSnapshot()
                s.learningStart = r[1].flatMap { Int64($0) }
                s.clock = r[2].flatMap { Int64($0) }
                per[r[0] ?? ""] = s
            }
            func bad(_ what: String, _ row: [String?]) -> SinkError {
                SinkError(sink: "", code: "postgresql_failed", "unreadable \(what) row \(row.map { $0 ?? "NULL" })")
            }
            for r in try c.exec(
                "SELECT source, detector, host(src), host(dst), service, first_seen_ns, last_seen_ns, days FROM flowhound_baseline_edges \(filter) ORDER BY source, last_seen_ns",
                params)
            {
                guard let src = r[2].flatMap(IPAddress.parse), let dst = r[3].flatMap(IPAddress.parse),
                    let service = r[4].flatMap({ UInt32($0) }), let first = r[5].flatMap({ Int64($0) }),
                    let last = r[6].flatMap({ Int64($0) }), let days = r[7].flatMap({ UInt8($0) })
                else { throw bad("edge", r) }
                per[r[0] ?? "", default: BaselineSnapshot()].edges.append(
                    .init(detector: r[1] ?? "", source: src, destination: dst, service: service, firstSeen: first, lastSeen: last, days: days))
            }
            for r in try c.exec(
                "SELECT source, detector, host(addr), first_seen_ns, last_seen_ns, clients, destinations FROM flowhound_baseline_hosts \(filter) ORDER BY source, last_seen_ns",
                params)
            {
                guard let addr = r[2].flatMap(IPAddress.parse), let first = r[3].flatMap({ Int64($0) }),
                    let last = r[4].flatMap({ Int64($0) }), let clients = r[5].flatMap({ Int32($0) }),
                    let destinations = r[6].flatMap({ Int32($0) })
                else { throw bad("host", r) }
                per[r[0] ?? "", default: BaselineSnapshot()].hosts.append(
                    .init(detector: r[1] ?? "", address: addr, firstSeen: first, lastSeen: last, clients: clients, destinations: destinations))
            }
            func hist(_ t: String?) -> [UInt32]? {
                guard let t, t.hasPrefix("{"), t.hasSuffix("}") else { return nil }
                let body = t.dropFirst().dropLast()
                var values: [UInt32] = []
                for part in body.split(separator: ",") {
                    guard let v = Int64(part) else { return nil }
                    values.append(UInt32(clamping: v))
                }
                return values
            }
            for r in try c.exec(
                "SELECT source, detector, host(addr), bytes_out_hist, pcr_hist FROM flowhound_baseline_volumes \(filter) ORDER BY source, detector, addr",
                params)
            {
                guard let addr = r[2].flatMap(IPAddress.parse), let out = hist(r[3]), let pcr = hist(r[4])
                else { throw bad("volume", r) }
                per[r[0] ?? "", default: BaselineSnapshot()].volumes.append(
                    .init(detector: r[1] ?? "", address: addr, hourlyBytesOut: out, hourlyPCR: pcr))
            }
            try c.exec("COMMIT")
            var merged = BaselineSnapshot()
            let sources = per.keys.sorted()
            for name in sources { merged.merge(per[name]!) }
            return (merged, sources)
        } catch {
            if c.isOK { _ = try? c.exec("ROLLBACK") }
            throw error
        }
    }
}

/// Rows in the text format of `COPY … FROM STDIN`: tab-separated columns, one row per line, with backslash,
/// tab, newline and carriage return escaped.
struct CopyText {
    var bytes: [UInt8] = []

    mutating func row(_ columns: [String]) {
        for (i, column) in columns.enumerated() {
            if i > 0 { bytes.append(0x09) }
            for b in column.utf8 {
                switch b {
                case 0x5C: bytes += [0x5C, 0x5C]
                case 0x09: bytes += [0x5C, 0x74]
                case 0x0A: bytes += [0x5C, 0x6E]
                case 0x0D: bytes += [0x5C, 0x72]
                default: bytes.append(b)
                }
            }
        }
        bytes.append(0x0A)
    }
}
