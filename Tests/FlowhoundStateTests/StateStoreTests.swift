import FlowhoundCore
import FlowhoundState
import Foundation
import Testing

@Suite struct StateStoreTests {
    func tempPath() -> String { NSTemporaryDirectory() + "flowhound-state-\(UUID().uuidString).sqlite" }

    @Test func aSavedBaselineComesBackIdentical() throws {
        let path = tempPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        var s = BaselineSnapshot()
        s.learningStart = 1_772_300_000_000_000_000
        s.clock = 1_773_500_000_000_000_000
        let a = try #require(IPAddress.parse("10.20.1.23")), b = try #require(IPAddress.parse("fd00::40"))
        s.edges = [
            .init(detector: "net.new_internal_edge", source: a, destination: b, service: 3389, firstSeen: 1, lastSeen: 2, days: 3),
            .init(detector: "net.new_internal_edge", source: b, destination: a, service: 445, firstSeen: -5, lastSeen: Int64.max, days: 255),
        ]
        s.hosts = [.init(detector: "net.new_internal_edge", address: b, firstSeen: 7, lastSeen: 9, clients: 12, destinations: 0)]
        s.volumes = [.init(detector: "net.exfil_volume", address: a, hourlyBytesOut: [0, 4, 0, 9], hourlyPCR: Array(repeating: 1, count: 10))]
        do {
            let store = try StateStore(path: path)
            #expect(try store.loadBaseline() == nil)
            try store.saveBaseline(s)
        }
        let reopened = try StateStore(path: path)
        let back = try #require(try reopened.loadBaseline())
        #expect(back.learningStart == s.learningStart && back.clock == s.clock)
        #expect(Set(back.edges) == Set(s.edges))
        #expect(back.hosts == s.hosts && back.volumes == s.volumes)
        var smaller = s
        smaller.edges = []
        try reopened.saveBaseline(smaller)
        #expect(try reopened.loadBaseline()?.edges.isEmpty == true, "a save replaces the whole baseline")
    }

    @Test func anUnusablePathIsAClearError() {
        #expect(throws: Diagnostic.self) { try StateStore(path: "/nonexistent-dir/x/state.sqlite") }
        do {
            _ = try StateStore(path: "/nonexistent-dir/x/state.sqlite")
        } catch {
            #expect(error.code == "state_store")
            #expect(error.description.hasPrefix("/nonexistent-dir/x/state.sqlite: error[state_store]: cannot open the state store"))
        }
    }
}
