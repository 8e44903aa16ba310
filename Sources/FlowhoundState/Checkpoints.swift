import FlowhoundCore
import Foundation
import GRDB

/// Where reading of one file identity stopped (`scan --incremental`, `tail`).
///
/// Identity is (device, inode) plus `prefix`, the first ≤ 1 KiB of decoded content; `offset` is the decoded
/// offset just past the last complete line that was processed, `marker` the bytes just before it (≤ 32). A
/// checkpoint belongs to the file the user named (`primary`); `path` is where the identity was last seen.
package struct Checkpoint: Sendable, Equatable {
    package var primary: String
    package var path: String
    package var device: UInt64
    package var inode: UInt64
    package var prefix: [UInt8]
    package var offset: Int64
    /// Number of the last line processed (line numbers continue across runs).
    package var line: Int64
    package var marker: [UInt8]
    package var compressed: Bool
    /// The file can give nothing more (a complete or damaged `.gz`): matched, never read again.
    package var done: Bool
    /// Last seen under the primary name itself (its loss is reported: ingest.md item 26).
    package var active: Bool
    /// Wall-clock time (ns) the identity was last found on disk (retention).
    package var seenAt: Int64
    /// `offset` lies inside an overlong line already delivered cut: skip to its end on resume.
    package var insideCutLine = false

    package init(
        primary: String, path: String, device: UInt64, inode: UInt64, prefix: [UInt8], offset: Int64, line: Int64,
        marker: [UInt8], compressed: Bool, done: Bool, active: Bool, seenAt: Int64
    ) {
        self.primary = primary
        self.path = path
        self.device = device
        self.inode = inode
        self.prefix = prefix
        self.offset = offset
        self.line = line
        self.marker = marker
        self.compressed = compressed
        self.done = done
        self.active = active
        self.seenAt = seenAt
    }
}

/// A log line kept because detector windows may still need it after the run ends (correlation windows,
/// behavioural windows): replayed, with output muted, at the start of the next run. `header` lines are the
/// `#` lines of a Zeek TSV file, needed to decode its other lines.
package struct CarriedLine: Sendable, Equatable {
    package var path: String
    package var line: Int64
    package var offset: Int64
    package var format: String
    package var header: Bool
    package var bytes: [UInt8]

    package init(path: String, line: Int64, offset: Int64, format: String, header: Bool, bytes: [UInt8]) {
        self.path = path
        self.line = line
        self.offset = offset
        self.format = format
        self.header = header
        self.bytes = bytes
    }
}

/// An alert (or `--emit-raw`) output file as it was when the state was committed: its identity and its
/// length after the flush and fsync that the commit covers. On the next start a file that is still this
/// inode and has grown is cut back to `length` before the inputs resume from their checkpoints, so what was
/// written after the last commit is written again exactly once (exactly-once delivery to files).
package typealias OutputPosition = FilePosition

/// Everything `scan --incremental` and `tail` carry from one run to the next, committed in one transaction.
package struct IngestState: Sendable, Equatable {
    package var checkpoints: [Checkpoint] = []
    /// The output files' identities and lengths covered by this commit.
    package var outputs: [OutputPosition] = []
    /// Wall-clock time (ns) of the commit (0 when nothing was committed yet, or by a version without it).
    package var committedAt: Int64 = 0
    /// Wall-clock start (ns) of the last run that read each primary.
    package var runStarts: [String: Int64] = [:]
    package var carried: [CarriedLine] = []
    /// The run that committed this ended cleanly: open findings were written before the commit (so open
    /// findings rebuilt from `carried` were already reported). False after `tail` committed while running.
    package var findingsWritten = true

    package init() {}

    /// True when nothing was ever committed.
    package var isEmpty: Bool { checkpoints.isEmpty && runStarts.isEmpty && carried.isEmpty }
}

extension StateStore {
    static func registerIngestMigrations(_ m: inout DatabaseMigrator) {
        m.registerMigration("v2-checkpoints") { db in
            try db.create(table: "checkpoint") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("primary_path", .text).notNull()
                t.column("path", .text).notNull()
                t.column("device", .integer).notNull()
                t.column("inode", .integer).notNull()
                t.column("prefix", .blob).notNull()
                t.column("offset", .integer).notNull()
                t.column("line", .integer).notNull()
                t.column("marker", .blob).notNull()
                t.column("compressed", .boolean).notNull()
                t.column("done", .boolean).notNull()
                t.column("active", .boolean).notNull()
                t.column("seen_at", .integer).notNull()
                t.column("inside_cut_line", .boolean).notNull().defaults(to: false)
            }
            try db.create(table: "ingest_run") { t in
                t.primaryKey("primary_path", .text)
                t.column("started_at", .integer).notNull()
            }
            try db.create(table: "ingest_meta") { t in
                t.primaryKey("key", .text)
                t.column("value", .integer).notNull()
            }
            try db.create(table: "carried_line") { t in
                t.primaryKey("seq", .integer)
                t.column("path", .text).notNull()
                t.column("line", .integer).notNull()
                t.column("offset", .integer).notNull()
                t.column("format", .text).notNull()
                t.column("header", .boolean).notNull()
                t.column("bytes", .blob).notNull()
            }
        }
        m.registerMigration("v3-output-positions") { db in
            try db.create(table: "output_position") { t in
                t.primaryKey("path", .text)
                t.column("device", .integer).notNull()
                t.column("inode", .integer).notNull()
                t.column("length", .integer).notNull()
            }
        }
    }

    /// The saved checkpoints, run starts and carried lines (empty when nothing was committed yet).
    package func loadIngestState() throws(Diagnostic) -> IngestState {
        do {
            return try queue.read { db -> IngestState in
                var s = IngestState()
                for r in try Row.fetchAll(db, sql: "SELECT * FROM checkpoint ORDER BY id") {
                    s.checkpoints.append(
                        Checkpoint(
                            primary: r["primary_path"], path: r["path"],
                            device: UInt64(bitPattern: r["device"] as Int64), inode: UInt64(bitPattern: r["inode"] as Int64),
                            prefix: [UInt8](r["prefix"] as Data), offset: r["offset"], line: r["line"],
                            marker: [UInt8](r["marker"] as Data), compressed: r["compressed"], done: r["done"],
                            active: r["active"], seenAt: r["seen_at"]))
                    s.checkpoints[s.checkpoints.count - 1].insideCutLine = r["inside_cut_line"]
                }
                for r in try Row.fetchAll(db, sql: "SELECT * FROM ingest_run") {
                    s.runStarts[r["primary_path"]] = r["started_at"]
                }
                if let v = try Int64.fetchOne(db, sql: "SELECT value FROM ingest_meta WHERE key = 'findings_written'") {
                    s.findingsWritten = v != 0
                }
                if let v = try Int64.fetchOne(db, sql: "SELECT value FROM ingest_meta WHERE key = 'committed_at'") {
                    s.committedAt = v
                }
                for r in try Row.fetchAll(db, sql: "SELECT * FROM output_position ORDER BY path") {
                    s.outputs.append(
                        OutputPosition(
                            path: r["path"], device: UInt64(bitPattern: r["device"] as Int64),
                            inode: UInt64(bitPattern: r["inode"] as Int64), length: r["length"]))
                }
                for r in try Row.fetchAll(db, sql: "SELECT * FROM carried_line ORDER BY seq") {
                    s.carried.append(
                        CarriedLine(
                            path: r["path"], line: r["line"], offset: r["offset"], format: r["format"], header: r["header"],
                            bytes: [UInt8](r["bytes"] as Data)))
                }
                return s
            }
        } catch {
            throw Diagnostic(
                code: "state_store",
                "cannot read the saved positions: \(error); the state file is damaged: move it away or pass --reset-state",
                at: FileLocation(path: path))
        }
    }

    /// Records the output files' identities and lengths at the start of a run (after they were cut back), for
    /// the outputs named in `positions` only: until the run's first commit a crash cuts them back to here.
    package func saveOutputPositions(_ positions: [OutputPosition]) throws(Diagnostic) {
        do {
            try queue.write { db in
                let del = try db.makeStatement(sql: "DELETE FROM output_position WHERE path = ?")
                let ins = try db.makeStatement(sql: "INSERT INTO output_position VALUES (?, ?, ?, ?)")
                for o in positions {
                    try del.execute(arguments: [o.path])
                    try ins.execute(arguments: [o.path, Int64(bitPattern: o.device), Int64(bitPattern: o.inode), o.length])
                }
            }
        } catch {
            throw Diagnostic(code: "state_store", "cannot save the output files' lengths: \(error)", at: FileLocation(path: path))
        }
    }

    /// Replaces the saved positions, run starts and carried lines, and (when given) the baseline, in **one**
    /// transaction: after a crash either all of the old state or all of the new state is there.
    package func commit(_ s: IngestState, baseline: BaselineSnapshot?) throws(Diagnostic) {
        do {
            try queue.write { db in
                try db.execute(
                    sql: """
                        DELETE FROM checkpoint; DELETE FROM ingest_run; DELETE FROM carried_line; DELETE FROM ingest_meta;
                        DELETE FROM output_position
                        """)
                try db.execute(
                    sql: "INSERT INTO ingest_meta VALUES ('findings_written', ?)", arguments: [s.findingsWritten ? 1 : 0])
                try db.execute(sql: "INSERT INTO ingest_meta VALUES ('committed_at', ?)", arguments: [s.committedAt])
                let out = try db.makeStatement(sql: "INSERT OR REPLACE INTO output_position VALUES (?, ?, ?, ?)")
                for o in s.outputs {
                    try out.execute(arguments: [o.path, Int64(bitPattern: o.device), Int64(bitPattern: o.inode), o.length])
                }
                let ck = try db.makeStatement(
                    sql: """
                        INSERT INTO checkpoint (primary_path, path, device, inode, prefix, offset, line, marker,
                            compressed, done, active, seen_at, inside_cut_line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                for c in s.checkpoints {
                    try ck.execute(arguments: [
                        c.primary, c.path, Int64(bitPattern: c.device), Int64(bitPattern: c.inode), Data(c.prefix),
                        c.offset, c.line, Data(c.marker), c.compressed, c.done, c.active, c.seenAt, c.insideCutLine,
                    ])
                }
                let run = try db.makeStatement(sql: "INSERT INTO ingest_run VALUES (?, ?)")
                for (p, t) in s.runStarts.sorted(by: { $0.key < $1.key }) { try run.execute(arguments: [p, t]) }
                let line = try db.makeStatement(sql: "INSERT INTO carried_line VALUES (?, ?, ?, ?, ?, ?, ?)")
                for (i, l) in s.carried.enumerated() {
                    try line.execute(arguments: [i, l.path, l.line, l.offset, l.format, l.header, Data(l.bytes)])
                }
                if let baseline { try Self.writeBaseline(baseline, db) }
            }
        } catch {
            throw Diagnostic(
                code: "state_store", "cannot save the read positions: \(error); the next run reads the same lines again",
                at: FileLocation(path: path))
        }
    }
}
