import FlowhoundCore
import FlowhoundState

/// `flowhound baseline show`: what the state store has learned.
package enum BaselineReport {
    package static func show(statePath: String, listEdges: Bool) -> ([String], Int32) {
        let store: StateStore
        let snapshot: BaselineSnapshot?
        do {
            store = try StateStore(path: statePath)
            snapshot = try store.loadBaseline()
        } catch {
            return ([error.description], 2)
        }
        guard let s = snapshot else { return (["flowhound: \(statePath): no baseline stored yet (run `flowhound baseline learn`)"], 0) }
        var out: [String] = []
        out.append("learning start: \(s.learningStart.map { Timestamp(nanoseconds: $0).iso8601 } ?? "-")")
        out.append("newest event:   \(s.clock.map { Timestamp(nanoseconds: $0).iso8601 } ?? "-")")
        var perDetector: [String: (Int, Int, Int)] = [:]
        for e in s.edges { perDetector[e.detector, default: (0, 0, 0)].0 += 1 }
        for h in s.hosts { perDetector[h.detector, default: (0, 0, 0)].1 += 1 }
        for v in s.volumes { perDetector[v.detector, default: (0, 0, 0)].2 += 1 }
        out.append("detector\tedges\thosts\tvolume_profiles")
        for (d, c) in perDetector.sorted(by: { $0.key < $1.key }) { out.append("\(d)\t\(c.0)\t\(c.1)\t\(c.2)") }
        if listEdges {
            out.append("detector\tsource\tdestination\tservice\tfirst_seen\tlast_seen\tdays")
            for e in s.edges.sorted(by: { ($0.detector, $0.source, $0.destination) < ($1.detector, $1.source, $1.destination) }) {
                out.append(
                    "\(e.detector)\t\(e.source)\t\(e.destination)\t\(e.service)\t\(Timestamp(nanoseconds: e.firstSeen).iso8601)\t\(Timestamp(nanoseconds: e.lastSeen).iso8601)\t\(e.days)")
            }
        }
        return (out, 0)
    }
}
