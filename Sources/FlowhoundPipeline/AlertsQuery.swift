import FlowhoundCore
import FlowhoundSinks
import FlowhoundState

/// `flowhound alerts`: prints alerts from the SQLite alert store.
package enum AlertsQuery {
    package struct Options: Sendable {
        package var storePath: String
        /// RFC 3339 time, date, epoch seconds, or a duration back from now (wall clock): `24h`, `7d`.
        package var since: String?
        /// Durations count back from the newest stored alert's last event (log time) instead of the wall clock:
        /// "the last 24 hours of the log" for stores filled from archived logs.
        package var relativeToLatest = false
        package var until: String?
        package var ruleID: String?
        package var minimumLevel: Severity?
        package var limit: Int?
        package var format: AlertFormat = .json
        package var colour = false
        package init(storePath: String) { self.storePath = storePath }
    }

    /// A `--since`/`--until` value as log time; `now` is the wall clock, for durations.
    package static func time(_ text: String, now: Timestamp) -> Timestamp? {
        if let t = DurationText.timestamp(text) { return t }
        if let d = DurationText.seconds(text) { return Timestamp(nanoseconds: now.nanoseconds - d * 1_000_000_000) }
        return nil
    }

    static func wallClock() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(seconds: Int64(ts.tv_sec), nanos: Int64(ts.tv_nsec))
    }

    /// Renders the matching alerts; returns (output bytes, diagnostics, exit status 0 or 2).
    package static func run(_ o: Options) -> ([UInt8], [Diagnostic], Int32) {
        var q = AlertStore.Query()
        var st = stat()
        guard stat(o.storePath, &st) == 0 else {
            return ([], [Diagnostic(code: "no_store", "no alert store here; scans write one with --store DB or --output sqlite:DB", at: FileLocation(path: o.storePath))], 2)
        }
        var now = wallClock()
        if o.relativeToLatest {
            do {
                guard let latest = try AlertStore(path: o.storePath).latestLastSeen() else { return ([], [], 0) }
                now = latest
            } catch {
                return ([], [error], 2)
            }
        }
        for (text, isSince) in [(o.since, true), (o.until, false)] {
            guard let text else { continue }
            guard let t = time(text, now: now) else {
                return ([], [Diagnostic(code: "bad_time", "cannot read the time '\(text)'; use 2026-03-02T09:00:00Z, 2026-03-02, epoch seconds or a duration such as 24h")], 2)
            }
            if isSince { q.since = t } else { q.until = t }
        }
        q.ruleID = o.ruleID
        q.minimumLevel = o.minimumLevel
        q.limit = o.limit
        do {
            let store = try AlertStore(path: o.storePath)
            let alerts = try store.alerts(q)
            var out: [UInt8] = []
            if o.format == .csv { out += AlertFormatter.csvHeader }
            for a in alerts {
                switch o.format {
                case .json: out += AlertFormatter.json(a.finding)
                case .text: out += AlertFormatter.text(a.finding, colour: o.colour)
                case .csv: out += AlertFormatter.csv(a.finding)
                }
            }
            return (out, [], 0)
        } catch {
            return ([], [error], 2)
        }
    }
}
