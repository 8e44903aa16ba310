import FlowhoundCore

/// What a sink is handed, in the order findings were made.
package enum SinkItem: Sendable {
    /// A new alert. `key` is its identifier (`FindingKey`), the same for repeats of one finding.
    case alert(Finding, key: String)
    /// A repeat of an alert already written, merged into it by suppression (`--suppress`). Sinks that keep
    /// records (the SQLite store) add its count and move last-seen; stream sinks write nothing for it.
    case repeated(Finding, key: String)
}

/// A sink failure: which sink, a stable code, and what to do about it.
package struct SinkError: Error, Sendable, CustomStringConvertible {
    package var sink: String
    package var code: String
    package var message: String

    package init(sink: String, code: String, _ message: String) {
        self.sink = sink
        self.code = code
        self.message = message
    }

    package var description: String { "flowhound: error[\(code)]: alert output \(sink): \(message)" }

    package var diagnostic: Diagnostic {
        Diagnostic(code: code, "alert output \(sink): \(message)")
    }
}

/// One destination of alerts. Each backend is owned by one `SinkWorker` thread: `write`, `reopen` and `close`
/// are only ever called from it, one at a time, so a backend needs no locks of its own.
package protocol AlertSinkBackend: AnyObject {
    /// How the sink is named in messages (the output spec, credentials left out).
    var name: String { get }
    /// Writes one batch (at most the worker's batch size). A throw fails the whole batch: the worker counts its
    /// alerts as failed, reports the error and carries on with the next batch.
    func write(_ batch: [SinkItem], control: SinkControl) throws(SinkError)
    /// Reopens whatever the sink writes to (the file sink after SIGHUP). Default: nothing.
    func reopen() throws(SinkError)
    /// Makes what was written durable (a file sink: `fsync`). Default: nothing.
    func sync()
    /// A file sink: the file's identity and length as the last `sync` left it (read from any thread). Default:
    /// nil (not a file: standard output, network sinks, the store).
    var syncedFile: SyncedFile? { get }
    /// Writes out anything buffered and releases the destination.
    func close()
}

extension AlertSinkBackend {
    package func reopen() throws(SinkError) {}
    package func sync() {}
    package var syncedFile: SyncedFile? { nil }
}

/// An output file after an fsync: where it is, which inode it is, and how long it was.
package typealias SyncedFile = FilePosition

/// What a backend may ask its worker while it writes: whether shutdown gave up waiting (then retries stop).
package final class SinkControl: @unchecked Sendable {  // `abandonedFlag` is guarded by `lock`
    private let lock = WaitLock()
    private var abandonedFlag = false

    package init() {}

    /// True once `close` ran out of time: a backend in a retry loop should give up now.
    package var abandoned: Bool { lock.withLock { abandonedFlag } }

    func abandon() { lock.withLock { abandonedFlag = true } }

    /// Sleeps up to `seconds`, waking early (and returning false) when the worker is abandoned.
    package func sleep(seconds: Double) -> Bool {
        var left = seconds
        while left > 0 {
            if abandoned { return false }
            let step = min(left, 0.05)
            var ts = timespec(tv_sec: 0, tv_nsec: Int(step * 1e9))
            nanosleep(&ts, nil)
            left -= step
        }
        return !abandoned
    }
}
