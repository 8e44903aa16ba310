import Foundation
import Testing
import FlowhoundCore
import FlowhoundRules
@testable import FlowhoundDetect

/// The false-alarm controls that use the site's roles and the hosts' own baselines (netdetect.md D2, D9, D10, D11).
@Suite struct FalseAlarmControlTests {
    func site(_ yaml: String = "") -> SiteConfiguration {
        let (s, diags) = SiteFile.parse(yaml: """
            groups:
              workstations: [10.20.1.0/24]
              servers: [10.20.10.0/24]
              file_servers: [10.20.10.20, 10.20.10.21]
              backup: [10.20.10.60]
              dns_resolvers: [10.20.10.11]
            \(yaml)
            """, path: "site.yml")
        #expect(diags.isEmpty, "\(diags)")
        return s ?? SiteConfiguration()
    }

    /// The later sources are known hosts (seen during learning), so their edges are scored, not `new_host` notes.
    func knownHosts(_ f: BehaviourFeeder) {
        for h in ["10.20.1.9", "10.20.10.40"] { f.conn(day0 + 60, h, "10.20.10.10", dport: 389, service: "ldap") }
    }

    /// A file server that three workstations used during learning: a fourth workstation's first SMB session to it
    /// is that peer group's ordinary service (no finding); a server's first SMB session to it still scores.
    @Test func peerGroupPrevalenceTurnsAnAdoptedServiceIntoAnOrdinaryOne() {
        let rules = [detectorRule(.newInternalEdge, ["learning": num(86_400)])]
        let f = BehaviourFeeder(rules, site: site())
        knownHosts(f)
        for w in 1...3 { f.conn(day0 + 3_600 * Double(w), "10.20.1.\(w)", "10.20.10.21", dport: 445, service: "smb") }
        let after = day0 + 86_400 + 36_000
        f.conn(after, "10.20.1.9", "10.20.10.21", dport: 445, service: "smb")
        #expect(f.all.isEmpty, "\(f.all.map(\.group))")
        f.conn(after + 60, "10.20.10.40", "10.20.10.21", dport: 445, service: "smb")
        #expect(f.all.count == 1 && f.all.first?.sourceIP == "10.20.10.40")
        #expect(f.all.first?.group["summary"]?.contains("admin service") == true)
    }

    /// With fewer peers than `peer_clients`, or the control switched off, the same edge is scored as before.
    @Test func tooFewPeersStillScore() {
        for (peers, threshold) in [(2, 3.0), (3, 0.0)] {
            let rules = [detectorRule(.newInternalEdge, ["learning": num(86_400), "peer_clients": num(threshold)])]
            let f = BehaviourFeeder(rules, site: site())
            knownHosts(f)
            for w in 1...peers { f.conn(day0 + 3_600 * Double(w), "10.20.1.\(w)", "10.20.10.21", dport: 445, service: "smb") }
            f.conn(day0 + 86_400 + 36_000, "10.20.1.9", "10.20.10.21", dport: 445, service: "smb")
            #expect(f.all.count == 1, "peers \(peers), peer_clients \(threshold): \(f.all.map(\.group))")
        }
    }

    /// The peer counts are rebuilt from a restored baseline, so a later scan with `--state` decides the same way.
    @Test func peerCountsSurviveASnapshot() {
        let rules = [detectorRule(.newInternalEdge, ["learning": num(86_400)])]
        let a = BehaviourFeeder(rules, site: site())
        knownHosts(a)
        for w in 1...3 { a.conn(day0 + 3_600 * Double(w), "10.20.1.\(w)", "10.20.10.21", dport: 445, service: "smb") }
        let b = BehaviourFeeder(rules, site: site())
        b.engine.restore(a.engine.snapshot())
        b.conn(day0 + 86_400 + 36_000, "10.20.1.9", "10.20.10.21", dport: 445, service: "smb")
        #expect(b.all.isEmpty, "\(b.all.map(\.group))")
    }

    /// Long sessions of the backup host are not long-connection findings; another host's are.
    @Test func backupSessionsAreNotLongConnections() {
        let f = BehaviourFeeder([detectorRule(.longConnection)], site: site())
        f.conn(day0, "10.20.10.60", "52.219.140.10", dport: 443, out: 9_000_000_000, in: 1_000_000, duration: 20_000)
        #expect(f.all.isEmpty)
        f.conn(day0 + 10, "10.20.10.40", "52.219.140.10", dport: 443, out: 9_000_000, in: 1_000_000, duration: 20_000)
        #expect(f.all.count == 1 && f.all.first?.sourceIP == "10.20.10.40")
    }

    /// A resolver forwarding a client's tunnel queries is not reported as a second tunnel client.
    @Test func resolversForwardingQueriesAreNotTunnelClients() {
        func feed(_ client: String) -> Int {
            let f = BehaviourFeeder([detectorRule(.dnsTunnel)], site: site())
            for i in 0..<40 {
                let label = String(repeating: "ab", count: 15) + String(i)
                f.line(
                    "{\"ts\":\(day0 + Double(i)),\"uid\":\"D\(i)\",\"id.orig_h\":\"\(client)\",\"id.orig_p\":5353,\"id.resp_h\":\"8.8.8.8\",\"id.resp_p\":53,\"proto\":\"udp\",\"query\":\"\(label).t.example-tun.net\",\"qtype\":16,\"qtype_name\":\"TXT\"}",
                    fileName: "dns.log")
            }
            return f.all.count
        }
        #expect(feed("10.20.1.23") > 0)
        #expect(feed("10.20.10.11") == 0)
    }

    /// Upload shifts are measured on traffic leaving the site: a server pushing its nightly backup to the internal
    /// backup host is not one; an hour of external upload far above the host's learned hours is, and it names the
    /// destination.
    @Test func uploadShiftCountsOnlyExternalUploadsAboveTheLearnedHours() {
        let rule = detectorRule(.exfilVolume, ["learning": num(2 * 86_400), "min_bytes": num(50e9)])
        let f = BehaviourFeeder([rule], site: site())
        // learning: two days of browsing-like hours (downloads) to the outside
        for h in 0..<48 {
            f.conn(day0 + Double(h) * 3_600 + 5, "10.20.10.25", "93.184.216.\(h % 4 + 1)", dport: 443, out: 200_000, in: 5_000_000)
        }
        // after learning: 3 GB to the internal backup host at 01:00, then ordinary hours
        let d3 = day0 + 2 * 86_400
        f.conn(d3 + 3_600 + 10, "10.20.10.25", "10.20.10.60", dport: 9103, out: 3_000_000_000, in: 10_000)
        for h in 2..<6 { f.conn(d3 + Double(h) * 3_600 + 5, "10.20.10.25", "93.184.216.1", dport: 443, out: 200_000, in: 5_000_000) }
        #expect(f.kind("upload_shift").isEmpty, "\(f.all.map(\.group))")
        // an hour of 400 MB out to an unknown external address
        f.conn(d3 + 6 * 3_600 + 10, "10.20.10.25", "203.0.113.50", dport: 443, out: 400_000_000, in: 100_000)
        f.conn(d3 + 7 * 3_600 + 10, "10.20.10.25", "93.184.216.1", dport: 443, out: 200_000, in: 5_000_000)
        let shifts = f.kind("upload_shift")
        #expect(shifts.count == 1 && shifts.first?.destinationIP == "203.0.113.50", "\(f.all.map(\.group))")
    }
}
