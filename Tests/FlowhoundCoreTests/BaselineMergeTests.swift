import FlowhoundCore
import Testing

@Suite struct BaselineMergeTests {
    static let day: Int64 = 86_400_000_000_000
    static func ip(_ s: String) -> IPAddress { IPAddress.parse(s)! }
    static func edge(_ src: String, _ dst: String, _ first: Int64, _ last: Int64, days: UInt8) -> BaselineSnapshot.Edge {
        .init(detector: "r", source: ip(src), destination: ip(dst), service: 7, firstSeen: first, lastSeen: last, days: days)
    }

    @Test("edges: union, earliest first seen, latest last seen; days add up only when the day ranges are disjoint")
    func edges() {
        var a = BaselineSnapshot(), b = BaselineSnapshot()
        a.learningStart = 10 * Self.day
        a.clock = 12 * Self.day
        a.edges = [Self.edge("10.0.0.1", "10.0.0.2", 10 * Self.day, 12 * Self.day, days: 3)]
        b.learningStart = 11 * Self.day
        b.clock = 20 * Self.day
        b.edges = [
            Self.edge("10.0.0.1", "10.0.0.2", 15 * Self.day, 16 * Self.day, days: 2),
            Self.edge("10.0.0.3", "10.0.0.2", 15 * Self.day, 15 * Self.day, days: 1),
        ]
        var m = a
        m.merge(b)
        #expect(m.learningStart == 10 * Self.day)
        #expect(m.clock == 20 * Self.day)
        #expect(m.edges.count == 2)
        let e = m.edges.first { $0.source == Self.ip("10.0.0.1") }
        #expect(e?.firstSeen == 10 * Self.day)
        #expect(e?.lastSeen == 16 * Self.day)
        #expect(e?.days == 5)
        // merging the result again changes nothing (overlapping ranges take the larger count)
        var twice = m
        twice.merge(b)
        twice.merge(a)
        #expect(twice == m)
    }

    @Test("hosts: client and destination counts never fall below the merged edges that reach or leave them")
    func hosts() {
        var a = BaselineSnapshot(), b = BaselineSnapshot()
        a.edges = [Self.edge("10.0.0.1", "10.0.0.9", 1, 2, days: 1)]
        a.hosts = [.init(detector: "r", address: Self.ip("10.0.0.9"), firstSeen: 1, lastSeen: 2, clients: 1, destinations: 0)]
        b.edges = [Self.edge("10.0.0.4", "10.0.0.9", 3, 4, days: 1), Self.edge("10.0.0.5", "10.0.0.9", 3, 5, days: 1)]
        b.hosts = [.init(detector: "r", address: Self.ip("10.0.0.9"), firstSeen: 3, lastSeen: 5, clients: 2, destinations: 0)]
        a.merge(b)
        #expect(a.hosts.count == 1)
        #expect(a.hosts.first?.clients == 3)
        #expect(a.hosts.first?.firstSeen == 1)
        #expect(a.hosts.first?.lastSeen == 5)
    }

    @Test("volume profiles add bucket by bucket; subtracting the pulled part gives back the own part")
    func volumes() {
        var a = BaselineSnapshot(), b = BaselineSnapshot()
        a.volumes = [.init(detector: "v", address: Self.ip("10.0.0.1"), hourlyBytesOut: [1, 2, 0], hourlyPCR: [3, 0])]
        b.volumes = [
            .init(detector: "v", address: Self.ip("10.0.0.1"), hourlyBytesOut: [0, 5, .max], hourlyPCR: [1, 4]),
            .init(detector: "v", address: Self.ip("10.0.0.2"), hourlyBytesOut: [1], hourlyPCR: [1]),
        ]
        var m = a
        m.merge(b)
        #expect(m.volumes.first?.hourlyBytesOut == [1, 7, .max])
        #expect(m.volumes.first?.hourlyPCR == [4, 4])
        m.subtractVolumes(b.volumes)
        #expect(m.volumes.count == 1)
        #expect(m.volumes.first?.hourlyBytesOut == [1, 2, 0])
        #expect(m.volumes.first?.hourlyPCR == [3, 0])
    }
}
