import FlowhoundCore

/// How a sink's queue behaves when it is full.
package enum QueueFullPolicy: String, Sendable {
    /// Drop the new alert and count it: detection never waits (the default).
    case drop
    /// Wait for room: no alert is lost, but a stalled sink stalls detection.
    case block
}

/// Counters of one sink, read at shutdown.
package struct SinkStats: Sendable {
    package var name: String
    package var written = 0
    package var dropped = 0
    package var failed = 0
    /// Items still queued when shutdown stopped waiting.
    package var abandoned = 0
    package var errors = 0
    package var firstError: SinkError?
    package var lastError: SinkError?
}

/// One sink's bounded queue and the thread that empties it into the backend.
///
/// `submit` never blocks under the `drop` policy: when `capacity` items are waiting, the new one is counted
/// as dropped. The worker takes up to `batchSize` items at a time, in order. A failing batch is counted and
/// reported through `report` (the first error immediately, later ones in the summary) and the worker goes on.
/// `close(deadline:)` lets the worker drain what is queued, waiting at most until the deadline.
package final class SinkWorker: @unchecked Sendable {  // all mutable state is guarded by `lock`
    package let name: String
    let capacity: Int
    let batchSize: Int
    let policy: QueueFullPolicy
    private let backend: any AlertSinkBackend
    private let lock = WaitLock()
    private let control = SinkControl()
    private let report: @Sendable (String) -> Void
    private var pending: [SinkItem] = []
    private var head = 0
    private var closing = false
    private var finished = false
    private var reopenGeneration: Int
    private var busy = false
    private var syncWanted = 0
    private var syncDone = 0
    private var stats: SinkStats
    private var thread: pthread_t?

    package init(
        backend: any AlertSinkBackend, capacity: Int, batchSize: Int, policy: QueueFullPolicy = .drop,
        report: @escaping @Sendable (String) -> Void
    ) {
        self.backend = backend
        name = backend.name
        self.capacity = max(1, capacity)
        self.batchSize = max(1, batchSize)
        self.policy = policy
        self.report = report
        stats = SinkStats(name: backend.name)
        reopenGeneration = HangupSignal.generation
        start()
    }

    private func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(
            &tid, nil,
            { raw in
                let worker = Unmanaged<SinkWorker>.fromOpaque(raw!).takeRetainedValue()
                worker.run()
                return nil
            }, box)
        if rc == 0 {
            thread = tid
        } else {
            Unmanaged<SinkWorker>.fromOpaque(box).release()
            lock.withLock { finished = true }
        }
    }

    /// Queues one item. Returns false when it was dropped (queue full under `drop`, or the sink is closed).
    @discardableResult
    package func submit(_ item: SinkItem) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if closing || finished {
            stats.dropped += 1
            return false
        }
        while pending.count - head >= capacity {
            if policy == .drop {
                stats.dropped += 1
                return false
            }
            lock.wait()
            if closing || finished {
                stats.dropped += 1
                return false
            }
        }
        pending.append(item)
        lock.broadcast()
        return true
    }

    private func run() {
        while true {
            lock.lock()
            while pending.count == head && !closing && HangupSignal.generation == reopenGeneration && syncWanted == syncDone {
                _ = lock.wait(until: WaitLock.now() + 0.5)
            }
            let hup = HangupSignal.generation
            let wantsReopen = hup != reopenGeneration
            reopenGeneration = hup
            let n = min(batchSize, pending.count - head)
            let batch = Array(pending[head..<(head + n)])
            head += n
            if head == pending.count {
                pending.removeAll(keepingCapacity: true)
                head = 0
            } else if head > 4096 && head * 2 > pending.count {
                pending.removeFirst(head)
                head = 0
            }
            let done = closing && n == 0
            let syncTarget = n == 0 && syncWanted > syncDone ? syncWanted : nil
            busy = n > 0
            lock.broadcast()
            lock.unlock()
            if wantsReopen {
                do { try backend.reopen() } catch { fail(error, items: 0) }
            }
            if let syncTarget {
                backend.sync()
                lock.withLock {
                    syncDone = syncTarget
                    lock.broadcast()
                }
            }
            if done { break }
            if batch.isEmpty { continue }
            if control.abandoned {
                lock.withLock { stats.abandoned += batch.count }
                continue
            }
            do {
                try backend.write(batch, control: control)
                let alerts = batch.reduce(0) { n, item in if case .alert = item { n + 1 } else { n } }
                lock.withLock {
                    stats.written += alerts
                    busy = false
                }
            } catch {
                let alerts = batch.reduce(0) { n, item in if case .alert = item { n + 1 } else { n } }
                lock.withLock { busy = false }
                fail(error, items: alerts)
            }
        }
        backend.close()
        lock.withLock {
            finished = true
            lock.broadcast()
        }
    }

    private func fail(_ error: SinkError, items: Int) {
        let first: Bool = lock.withLock {
            stats.failed += items
            stats.errors += 1
            stats.lastError = error
            if stats.firstError == nil {
                stats.firstError = error
                return true
            }
            return false
        }
        if first { report(error.description + " (further errors of this output are counted in the summary)\n") }
    }

    /// Waits until everything queued before the call is written and the backend synced (`fsync` of a file),
    /// or until `deadline` (monotonic seconds; nil: as long as it takes). For callers that commit state
    /// covering the alerts (`scan --incremental`, `tail`). Returns false on timeout.
    @discardableResult
    package func sync(deadline: Double?) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if finished || closing { return true }
        syncWanted += 1
        let target = syncWanted
        lock.broadcast()
        while syncDone < target && !finished {
            if let deadline {
                if WaitLock.now() >= deadline { return false }
                _ = lock.wait(until: min(deadline, WaitLock.now() + 0.2))
            } else {
                _ = lock.wait(until: WaitLock.now() + 0.2)
            }
        }
        return true
    }

    /// A file output's identity and length after its last sync (nil for other outputs).
    package var syncedFile: SyncedFile? { backend.syncedFile }

    /// The first write error so far.
    package var firstError: SinkError? { lock.withLock { stats.firstError } }

    /// Stops accepting items, lets the worker write what is queued, and waits for it until `deadline`
    /// (monotonic seconds; nil waits as long as it takes). Returns the sink's counters.
    package func close(deadline: Double?) -> SinkStats {
        lock.lock()
        closing = true
        lock.broadcast()
        var timedOut = false
        while !finished {
            if let deadline {
                if WaitLock.now() >= deadline {
                    timedOut = true
                    break
                }
                _ = lock.wait(until: min(deadline, WaitLock.now() + 0.2))
            } else {
                lock.wait()
            }
        }
        if timedOut {
            stats.abandoned += pending.count - head
            pending.removeAll()
            head = 0
        }
        let s = stats
        lock.unlock()
        if timedOut {
            control.abandon()
            // give a backend in a retry sleep a moment to notice, then leave the thread behind
            lock.lock()
            let until = WaitLock.now() + 1
            while !finished && WaitLock.now() < until { _ = lock.wait(until: until) }
            lock.unlock()
            if let thread { pthread_detach(thread) }
            self.thread = nil
        } else if let thread {
            pthread_join(thread, nil)
            self.thread = nil
        }
        return lock.withLock {
            var out = stats
            out.abandoned = max(out.abandoned, s.abandoned)
            return out
        }
    }
}
