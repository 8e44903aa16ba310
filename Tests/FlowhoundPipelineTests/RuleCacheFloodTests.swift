@testable import FlowhoundPipeline
import FlowhoundCore
import FlowhoundRules
import Foundation
import Testing

/// The scan's shared cache of compiled rule sets (`RuleCache`): at most `keyCapacity` rule sets by schema key and
/// `objectCapacity` schema objects, the least recently used forgotten and counted, schemas no input holds any more
/// dropped uncounted; a forgotten key compiles again to the same rule set, so findings never change.
@Suite struct RuleCacheFloodTests {
    static let rules = """
        title: marker in any program's message
        id: 7c3e0a41-0000-4000-8000-000000000001
        level: low
        logsource: {product: linux, service: syslog}
        detection:
            sel: {message|contains: EVIL}
            condition: sel
        ---
        title: marker in one program's field
        id: 7c3e0a41-0000-4000-8000-000000000002
        level: low
        logsource: {product: linux, service: syslog}
        detection:
            sel: {extra_7: bad}
            condition: sel
        """

    static func cache() throws -> RuleCache {
        let loaded = SigmaLoader.load(yaml: rules, path: "r.yml")
        try #require(loaded.errors.isEmpty, "\(loaded.errors)")
        return RuleCache(rules: loaded.rules)
    }

    /// A syslog schema whose key is its own for each `n` (the extra field's name).
    static func schema(_ n: Int) -> Schema {
        Schema(
            format: .syslog, logType: "prog\(n)",
            fields: [FieldSpec(name: "message"), FieldSpec(name: "extra_\(n)")],
            logSources: [LogSource(product: "linux", service: "syslog")])
    }

    @Test("normal use, 40 schemas from two inputs: all kept, each key compiled once, nothing evicted")
    func normalUseStaysCached() throws {
        let cache = try Self.cache()
        var evictions = RuleCache.Evictions()
        let first = (0..<40).map(Self.schema)
        let second = (0..<40).map(Self.schema)  // another input's decoder: equal keys, other objects
        var sets: [ObjectIdentifier] = []
        for s in first { sets.append(ObjectIdentifier(cache.compiledUnreported(for: s, evictions: &evictions))) }
        for _ in 0..<3 {
            for (i, s) in second.enumerated() {
                #expect(ObjectIdentifier(cache.compiledUnreported(for: s, evictions: &evictions)) == sets[i])
            }
            for (i, s) in first.enumerated() {
                #expect(ObjectIdentifier(cache.compiledUnreported(for: s, evictions: &evictions)) == sets[i])
            }
        }
        #expect(evictions.ruleSets == 0 && evictions.schemas == 0)
        #expect(cache.counts == (40, 80))
    }

    @Test("2,000 distinct schemas in use: both maps at their caps, every eviction counted, a re-compile is the same set")
    func floodOfDistinctSchemas() throws {
        let cache = try Self.cache()
        var evictions = RuleCache.Evictions()
        let n = 2_000
        let schemas = (0..<n).map(Self.schema)  // all alive: a decoder could present any of them again
        var firstSets: [CompiledRuleSet] = []
        for s in schemas {
            firstSets.append(cache.compiledUnreported(for: s, evictions: &evictions))
            let c = cache.counts
            #expect(c.keys <= RuleCache.keyCapacity && c.objects <= RuleCache.objectCapacity)
        }
        #expect(evictions.ruleSets == Int64(n - RuleCache.keyCapacity))
        #expect(evictions.schemas == Int64(n - RuleCache.objectCapacity))
        #expect(cache.counts == (RuleCache.keyCapacity, RuleCache.objectCapacity))
        // The most recent ones are still there, as they were compiled.
        let last = n - 1
        #expect(cache.compiledUnreported(for: schemas[last], evictions: &evictions) === firstSets[last])
        // The oldest went from both maps: compiled again (one more eviction of each), to the same rule set.
        let again = cache.compiledUnreported(for: schemas[7], evictions: &evictions)
        #expect(again !== firstSets[7])
        #expect(evictions.ruleSets == Int64(n - RuleCache.keyCapacity + 1))
        #expect(evictions.schemas == Int64(n - RuleCache.objectCapacity + 1))
        let before = firstSets[7]
        #expect(again.includedRules == before.includedRules && again.includedRules == [0, 1])
        #expect(again.matchers.map(\.ruleIndex) == before.matchers.map(\.ruleIndex))
        #expect(again.referencedSlots == before.referencedSlots && again.referencedSlots == [0, 1])
        // and it matches as the first one did
        var record = EventRecord(capacity: 2)
        defer { record.deallocate() }
        let message = Array("an EVIL payload".utf8), value = Array("bad".utf8)
        message.withUnsafeBufferPointer { m in
            value.withUnsafeBufferPointer { v in
                record.reset(fieldCount: 2)
                record[0] = FieldValue(base: m.baseAddress!, count: m.count)
                record[1] = FieldValue(base: v.baseAddress!, count: v.count)
                var a: [Int] = [], b: [Int] = []
                again.matches(record, into: &a)
                before.matches(record, into: &b)
                #expect(a == [0, 1] && b == a)
            }
        }
    }

    @Test("5,000 decoders' schemas dropped after use (3 keys): pruned without counting, the map stays bounded")
    func schemasNoOneHoldsAreDropped() throws {
        let cache = try Self.cache()
        var evictions = RuleCache.Evictions()
        for i in 0..<5_000 {
            let s = Self.schema(i % 3)
            let c = cache.compiledUnreported(for: s, evictions: &evictions)
            // a freed schema's address is soon another schema's: the set found must be for this one's key
            #expect(c.schema.key == s.key, "lookup \(i)")
            #expect(cache.counts.objects <= RuleCache.objectCapacity)
        }
        #expect(evictions.ruleSets == 0 && evictions.schemas == 0, "nothing still in use was forgotten")
        #expect(cache.counts.keys == 3)
    }

    // MARK: end to end

    static let files = 8
    static let programs = 40

    /// `files` syslog inputs, each with `programs` programs of its own (320 keys and the generic schema's: more
    /// than the cache keeps), two rounds each; which lines rule 1 finds follows from the text.
    static func writeInputs(_ dir: String) throws -> (paths: [String], expected: Set<String>) {
        var paths: [String] = []
        var expected: Set<String> = []
        for f in 0..<files {
            var lines: [String] = []
            for r in 0..<2 {
                for j in 0..<programs {
                    let s = (r * programs + j) * files + f
                    let stamp = String(format: "Mar  1 12:%02d:%02d", s / 60 % 60, s % 60)
                    let evil = (j + r + f) % 3 == 0
                    lines.append("\(stamp) bastion f\(f)prog\(j)[\(100 + j)]: \(evil ? "EVIL" : "quiet") round \(r)")
                    if evil { expected.insert("\(f).log:\(lines.count)") }
                }
            }
            let path = dir + "/\(f).log"
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            paths.append(path)
        }
        return (paths, expected)
    }

    @Test(
        "8 inputs of 40 programs each (321 keys): rule sets forgotten past 256 and counted, findings unchanged",
        arguments: [(true, 2), (false, 1)])
    func floodThroughAScan(merged: Bool, jobs: Int) throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/rules", withIntermediateDirectories: true)
        try Self.rules.write(toFile: dir + "/rules/r.yml", atomically: true, encoding: .utf8)
        try "timezone: UTC\n".write(toFile: dir + "/site.yml", atomically: true, encoding: .utf8)
        let (paths, expected) = try Self.writeInputs(dir)
        let (report, found) = try floodScan(
            dir: dir, paths: paths, jobs: jobs, orderInputsByTime: merged, ruleIDSuffix: "1")
        #expect(!expected.isEmpty && found == expected, "\(found.count) matches found, \(expected.count) expected")
        // Every input's schema objects stay alive while it is read and are found again by identity, so each key
        // is compiled once: 321 insertions into 256 places, 65 evictions, wherever they fall. Read one input
        // after the other, inputs 0-5 fill 241 places; the seventh's 40 keys fill 15 and evict 25, the eighth's 40.
        #expect(report.inputs.count == Self.files)
        let ruleSets = report.inputs.map(\.sharedRuleSetsEvicted)
        #expect(ruleSets.reduce(0, +) == Int64(Self.files * Self.programs + 1 - RuleCache.keyCapacity), "\(ruleSets)")
        #expect(report.inputs.allSatisfy { $0.sharedSchemasEvicted == 0 }, "1,024 schema objects are enough")
        let summary = ScanRunner.summaryText(report, samples: 0)
        #expect(summary.contains("its schemas pushed"), "\(summary)")
        if !merged {
            #expect(ruleSets == [0, 0, 0, 0, 0, 0, 25, 40])
            #expect(summary.contains("7.log: its schemas pushed 40 of the scan's 256 compiled rule sets and 0 of its 1024"), "\(summary)")
        }
    }
}
