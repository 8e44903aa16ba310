import FlowhoundCore
import Foundation
import GRDB

/// One alert as the store holds it.
package struct StoredAlert: Sendable {
    package var id: Int64
    package var key: String
    package var finding: Finding
    /// Repeats merged into it by suppression (its `count` already includes their events).
    package var repeats: Int
    /// The `@timestamp` it was first written with (the start of its suppression interval).
    package var anchor: Timestamp
}

/// The SQLite alert store (`--output sqlite:PATH`, `flowhound alerts`, `flowhound report --store`).
///
/// Table `alerts` (migration `alerts-v1`, added after the baseline migration; the same file can serve as
/// `--state` too): one row per written alert with every field of the finding (times as nanoseconds of log
/// time, tags/group/evidence as JSON text), its identifier `key`, `anchor` (its first `@timestamp`),
/// `repeats`, and `stored_at` (wall clock, for people). A repeat merged by suppression updates the newest row
/// of its key: `count` grows, `last_seen` moves forward, `repeats` + 1. Each batch is one transaction.
package final class AlertStore {
    package let path: String
    private let queue: DatabaseQueue

    package init(path: String) throws(Diagnostic) {
        self.path = path
        do {
            var config = Configuration()
            config.busyMode = .timeout(10)
            queue = try DatabaseQueue(path: path, configuration: config)
            try StateStore.migrator.migrate(queue)
        } catch {
            throw Diagnostic(
                code: "alert_store", "cannot open the alert store: \(error); check the path and its permissions",
                at: FileLocation(path: path))
        }
    }

    /// Registered by `StateStore.migrator` after its own migrations.
    static func registerMigrations(_ m: inout DatabaseMigrator) {
        m.registerMigration("alerts-v1") { db in
            try db.create(table: "alerts") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("key", .text).notNull()
                t.column("rule_id", .text).notNull()
                t.column("rule_name", .text).notNull()
                t.column("level", .integer).notNull()
                t.column("first_seen", .integer).notNull()
                t.column("last_seen", .integer).notNull()
                t.column("anchor", .integer).notNull()
                t.column("tags", .text).notNull()
                t.column("grp", .text).notNull()
                t.column("source_ip", .text)
                t.column("source_port", .integer)
                t.column("destination_ip", .text)
                t.column("destination_port", .integer)
                t.column("user_name", .text)
                t.column("count", .integer).notNull()
                t.column("window", .double)
                t.column("format", .text).notNull()
                t.column("evidence", .text).notNull()
                t.column("repeats", .integer).notNull().defaults(to: 0)
                t.column("stored_at", .text).notNull()
            }
            try db.create(index: "alerts_by_key", on: "alerts", columns: ["key", "id"])
            try db.create(index: "alerts_by_time", on: "alerts", columns: ["last_seen"])
            try db.create(index: "alerts_by_rule", on: "alerts", columns: ["rule_id"])
        }
    }

    package enum Write: Sendable {
        case insert(Finding, key: String)
        case merge(Finding, key: String)
    }

    /// Applies a batch in one transaction.
    package func apply(_ writes: [Write]) throws(Diagnostic) {
        if writes.isEmpty { return }
        let now = ISO8601DateFormatter().string(from: Date())
        do {
            try queue.write { db in
                let insert = try db.makeStatement(
                    sql: """
                        INSERT INTO alerts (key, rule_id, rule_name, level, first_seen, last_seen, anchor, tags, grp,
                          source_ip, source_port, destination_ip, destination_port, user_name, count, window, format,
                          evidence, repeats, stored_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
                        """)
                let merge = try db.makeStatement(
                    sql: """
                        UPDATE alerts SET count = count + ?, last_seen = MAX(last_seen, ?), repeats = repeats + 1
                        WHERE id = (SELECT MAX(id) FROM alerts WHERE key = ?)
                        """)
                for w in writes {
                    switch w {
                    case .insert(let f, let key):
                        try insert.execute(arguments: [
                            key, f.ruleID, f.title, f.level.rawValue, f.firstSeen.nanoseconds, f.lastSeen.nanoseconds,
                            f.lastSeen.nanoseconds, Self.json(f.tags), Self.json(f.group), f.sourceIP, f.sourcePort,
                            f.destinationIP, f.destinationPort, f.userName, f.count, f.windowSeconds, f.format,
                            Self.json(f.evidence.map { ["file": $0.path, "line": $0.line, "offset": $0.byteOffset, "excerpt": $0.excerpt] as [String: Any] }),
                            now,
                        ])
                    case .merge(let f, let key):
                        try merge.execute(arguments: [f.count, f.lastSeen.nanoseconds, key])
                    }
                }
            }
        } catch {
            throw Diagnostic(code: "alert_store", "cannot write alerts: \(error)", at: FileLocation(path: path))
        }
    }

    /// The newest alert of each key (at most `limit` keys, newest first): its anchor and last-seen, to seed
    /// suppression in a later run.
    package func suppressionSeeds(limit: Int) throws(Diagnostic) -> [(key: String, anchor: Timestamp, lastSeen: Timestamp)] {
        do {
            return try queue.read { db in
                try Row.fetchAll(
                    db,
                    sql: """
                        SELECT a.key, a.anchor, a.last_seen FROM alerts a
                        JOIN (SELECT key, MAX(id) AS id FROM alerts GROUP BY key) n ON a.id = n.id
                        ORDER BY a.anchor DESC LIMIT ?
                        """, arguments: [limit]
                ).map { r in
                    (r["key"], Timestamp(nanoseconds: r["anchor"]), Timestamp(nanoseconds: r["last_seen"]))
                }
            }
        } catch {
            throw Diagnostic(code: "alert_store", "cannot read the alert store: \(error)", at: FileLocation(path: path))
        }
    }

    /// What `flowhound alerts` asks for.
    package struct Query: Sendable {
        /// Alerts whose last event is at or after this log time.
        package var since: Timestamp?
        /// ... and before this one.
        package var until: Timestamp?
        package var ruleID: String?
        package var minimumLevel: Severity?
        package var limit: Int?
        package init() {}
    }

    /// The log time of the newest event of any stored alert (nil for an empty store).
    package func latestLastSeen() throws(Diagnostic) -> Timestamp? {
        do {
            return try queue.read { db in
                try Int64.fetchOne(db, sql: "SELECT MAX(last_seen) FROM alerts").map { Timestamp(nanoseconds: $0) }
            }
        } catch {
            throw Diagnostic(code: "alert_store", "cannot read the alert store: \(error)", at: FileLocation(path: path))
        }
    }

    /// Alerts matching `q`, oldest first (by last event, then id).
    package func alerts(_ q: Query) throws(Diagnostic) -> [StoredAlert] {
        var clauses: [String] = []
        var args: [any DatabaseValueConvertible] = []
        if let s = q.since {
            clauses.append("last_seen >= ?")
            args.append(s.nanoseconds)
        }
        if let u = q.until {
            clauses.append("last_seen < ?")
            args.append(u.nanoseconds)
        }
        if let r = q.ruleID {
            clauses.append("rule_id = ?")
            args.append(r)
        }
        if let l = q.minimumLevel {
            clauses.append("level >= ?")
            args.append(l.rawValue)
        }
        var sql = "SELECT * FROM alerts"
        if !clauses.isEmpty { sql += " WHERE " + clauses.joined(separator: " AND ") }
        sql += " ORDER BY last_seen, id"
        if let limit = q.limit {
            // the newest `limit`, still printed oldest first
            sql = "SELECT * FROM (\(sql.replacingOccurrences(of: "ORDER BY last_seen, id", with: "ORDER BY last_seen DESC, id DESC")) LIMIT \(max(0, limit))) ORDER BY last_seen, id"
        }
        do {
            return try queue.read { db in
                try Row.fetchAll(db, sql: sql, arguments: StatementArguments(args)).map(Self.alert)
            }
        } catch {
            throw Diagnostic(code: "alert_store", "cannot read the alert store: \(error)", at: FileLocation(path: path))
        }
    }

    private static func alert(_ r: Row) -> StoredAlert {
        let tags = (decode(r["tags"]) as? [String]) ?? []
        let group = (decode(r["grp"]) as? [String: String]) ?? [:]
        let evidence = ((decode(r["evidence"]) as? [[String: Any]]) ?? []).map { e in
            Evidence(
                path: e["file"] as? String ?? "", line: (e["line"] as? NSNumber)?.int64Value ?? 0,
                byteOffset: (e["offset"] as? NSNumber)?.int64Value ?? 0, excerpt: e["excerpt"] as? String ?? "")
        }
        let f = Finding(
            ruleID: r["rule_id"], title: r["rule_name"], level: Severity(rawValue: r["level"]) ?? .informational, tags: tags,
            firstSeen: Timestamp(nanoseconds: r["first_seen"]), lastSeen: Timestamp(nanoseconds: r["last_seen"]),
            group: group, sourceIP: r["source_ip"], sourcePort: r["source_port"], destinationIP: r["destination_ip"],
            destinationPort: r["destination_port"], userName: r["user_name"], count: r["count"],
            windowSeconds: r["window"], format: r["format"], evidence: evidence)
        return StoredAlert(id: r["id"], key: r["key"], finding: f, repeats: r["repeats"], anchor: Timestamp(nanoseconds: r["anchor"]))
    }

    private static func json(_ v: Any) -> String {
        guard let d = try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys]) else { return "null" }
        return String(decoding: d, as: UTF8.self)
    }

    private static func decode(_ s: String?) -> Any? {
        guard let s else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(s.utf8))
    }
}
