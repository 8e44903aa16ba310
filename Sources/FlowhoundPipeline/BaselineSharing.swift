import FlowhoundCore
import FlowhoundSinks
import FlowhoundState

/// `flowhound baseline push` / `pull`: one behavioural baseline shared by several flowhound hosts through
/// PostgreSQL (`PostgreSQLBaselineStore`).
///
/// - push: this host's baseline (from its state store) replaces the rows of its source name in the shared
///   store, in one transaction. Volume profile hours that an earlier pull brought in are left out, so they are
///   never counted twice; edges and hosts merge idempotently and are sent whole.
/// - pull: the merge of every *other* source's baseline is merged into the local state store, in one
///   transaction under the state lock; the volume hours of the previous pull are replaced, not added to.
///   Use the same `--source` for push and pull (the default, the host name, is).
package enum BaselineSharing {
    /// The default source name: this machine's host name.
    package static func defaultSource() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, 255) == 0 else { return "unknown" }
        let name = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "unknown" : name
    }

    /// Pushes the baseline of `statePath`; returns the lines to print and the exit status (0 or 2).
    package static func push(statePath: String, url: String, source: String?) -> ([String], Int32) {
        let display = OutputSpec.redactingPassword(url)
        let name = source ?? defaultSource()
        if let bad = check(url: url, display: display, source: name, action: "push") { return ([bad.description], 2) }
        let snapshot: BaselineSnapshot
        do {
            guard let s = try StateStore(path: statePath).loadOwnBaseline() else {
                let d = Diagnostic(
                    code: "baseline_push", "no baseline stored yet; run `flowhound baseline learn --state \(statePath)` first",
                    at: FileLocation(path: statePath))
                return ([d.description], 2)
            }
            snapshot = s
        } catch {
            return ([error.description], 2)
        }
        do {
            let store = try PostgreSQLBaselineStore(url: url)
            let sources = try store.push(snapshot, source: name)
            return (
                [
                    "flowhound: pushed \(snapshot.edges.count) edges, \(snapshot.hosts.count) hosts and "
                        + "\(snapshot.volumes.count) volume profiles as source '\(name)' to \(display) "
                        + "(\(sources) source\(sources == 1 ? "" : "s") stored)"
                ], 0
            )
        } catch {
            let d = Diagnostic(
                code: "baseline_push",
                "cannot push the baseline to \(display): \(error.message); nothing was stored. Check the URL and that the server is up")
            return ([d.description], 2)
        }
    }

    /// Pulls the other sources' baseline into `statePath`; returns the lines to print and the exit status.
    package static func pull(statePath: String, url: String, source: String?) -> ([String], Int32) {
        let display = OutputSpec.redactingPassword(url)
        let name = source ?? defaultSource()
        if let bad = check(url: url, display: display, source: name, action: "pull") { return ([bad.description], 2) }
        let lock: StateLock
        switch StateLock.acquire(statePath: statePath, wait: false) {
        case .success(let l): lock = l
        case .failure(.busy(let holder)):
            let d = Diagnostic(
                code: "state_locked",
                "another flowhound run (pid \(holder)) is using this state; nothing was pulled. Run again when it is done",
                at: FileLocation(path: statePath + ".lock"))
            return ([d.description], 2)
        case .failure(.failed(let d)): return ([d.description], 2)
        }
        defer { withExtendedLifetime(lock) {} }
        let local: StateStore
        do {
            local = try StateStore(path: statePath)
        } catch {
            return ([error.description], 2)
        }
        let shared: BaselineSnapshot
        let sources: [String]
        do {
            (shared, sources) = try PostgreSQLBaselineStore(url: url).pull(excluding: name)
        } catch {
            let d = Diagnostic(
                code: "baseline_pull",
                "cannot pull the baseline from \(display): \(error.message); the local state is unchanged. Check the URL and that the server is up")
            return ([d.description], 2)
        }
        do {
            let merged = try local.mergeShared(shared)
            let list = sources.isEmpty ? "no other source stored yet" : sources.map { "'\($0)'" }.joined(separator: ", ")
            return (
                [
                    "flowhound: merged \(shared.edges.count) edges, \(shared.hosts.count) hosts and \(shared.volumes.count) "
                        + "volume profiles of \(sources.count) source\(sources.count == 1 ? "" : "s") (\(list)) from \(display); "
                        + "baseline now: \(merged.edges.count) edges, \(merged.hosts.count) hosts, \(merged.volumes.count) volume profiles -> \(statePath)"
                ], 0
            )
        } catch {
            return ([error.description], 2)
        }
    }

    private static func check(url: String, display: String, source: String, action: String) -> Diagnostic? {
        guard url.hasPrefix("postgresql://") || url.hasPrefix("postgres://") else {
            return Diagnostic(
                code: "baseline_\(action)",
                "'\(display)' is not a PostgreSQL URL; use postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE (any libpq URI)")
        }
        guard !source.isEmpty, source.utf8.count <= 200, !source.utf8.contains(where: { $0 < 0x20 }) else {
            return Diagnostic(code: "baseline_\(action)", "--source must be 1 to 200 printable characters, got '\(source)'")
        }
        return nil
    }
}
