import FlowhoundCore
import Testing

@testable import FlowhoundParse

/// A line that switches the schema is decoded twice; the second call reuses the first call's header only when
/// it gets the same bytes again (a buffer reused for another line of the same length must be parsed afresh).
@Suite struct SyslogHeaderReuseTests {
    @Test func headerIsReusedOnlyForTheSameBytes() throws {
        let d = syslogDecoder()
        let first = Array("Mar  4 10:00:00 h1 sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2".utf8)
        let other = Array("Mar  4 11:30:00 h2 CRON[2]: (root) CMD (run-parts /etc/cron.hourly) x.x.x.x pad".utf8)
        var record = EventRecord(capacity: 64)
        defer { record.deallocate() }
        let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        defer { buffer.deallocate() }
        let n = max(first.count, other.count)
        func load(_ b: [UInt8]) {
            buffer.initialize(repeating: 32, count: n)
            b.withUnsafeBufferPointer { buffer.update(from: $0.baseAddress!, count: b.count) }
        }
        // sshd line: the schema changes, nothing decoded yet
        load(first)
        #expect(d.decode(buffer, n, into: &record) == .schemaChanged)
        // the caller does not decode it again: another line (other program, other time) lands in the same buffer
        load(other)
        var outcome = d.decode(buffer, n, into: &record)
        if outcome == .schemaChanged { outcome = d.decode(buffer, n, into: &record) }
        #expect(outcome == .event)
        #expect(record.timestamp == ts("2026-03-04T11:30:00Z"), "the header of the earlier line was reused")
        let host = try #require(d.schema.slot("host.hostname") ?? d.schema.slot("hostname"))
        #expect(record[host].string == "h2")
    }
}
