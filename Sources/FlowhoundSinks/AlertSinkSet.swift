import FlowhoundCore
import Synchronization

/// Every alert output of one run, behind one call: the scan hands each finding to `submit` and moves on.
///
/// Each output has its own `SinkWorker` (bounded queue, own thread), so a slow or failing output never holds
/// up detection or the other outputs. With a suppressor, repeats of a finding within the interval are merged
/// (`SinkItem.repeated`) instead of written again. `close()` drains every queue (waiting at most each output's
/// flush timeout) and returns what went wrong, for the summary and the exit status.
package final class AlertSinkSet: Sendable {
    package struct Output: Sendable {
        package var worker: SinkWorker
        /// How long shutdown waits for this output's queue to drain; nil: as long as it takes (local outputs).
        package var flushTimeout: Double?

        package init(worker: SinkWorker, flushTimeout: Double?) {
            self.worker = worker
            self.flushTimeout = flushTimeout
        }
    }

    /// The outcome of a run's alert delivery.
    package struct Summary: Sendable {
        package var outputs: [SinkStats] = []
        package var emitted = 0
        package var merged = 0
        package var replayed = 0
        package var suppressionEvicted = 0

        package init() {}

        /// Errors: an output that failed to write (exit status 2).
        package var errors: [Diagnostic] {
            outputs.compactMap { s in
                guard let e = s.firstError else { return nil }
                var d = e.diagnostic
                if s.errors > 1 || s.failed > 0 {
                    d.message += " (\(s.errors) failed write\(s.errors == 1 ? "" : "s"), \(s.failed) alert\(s.failed == 1 ? "" : "s") not delivered"
                    if let last = s.lastError, last.message != e.message { d.message += "; last: \(last.message)" }
                    d.message += ")"
                }
                return d
            }
        }

        /// One line per output that lost alerts without an error (queue full, shutdown gave up).
        package var warnings: [Diagnostic] {
            outputs.compactMap { s in
                guard s.dropped > 0 || s.abandoned > 0 else { return nil }
                var parts: [String] = []
                if s.dropped > 0 { parts.append("\(s.dropped) alert\(s.dropped == 1 ? "" : "s") dropped because its queue was full (raise queue= or set when_full=block)") }
                if s.abandoned > 0 { parts.append("\(s.abandoned) still queued when shutdown stopped waiting (flush_timeout=)") }
                return Diagnostic(.warning, code: "alerts_dropped", "alert output \(s.name): " + parts.joined(separator: "; "))
            }
        }
    }

    private struct State: ~Copyable {
        var suppressor: AlertSuppressor?
        var emitted = 0
        var closed = false
    }

    package let outputs: [Output]
    private let state: Mutex<State>

    package init(outputs: [Output], suppressor: AlertSuppressor? = nil) {
        self.outputs = outputs
        state = Mutex(State(suppressor: suppressor))
    }

    /// Hands a finding to every output. Returns false when suppression merged it into an earlier alert (or it
    /// is a replay of one the store already has): then it is not a new alert.
    @discardableResult
    package func submit(_ f: Finding) -> Bool {
        let key = FindingKey.identifier(f)
        let decision: AlertSuppressor.Decision = state.withLock { s in
            let d = s.suppressor?.decide(f, key: key) ?? .emit
            if d == .emit { s.emitted += 1 }
            return d
        }
        switch decision {
        case .emit:
            for o in outputs { o.worker.submit(.alert(f, key: key)) }
            return true
        case .merge:
            for o in outputs { o.worker.submit(.repeated(f, key: key)) }
            return false
        case .replay:
            return false
        }
    }

    /// Waits until every output has written (and synced) what was submitted so far, each at most its flush
    /// timeout. Call before committing state that covers these alerts.
    package func sync() {
        let start = WaitLock.now()
        for o in outputs { o.worker.sync(deadline: o.flushTimeout.map { start + $0 }) }
    }

    /// The file outputs as the last `sync` left them (identity and length), for the state commit.
    package var syncedFiles: [SyncedFile] { outputs.compactMap { $0.worker.syncedFile } }

    /// The first write error of any output so far.
    package var firstError: Diagnostic? {
        outputs.lazy.compactMap { $0.worker.firstError?.diagnostic }.first
    }

    /// Drains and closes every output (in parallel: each waits for its own worker), once.
    package func close() -> Summary {
        var summary = Summary()
        let already = state.withLock { s in
            defer { s.closed = true }
            summary.emitted = s.emitted
            summary.merged = s.suppressor?.merged ?? 0
            summary.replayed = s.suppressor?.replayed ?? 0
            summary.suppressionEvicted = s.suppressor?.evicted ?? 0
            return s.closed
        }
        if already { return summary }
        let start = WaitLock.now()
        for o in outputs {
            summary.outputs.append(o.worker.close(deadline: o.flushTimeout.map { start + $0 }))
        }
        return summary
    }
}

extension AlertSinkSet.Summary {
    /// The summary lines about suppression (empty when nothing was merged or skipped).
    package var suppressionSummary: String {
        var s = ""
        if merged > 0 {
            s += "flowhound: \(merged) repeated finding\(merged == 1 ? "" : "s") merged into earlier alerts (--suppress)\n"
        }
        if replayed > 0 {
            s += "flowhound: \(replayed) finding\(replayed == 1 ? "" : "s") already in the alert store skipped (logs scanned before)\n"
        }
        if suppressionEvicted > 0 {
            s += "flowhound: suppression forgot \(suppressionEvicted) key\(suppressionEvicted == 1 ? "" : "s") (capacity reached)\n"
        }
        return s
    }
}
