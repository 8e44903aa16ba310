import Foundation
import Testing
import FlowhoundCore
import FlowhoundIngest
import FlowhoundParse
import FlowhoundPipeline

/// `EventMerge` on its own: order, ties, admission cap, lateness, batch boundaries, errors at the end of an input.
@Suite struct EventMergeTests {
    /// Records which input and line each merged line came from.
    final class Log: @unchecked Sendable { var lines: [(Int, Int64, String)] = []; var closed: [Int] = [] }
    struct Recorder: LineSink {
        let input: Int
        let log: Log
        mutating func line(_ bytes: UnsafePointer<UInt8>, _ count: Int, number: Int64, offset: Int64) {
            log.lines.append((input, number, String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)))
        }
    }

    /// A Zeek TSV conn file whose records have these timestamps.
    static func zeek(_ times: [Double]) -> String {
        var s = "#separator \\x09\n#path\tconn\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\n"
        s += "#types\ttime\tstring\taddr\tport\taddr\tport\n"
        for t in times { s += String(format: "%.6f\tC%.0f\t10.0.0.1\t1000\t10.0.0.2\t80\n", t, t * 1000) }
        return s
    }

    func merge(_ files: [(String, String)], jobs: Int, maxOpen: Int = 32, batchLines: Int = 2, depth: Int = 1) throws
        -> (Log, EventMerge.Stats)
    {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var inputs: [InputSpec] = []
        for (name, text) in files {
            try text.write(toFile: dir + "/" + name, atomically: true, encoding: .utf8)
            inputs.append(InputSpec(path: dir + "/" + name, explicit: true))
        }
        let planned = EventMerge.plan(inputs, forcedFormat: nil) { _ in DecoderContext() }
        var options = EventMerge.Options()
        options.jobs = jobs
        options.maxOpenInputs = maxOpen
        options.batchLines = batchLines
        options.queueDepth = depth
        let log = Log()
        let stats = EventMerge.run(
            planned, options: options, forcedFormat: nil, ingestOptions: { _ in IngestOptions() },
            context: { _ in DecoderContext() },
            openSink: { i in Recorder(input: files.firstIndex { planned[i].input.path.hasSuffix("/" + $0.0) }!, log: log) },
            closeSink: { i, _, summary, error in
                #expect(error == nil && summary.lines > 0)
                log.closed.append(i)
            })
        return (log, stats)
    }

    /// The merged order: by time, equal times in input order, each input's lines in file order; headers just
    /// before their input's first record; identical for 1, 2 and 4 jobs.
    @Test func linesComeOutInLogTimeOrderForAnyJobs() throws {
        let files = [
            ("b.log", Self.zeek([100, 103, 106, 109])),
            ("a.log", Self.zeek([101, 103, 104, 120])),
            ("c.log", Self.zeek([500, 501])),
        ]
        var seen: [[String]] = []
        for jobs in [1, 2, 4] {
            let (log, stats) = try merge(files, jobs: jobs)
            let records = log.lines.filter { !$0.2.hasPrefix("#") }
            let times = records.map { Double($0.2.prefix { $0 != "\t" })! }
            #expect(times == [100, 101, 103, 103, 104, 106, 109, 120, 500, 501], "jobs \(jobs)")
            // the tie at 103: b.log (first event 100) is before a.log (first event 101) in merge order
            #expect(records[2].0 == 0 && records[3].0 == 1)
            // every input's headers precede its records, and its lines keep their order
            for k in 0..<3 {
                let mine = log.lines.filter { $0.0 == k }
                #expect(mine.map(\.1) == Array(1...Int64(mine.count)))
                #expect(mine.prefix(4).allSatisfy { $0.2.hasPrefix("#") })
            }
            #expect(stats.lateLines == 0 && stats.delayedAdmissions == 0 && stats.openHighWater == 2)
            #expect(log.closed.count == 3)
            seen.append(log.lines.map { "\($0.0):\($0.1)" })
        }
        #expect(seen[0] == seen[1] && seen[1] == seen[2])
    }

    /// With one open input at a time, an overlapping input waits for the first to end: its events come behind the
    /// merged time, are still delivered and are counted (delayed admission, late lines).
    @Test func theOpenInputCapDelaysOverlappingInputsAndCountsIt() throws {
        let files = [("a.log", Self.zeek([0, 1_000, 2_000])), ("b.log", Self.zeek([10, 20]))]
        let (log, stats) = try merge(files, jobs: 2, maxOpen: 1)
        let order = log.lines.filter { !$0.2.hasPrefix("#") }.map { Double($0.2.prefix { $0 != "\t" })! }
        #expect(order == [0, 1_000, 2_000, 10, 20])
        #expect(stats.delayedAdmissions == 1 && stats.lateLines == 2 && stats.openHighWater == 1, "\(stats)")
    }

    /// Many overlapping inputs, one-line batches, one batch of room per input and fewer workers than inputs:
    /// every worker ends (none waits for room while holding a decode permit) and the order is the time order.
    @Test(.timeLimit(.minutes(1))) func fewWorkersAndFullQueuesDoNotBlockTheMerge() throws {
        let files = (0..<8).map { k in ("f\(k).log", Self.zeek((0..<40).map { Double($0 * 8 + k) })) }
        for jobs in [1, 2] {
            let (log, stats) = try merge(files, jobs: jobs, batchLines: 1, depth: 1)
            let times = log.lines.filter { !$0.2.hasPrefix("#") }.map { Double($0.2.prefix { $0 != "\t" })! }
            #expect(times == (0..<320).map(Double.init), "jobs \(jobs)")
            #expect(log.closed.count == 8 && stats.openHighWater == 8 && stats.lateLines == 0)
        }
    }

    /// A line longer than a batch gets a batch of its own; bytes after each delivered line are readable.
    @Test func aLineLongerThanABatchIsDelivered() throws {
        let long = String(repeating: "x", count: 300_000)
        let text = Self.zeek([5]) + "7.000000\tC1\t10.0.0.1\t1\t10.0.0.2\t" + long + "\n"
        let (log, _) = try merge([("a.log", text), ("b.log", Self.zeek([6]))], jobs: 2, batchLines: 4096)
        #expect(log.lines.contains { $0.2.count > 300_000 })
        #expect(log.lines.filter { !$0.2.hasPrefix("#") }.map(\.0) == [0, 1, 0])
    }
}
