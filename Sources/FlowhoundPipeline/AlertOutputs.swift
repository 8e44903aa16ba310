import FlowhoundCore
import FlowhoundSinks
import FlowhoundState

/// Where a run's alerts go and how repeats are merged (`--output`, `--outputs-file`, `--store`, `--suppress`).
package struct AlertOutputOptions: Sendable {
    /// The outputs; empty means standard output (plus `ScanOptions.outputPath`, when set).
    package var specs: [OutputSpec] = []
    /// Format of file outputs that name none (`--alert-format`, json when auto).
    package var fileFormat: AlertFormat = .json
    /// Colour text on standard output (set only when it is a terminal and NO_COLOR is unset).
    package var stdoutIsTerminal = false
    /// Merge repeats of a finding within this many seconds of log time; nil: no suppression.
    package var suppressSeconds: Int64?
    /// Most keys the suppressor remembers.
    package var suppressionCapacity = 100_000
    /// Keeps every finding in memory as well (the HTML report); not an output of its own.
    package var collector: FindingCollector?
    /// With no outputs named, write to standard output (false for the report, which only collects).
    package var defaultToStdout = true

    package init() {}
}

/// Every finding of a run, in the order submitted (for `flowhound report`). Bounded: past `capacity` findings
/// are counted in `dropped`, not kept.
package final class FindingCollector: AlertSinkBackend, @unchecked Sendable {  // `items` is guarded by `lock`
    package let name = "report"
    private let lock = NSLockLike()
    private var items: [Finding] = []
    package let capacity: Int
    package private(set) var dropped = 0

    package init(capacity: Int = 200_000) { self.capacity = capacity }

    package var findings: [Finding] { lock.with { items } }

    package func write(_ batch: [SinkItem], control: SinkControl) throws(SinkError) {
        lock.with {
            for case .alert(let f, _) in batch {
                if items.count < capacity { items.append(f) } else { dropped += 1 }
            }
        }
    }

    package func close() {}
}

/// A plain pthread mutex (Foundation-free), for the few places outside the sinks that need one.
final class NSLockLike: @unchecked Sendable {  // the pthread mutex is the lock
    private let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    init() { pthread_mutex_init(m, nil) }
    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }
    func with<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }
}

/// Writes alerts into the SQLite alert store, one transaction per batch; repeats update the stored alert.
final class AlertStoreSink: AlertSinkBackend {
    let name: String
    private let store: AlertStore

    init(path: String) throws(Diagnostic) {
        name = "sqlite:" + path
        store = try AlertStore(path: path)
    }

    func write(_ batch: [SinkItem], control: SinkControl) throws(SinkError) {
        let writes: [AlertStore.Write] = batch.map {
            switch $0 {
            case .alert(let f, let key): .insert(f, key: key)
            case .repeated(let f, let key): .merge(f, key: key)
            }
        }
        do { try store.apply(writes) } catch {
            throw SinkError(sink: name, code: "alert_store", error.message)
        }
    }

    func close() {}
}

/// Builds the outputs of a run from its options.
package enum AlertOutputs {
    /// Writes straight to standard error, from any thread (sink workers report failures as they happen).
    package static let stderr: @Sendable (String) -> Void = { s in
        var bytes = Array(s.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeMutableBytes { p in write(2, p.baseAddress! + off, p.count - off) }
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                return
            }
            off += n
        }
    }

    /// Opens every output (a file that cannot be created, a bad URL or an unreadable store is an error before
    /// any input is read) and the suppressor, seeded from the first SQLite store.
    /// `installHangup`: reopen files on SIGHUP through `HangupSignal` (scan); `tail` handles SIGHUP itself (it
    /// rebuilds its outputs when it reloads rules) and passes false.
    package static func open(
        _ options: ScanOptions, installHangup: Bool = true,
        report: @escaping @Sendable (String) -> Void = AlertOutputs.stderr
    ) throws(Diagnostic) -> AlertSinkSet {
        let a = options.alerts
        var specs = a.specs
        if let path = options.outputPath {
            specs.append(OutputSpec(kind: .file(path), options: [:], headers: [], display: path))
        }
        if specs.isEmpty && a.defaultToStdout { specs = [OutputSpec(kind: .stdout, display: "stdout")] }
        var outputs: [AlertSinkSet.Output] = []
        var firstStore: String?
        func fail(_ e: SinkError) -> Diagnostic { e.diagnostic }
        for spec in specs {
            let backend: any AlertSinkBackend
            var capacity = 16_384, batch = 512
            var flushTimeout: Double? = nil
            do {
                switch spec.kind {
                case .stdout:
                    let format = spec.format ?? options.alertFormat
                    backend = StreamSink(stdoutFormat: format, colour: a.stdoutIsTerminal && format == .text)
                case .file(let path):
                    let format = spec.format ?? (options.outputPath == path && spec.options.isEmpty ? options.alertFormat : a.fileFormat)
                    backend = try StreamSink(path: path, format: format)
                case .syslog(let transport):
                    let facility = spec.options["facility"].flatMap { SyslogMessage.facilities[$0] ?? Int($0) } ?? 16
                    backend = SyslogSink(
                        transport: transport, name: spec.display, facility: facility, format: spec.format ?? .json,
                        appName: spec.options["app"] ?? "flowhound", maxMessage: spec.int("max_message"))
                    capacity = 4096
                    batch = 256
                    flushTimeout = 30
                case .webhook(let url):
                    backend = try WebhookSink(
                        url: url, name: spec.display, caFile: spec.options["ca"],
                        insecure: spec.options["insecure"] == "1" || spec.options["insecure"] == "true",
                        headers: spec.headers, timeout: spec.double("timeout") ?? 10, retries: spec.int("retries") ?? 4,
                        backoff: spec.double("backoff") ?? 0.5, backoffMax: spec.double("backoff_max") ?? 30)
                    capacity = 4096
                    batch = 100
                    flushTimeout = 30
                case .postgresql(let url):
                    backend = try PostgreSQLSink(
                        conninfo: url, name: spec.display, table: spec.options["table"] ?? PostgreSQLSink.defaultTable)
                    capacity = 16_384
                    batch = 500
                    flushTimeout = 30
                case .sqlite(let path):
                    backend = try AlertStoreSink(path: path)
                    if firstStore == nil { firstStore = path }
                    batch = 1000
                }
            } catch let e as SinkError {
                throw fail(e)
            } catch let d as Diagnostic {
                throw d
            } catch {
                throw Diagnostic(code: "bad_output", "\(spec.display): \(error)")
            }
            capacity = spec.int("queue") ?? capacity
            batch = spec.int("batch") ?? batch
            if let t = spec.double("flush_timeout") { flushTimeout = t }
            let policy = spec.options["when_full"].flatMap(QueueFullPolicy.init(rawValue:)) ?? .drop
            outputs.append(
                AlertSinkSet.Output(
                    worker: SinkWorker(backend: backend, capacity: capacity, batchSize: batch, policy: policy, report: report),
                    flushTimeout: flushTimeout))
        }
        if let collector = a.collector {
            outputs.append(
                AlertSinkSet.Output(
                    worker: SinkWorker(backend: collector, capacity: 1 << 20, batchSize: 4096, policy: .block, report: report),
                    flushTimeout: nil))
        }
        var suppressor: AlertSuppressor?
        if let seconds = a.suppressSeconds {
            var s = AlertSuppressor(intervalSeconds: seconds, capacity: a.suppressionCapacity)
            if let path = firstStore {
                let store = try AlertStore(path: path)
                for seed in try store.suppressionSeeds(limit: a.suppressionCapacity) {
                    s.seed(key: seed.key, anchor: seed.anchor, lastSeen: seed.lastSeen)
                }
            }
            suppressor = s
        }
        if installHangup && specs.contains(where: { if case .file = $0.kind { true } else { false } }) {
            HangupSignal.install()
        }
        // A closed stdout pipe (`| head`) must not kill the process while other outputs still have alerts to
        // write: then it becomes a write error of the stdout output. With stdout alone, the usual SIGPIPE exit.
        if specs.contains(where: { $0.kind != .stdout }) { signal(SIGPIPE, SIG_IGN) }
        return AlertSinkSet(outputs: outputs, suppressor: suppressor)
    }
}

/// The alert outputs of `scan --incremental` and `tail` behind `FindingOutput`: `sync` waits until every
/// output has written (and a file fsynced) what was handed over, so state committed after it covers only
/// delivered alerts. Closed (queues drained, problems reported on stderr) when released.
final class SinkSetOutput: FindingOutput {
    let sinks: AlertSinkSet

    init(_ sinks: AlertSinkSet) { self.sinks = sinks }

    func write(_ f: Finding) { sinks.submit(f) }

    /// Nothing: every output writes from its own queue as findings arrive.
    func flush() {}

    func sync() { sinks.sync() }

    var failure: Diagnostic? { sinks.firstError }

    var syncedFiles: [SyncedFile] { sinks.syncedFiles }

    deinit {
        let summary = sinks.close()
        for d in summary.warnings { AlertOutputs.stderr(d.description + "\n") }
    }
}
