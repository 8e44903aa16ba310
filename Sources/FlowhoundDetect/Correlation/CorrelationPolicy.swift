import FlowhoundCore

/// Limits and tolerances of the correlation engine. Every limit but `maxSchemaBindings` is per correlation rule.
package struct CorrelationPolicy: Sendable {
    /// How far (log time) an event may lag the newest event time seen and still be counted. Zeek writes a
    /// connection when it ends, stamped with its start, so conn events arrive late by the connection's
    /// duration; the default covers Zeek's 5-minute TCP inactivity timeout. Older events are dropped from
    /// correlations (`CorrelationCounters.lateDropped`). The tolerance also delays the closing of a burst:
    /// a finding is written once log time passes its last qualifying window end + timespan + tolerance.
    package var lateToleranceSeconds: Int64
    /// Groups held at once; at the cap the least recently updated group is evicted (`groupsEvicted`); its open
    /// finding, if any, is written first.
    package var maxGroups: Int
    /// Events held per group (for counts, distinct values, sums and percentiles); past it the oldest is
    /// dropped (`eventsDropped`), so metrics then undercount.
    package var maxEventsPerGroup: Int
    /// Group-by and `condition.field` values are copied up to this many bytes (`valuesTruncated`).
    package var maxValueBytes: Int
    /// Evidence excerpts are cut to this many bytes.
    package var maxExcerptBytes: Int
    /// Evidence lines per finding (and recent lines remembered per group).
    package var maxEvidence: Int
    /// Schema objects whose slot bindings the engine keeps (for the whole engine; a few dozen in normal use: syslog
    /// programs, Zeek paths, one set per input's decoder). Past it the bindings of a schema nobody else holds go
    /// first, uncounted, then the least recently used (`CorrelationEngine.schemaBindingsEvicted`), rebuilt when
    /// their schema comes back: slower, same findings.
    package var maxSchemaBindings: Int

    package init(
        lateToleranceSeconds: Int64 = 300, maxGroups: Int = 10_000, maxEventsPerGroup: Int = 10_000,
        maxValueBytes: Int = 256, maxExcerptBytes: Int = 256, maxEvidence: Int = Finding.maxEvidence,
        maxSchemaBindings: Int = 1_024
    ) {
        self.maxSchemaBindings = max(1, maxSchemaBindings)
        self.lateToleranceSeconds = max(0, lateToleranceSeconds)
        self.maxGroups = max(1, maxGroups)
        self.maxEventsPerGroup = max(1, maxEventsPerGroup)
        self.maxValueBytes = max(1, maxValueBytes)
        self.maxExcerptBytes = max(1, maxExcerptBytes)
        self.maxEvidence = max(1, maxEvidence)
    }
}

/// What happened inside one correlation rule (or, summed, the whole engine). All counters only grow.
package struct CorrelationCounters: Sendable, Equatable {
    /// Events accepted into a window (base-rule matches and firings of referenced correlations).
    package var events = 0
    /// Events without a timestamp: correlations need log time.
    package var missingTimestamp = 0
    /// Events lacking a group-by field.
    package var missingGroupKey = 0
    /// Events older than the newest event time minus the tolerance.
    package var lateDropped = 0
    /// Events older than their group's newest event but within the tolerance (counted and windowed).
    package var lateAccepted = 0
    /// `condition.field` values that are not numbers (ignored by value_sum/avg/percentile/median).
    package var nonNumeric = 0
    /// Values cut to `maxValueBytes`.
    package var valuesTruncated = 0
    /// Events dropped from a full group (`maxEventsPerGroup`).
    package var eventsDropped = 0
    /// Groups evicted at `maxGroups`.
    package var groupsEvicted = 0
    /// Groups removed because their last event left every window.
    package var groupsExpired = 0
    /// Window ends at which the condition held (the oracle's alert rows).
    package var qualifyingWindows = 0
    /// Forward (absence) windows still open at the end of input, not decided.
    package var incompleteWindows = 0
    /// Findings handed to `emit`.
    package var findings = 0
    /// Findings not emitted because their level is below the minimum (chains still see the firings).
    package var belowMinimumLevel = 0
    /// Findings not emitted because a correlation references this one without `generate: true`.
    package var silencedFindings = 0
    /// Findings rebuilt from carried state that had been written by an earlier run and did not grow since.
    package var carriedFindings = 0

    package init() {}

    static func + (a: Self, b: Self) -> Self {
        var r = a
        r.events += b.events
        r.missingTimestamp += b.missingTimestamp
        r.missingGroupKey += b.missingGroupKey
        r.lateDropped += b.lateDropped
        r.lateAccepted += b.lateAccepted
        r.nonNumeric += b.nonNumeric
        r.valuesTruncated += b.valuesTruncated
        r.eventsDropped += b.eventsDropped
        r.groupsEvicted += b.groupsEvicted
        r.groupsExpired += b.groupsExpired
        r.qualifyingWindows += b.qualifyingWindows
        r.incompleteWindows += b.incompleteWindows
        r.findings += b.findings
        r.belowMinimumLevel += b.belowMinimumLevel
        r.silencedFindings += b.silencedFindings
        r.carriedFindings += b.carriedFindings
        return r
    }
}
