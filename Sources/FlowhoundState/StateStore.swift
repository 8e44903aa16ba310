import FlowhoundCore
import Foundation
import GRDB

/// flowhound's persistent state in one SQLite file (GRDB): learned baselines now; cursors and detector window
/// state will join them in the same transactions.
///
/// Schema changes are numbered GRDB migrations. Every write is one transaction, so a crash leaves either the
/// old or the new state, never a mix. The file is opened in WAL mode; one process writes at a time.
package final class StateStore {
    package let path: String
    let queue: DatabaseQueue

    /// Opens (creating it when missing) the store at `path` and brings its schema up to date.
    package init(path: String) throws(Diagnostic) {
        self.path = path
        do {
            var config = Configuration()
            config.busyMode = .timeout(5)
            // checkpoints must survive power loss once committed (WAL + NORMAL only survives a crash)
            config.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            queue = try DatabaseQueue(path: path, configuration: config)
            try Self.migrator.migrate(queue)
        } catch {
            throw Diagnostic(
                code: "state_store", "cannot open the state store: \(error); check the path (--state) and its permissions",
                at: FileLocation(path: path))
        }
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-baselines") { db in
            try db.create(table: "baseline_meta") { t in
                t.primaryKey("id", .integer)
                t.column("learning_start", .integer)
                t.column("clock", .integer)
                t.column("updated_at", .text).notNull()
            }
            try db.create(table: "baseline_edge") { t in
                t.column("detector", .text).notNull()
                t.column("src_hi", .integer).notNull()
                t.column("src_lo", .integer).notNull()
                t.column("dst_hi", .integer).notNull()
                t.column("dst_lo", .integer).notNull()
                t.column("service", .integer).notNull()
                t.column("first_seen", .integer).notNull()
                t.column("last_seen", .integer).notNull()
                t.column("days", .integer).notNull()
                t.primaryKey(["detector", "src_hi", "src_lo", "dst_hi", "dst_lo", "service"])
            }
            try db.create(table: "baseline_host") { t in
                t.column("detector", .text).notNull()
                t.column("addr_hi", .integer).notNull()
                t.column("addr_lo", .integer).notNull()
                t.column("first_seen", .integer).notNull()
                t.column("last_seen", .integer).notNull()
                t.column("clients", .integer).notNull()
                t.column("destinations", .integer).notNull()
                t.primaryKey(["detector", "addr_hi", "addr_lo"])
            }
            try db.create(table: "baseline_volume") { t in
                t.column("detector", .text).notNull()
                t.column("addr_hi", .integer).notNull()
                t.column("addr_lo", .integer).notNull()
                t.column("bytes_out_hist", .text).notNull()
                t.column("pcr_hist", .text).notNull()
                t.primaryKey(["detector", "addr_hi", "addr_lo"])
            }
        }
        registerIngestMigrations(&m)
        AlertStore.registerMigrations(&m)
        m.registerMigration("v3-baseline-pulled") { db in
            // The volume profiles last merged in by `baseline pull` (the sum over the other hosts), kept apart so
            // that a later pull replaces them instead of adding them twice, and a push sends only this host's own.
            try db.create(table: "baseline_pulled_volume") { t in
                t.column("detector", .text).notNull()
                t.column("addr_hi", .integer).notNull()
                t.column("addr_lo", .integer).notNull()
                t.column("bytes_out_hist", .text).notNull()
                t.column("pcr_hist", .text).notNull()
                t.primaryKey(["detector", "addr_hi", "addr_lo"])
            }
        }
        return m
    }

    /// Replaces the stored baseline with `snapshot`, in one transaction.
    package func saveBaseline(_ snapshot: BaselineSnapshot) throws(Diagnostic) {
        do {
            try queue.write { db in try Self.writeBaseline(snapshot, db) }
        } catch {
            throw Diagnostic(code: "state_store", "cannot save the baseline: \(error)", at: FileLocation(path: path))
        }
    }

    /// Replaces the stored baseline inside the caller's transaction.
    static func writeBaseline(_ snapshot: BaselineSnapshot, _ db: Database) throws {
        try db.execute(sql: "DELETE FROM baseline_edge; DELETE FROM baseline_host; DELETE FROM baseline_volume; DELETE FROM baseline_meta")
        try db.execute(
            sql: "INSERT INTO baseline_meta (id, learning_start, clock, updated_at) VALUES (1, ?, ?, ?)",
            arguments: [snapshot.learningStart, snapshot.clock, ISO8601DateFormatter().string(from: Date())])
        let edge = try db.makeStatement(
            sql: "INSERT INTO baseline_edge VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        for e in snapshot.edges {
            try edge.execute(arguments: [
                e.detector, Int64(bitPattern: e.source.high), Int64(bitPattern: e.source.low),
                Int64(bitPattern: e.destination.high), Int64(bitPattern: e.destination.low), Int64(e.service),
                e.firstSeen, e.lastSeen, Int64(e.days),
            ])
        }
        let host = try db.makeStatement(sql: "INSERT INTO baseline_host VALUES (?, ?, ?, ?, ?, ?, ?)")
        for h in snapshot.hosts {
            try host.execute(arguments: [
                h.detector, Int64(bitPattern: h.address.high), Int64(bitPattern: h.address.low), h.firstSeen,
                h.lastSeen, Int64(h.clients), Int64(h.destinations),
            ])
        }
        try writeVolumes(snapshot.volumes, db, table: "baseline_volume")
    }

    /// The stored baseline, or nil when none was saved yet.
    package func loadBaseline() throws(Diagnostic) -> BaselineSnapshot? {
        do {
            return try queue.read { db in try Self.readBaseline(db) }
        } catch {
            throw Diagnostic(code: "state_store", "cannot read the baseline: \(error)", at: FileLocation(path: path))
        }
    }

    /// The baseline this host learned itself, for `baseline push`: the stored one without the volume profile
    /// hours that an earlier `baseline pull` added (edges and hosts merge idempotently, so they are sent whole).
    /// Nil when no baseline was saved yet.
    package func loadOwnBaseline() throws(Diagnostic) -> BaselineSnapshot? {
        do {
            return try queue.read { db -> BaselineSnapshot? in
                guard var s = try Self.readBaseline(db) else { return nil }
                s.subtractVolumes(try Self.readVolumes(db, table: "baseline_pulled_volume"))
                return s
            }
        } catch {
            throw Diagnostic(code: "state_store", "cannot read the baseline: \(error)", at: FileLocation(path: path))
        }
    }

    /// Merges a shared baseline (the other hosts', from `baseline pull`) into the stored one, in one transaction,
    /// and returns the result. The volume hours merged in by the previous pull are taken out first and `shared`'s
    /// are remembered in their place, so pulling again replaces the other hosts' profiles instead of adding them
    /// twice; edges and hosts follow `BaselineSnapshot.merge`.
    @discardableResult
    package func mergeShared(_ shared: BaselineSnapshot) throws(Diagnostic) -> BaselineSnapshot {
        do {
            return try queue.write { db -> BaselineSnapshot in
                var s = try Self.readBaseline(db) ?? BaselineSnapshot()
                s.subtractVolumes(try Self.readVolumes(db, table: "baseline_pulled_volume"))
                s.merge(shared)
                try Self.writeBaseline(s, db)
                try db.execute(sql: "DELETE FROM baseline_pulled_volume")
                try Self.writeVolumes(shared.volumes, db, table: "baseline_pulled_volume")
                return s
            }
        } catch {
            throw Diagnostic(code: "state_store", "cannot merge the shared baseline: \(error)", at: FileLocation(path: path))
        }
    }

    static func readBaseline(_ db: Database) throws -> BaselineSnapshot? {
        guard let meta = try Row.fetchOne(db, sql: "SELECT learning_start, clock FROM baseline_meta WHERE id = 1")
        else { return nil }
        var s = BaselineSnapshot()
        s.learningStart = meta["learning_start"]
        s.clock = meta["clock"]
        for r in try Row.fetchAll(db, sql: "SELECT * FROM baseline_edge ORDER BY detector, src_hi, src_lo, dst_hi, dst_lo, service") {
            s.edges.append(
                BaselineSnapshot.Edge(
                    detector: r["detector"],
                    source: IPAddress(high: UInt64(bitPattern: r["src_hi"]), low: UInt64(bitPattern: r["src_lo"])),
                    destination: IPAddress(high: UInt64(bitPattern: r["dst_hi"]), low: UInt64(bitPattern: r["dst_lo"])),
                    service: UInt32(truncatingIfNeeded: r["service"] as Int64), firstSeen: r["first_seen"],
                    lastSeen: r["last_seen"], days: UInt8(clamping: r["days"] as Int64)))
        }
        for r in try Row.fetchAll(db, sql: "SELECT * FROM baseline_host ORDER BY detector, addr_hi, addr_lo") {
            s.hosts.append(
                BaselineSnapshot.Host(
                    detector: r["detector"],
                    address: IPAddress(high: UInt64(bitPattern: r["addr_hi"]), low: UInt64(bitPattern: r["addr_lo"])),
                    firstSeen: r["first_seen"], lastSeen: r["last_seen"],
                    clients: Int32(clamping: r["clients"] as Int64), destinations: Int32(clamping: r["destinations"] as Int64)))
        }
        s.volumes = try readVolumes(db, table: "baseline_volume")
        return s
    }

    static func readVolumes(_ db: Database, table: String) throws -> [BaselineSnapshot.Volume] {
        func hist(_ t: String) -> [UInt32] { t.split(separator: ",").compactMap { UInt32($0) } }
        return try Row.fetchAll(db, sql: "SELECT * FROM \(table) ORDER BY detector, addr_hi, addr_lo").map { r in
            BaselineSnapshot.Volume(
                detector: r["detector"],
                address: IPAddress(high: UInt64(bitPattern: r["addr_hi"]), low: UInt64(bitPattern: r["addr_lo"])),
                hourlyBytesOut: hist(r["bytes_out_hist"]), hourlyPCR: hist(r["pcr_hist"]))
        }
    }

    static func writeVolumes(_ volumes: [BaselineSnapshot.Volume], _ db: Database, table: String) throws {
        let vol = try db.makeStatement(sql: "INSERT INTO \(table) VALUES (?, ?, ?, ?, ?)")
        for v in volumes {
            try vol.execute(arguments: [
                v.detector, Int64(bitPattern: v.address.high), Int64(bitPattern: v.address.low),
                v.hourlyBytesOut.map(String.init).joined(separator: ","),
                v.hourlyPCR.map(String.init).joined(separator: ","),
            ])
        }
    }
}
