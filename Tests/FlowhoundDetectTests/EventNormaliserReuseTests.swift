import FlowhoundCore
import Testing

@testable import FlowhoundDetect

/// `EventNormaliser` answers the schema of the previous call without a lookup. Schemas are freed once no input
/// and no cache holds them (the scan's `RuleCache` drops those of finished inputs), and a new schema often gets
/// the freed one's address: the shortcut must not take it for the old one.
@Suite struct EventNormaliserReuseTests {
    static func conn() -> Schema {
        Schema(
            format: .zeekJSON, logType: "conn", fields: [FieldSpec(name: "id.orig_h"), FieldSpec(name: "id.resp_h")],
            roles: [.sourceIP: "id.orig_h", .destinationIP: "id.resp_h"], logSources: [])
    }

    static func cron() -> Schema {
        Schema(format: .syslog, logType: "cron", fields: [FieldSpec(name: "message")], logSources: [])
    }

    @Test("3,000 short-lived schemas of two kinds in turn: each gets its own plan, whatever address it was given")
    func freedSchemaAddressIsNotTheOldSchema() {
        let normaliser = EventNormaliser()
        var wrong = 0
        for i in 0..<3_000 {
            let flow = i % 2 == 0
            let s = flow ? Self.conn() : Self.cron()
            let plan = normaliser.plan(for: s)
            if plan.kinds != (flow ? EventKinds.flow : []) { wrong += 1 }
            // the same object again: the shortcut
            if normaliser.plan(for: s) !== plan { wrong += 1 }
        }
        #expect(wrong == 0)
    }
}
