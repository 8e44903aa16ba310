import Foundation
import Testing
import FlowhoundCore
import FlowhoundRules
@testable import FlowhoundDetect
@testable import FlowhoundParse

@Suite struct BehaviourScanTests {
    /// 99 unique failed attempts do not fire; the 100th does, once; a new attempt within suppress_for is ignored.
    @Test func thresholdAndKnownScanner() {
        let f = BehaviourFeeder([detectorRule(.internalScan, ["vertical_ports": num(0), "vertical_sensitive_ports": num(0)])])
        for i in 0..<99 { f.conn(day0 + Double(i), "10.1.5.23", "10.1.6.\(i + 1)", dport: 445, state: "S0") }
        #expect(f.all.isEmpty)
        f.conn(day0 + 99, "10.1.5.23", "10.1.6.100", dport: 445, state: "REJ")
        #expect(f.all.count == 1)
        let s = f.all[0]
        #expect(s.group["scan_class"] == "Address_Scan" && s.count == 100 && s.destinationPort == 445)
        #expect(s.firstSeen == Timestamp(seconds: Int64(day0)) && s.lastSeen == Timestamp(seconds: Int64(day0) + 99))
        #expect(s.evidence.count == Finding.maxEvidence && s.evidence.last!.excerpt.contains("10.1.6.100"))
        // known for 1 h: 200 more attempts are ignored
        for i in 0..<200 { f.conn(day0 + 100 + Double(i), "10.1.5.23", "10.1.7.\(i % 250)", dport: 139, state: "S0") }
        #expect(f.all.count == 1)
        // after the hour a fresh set starts and can fire again
        for i in 0..<100 { f.conn(day0 + 3700 + Double(i), "10.1.5.23", "10.1.8.\(i)", dport: 22, state: "S0") }
        #expect(f.all.count == 2)
    }

    /// Idle timeout: a gap of exactly 15 min keeps the set, 15 min + 1 s discards it.
    @Test func idleTimeoutEdge() {
        let rules = [detectorRule(.internalScan, ["threshold_internal": num(10), "vertical_ports": num(0), "vertical_sensitive_ports": num(0)])]
        let keep = BehaviourFeeder(rules)
        for i in 0..<9 { keep.conn(day0 + Double(i), "10.0.0.5", "10.0.1.\(i)", dport: 80, state: "S0") }
        keep.conn(day0 + 8 + 900, "10.0.0.5", "10.0.1.99", dport: 80, state: "S0")
        #expect(keep.all.count == 1)
        let drop = BehaviourFeeder(rules)
        for i in 0..<9 { drop.conn(day0 + Double(i), "10.0.0.5", "10.0.1.\(i)", dport: 80, state: "S0") }
        drop.conn(day0 + 8 + 901, "10.0.0.5", "10.0.1.99", dport: 80, state: "S0")
        #expect(drop.all.isEmpty)
    }

    /// Failed = history S/SW/Sr/SWr; an established connection or a repeated (host, port) never counts.
    @Test func onlyUniqueFailedAttemptsCount() {
        let f = BehaviourFeeder([detectorRule(.internalScan, ["threshold_internal": num(5), "vertical_ports": num(0), "vertical_sensitive_ports": num(0)])])
        for _ in 0..<50 { f.conn(day0, "10.0.0.5", "10.0.1.1", dport: 80, state: "S0") }  // dead host retried
        for i in 0..<10 { f.conn(day0 + 1, "10.0.0.5", "10.0.2.\(i)", dport: 80, state: "SF") }
        f.conn(day0 + 2, "10.0.0.5", "10.0.3.1", dport: 80, state: "S0", history: "ShR")  // not a failed history
        #expect(f.all.isEmpty)
        for i in 0..<4 { f.conn(day0 + 3, "10.0.0.5", "10.0.4.\(i)", dport: 81 + i, state: "S0", history: "SW") }
        #expect(f.all.count == 1)
        #expect(f.all.first?.group["scan_class"] == "Address_Scan")  // 5 ports ≤ 5 → Address_Scan listing ports
        #expect(f.all.first?.group["ports"] == "80,81,82,83,84")
    }

    @Test func verticalBurstAndScannersGroup() {
        var site = SiteConfiguration()
        site.groups["scanners"] = HostSet(blocks: [CIDR("10.9.9.9")!])
        let f = BehaviourFeeder([detectorRule(.internalScan, ["threshold_internal": num(0)])], site: site)
        for p in 1...49 { f.conn(day0 + Double(p) / 100, "10.0.0.7", "10.0.0.8", dport: 1000 + p, state: "REJ") }
        #expect(f.all.isEmpty)
        f.conn(day0 + 0.9, "10.0.0.7", "10.0.0.8", dport: 2000, state: "REJ")
        #expect(f.kind("vertical").count == 1)
        // next epoch: the scanner group host never alerts
        for p in 1...100 { f.conn(day0 + 120, "10.9.9.9", "10.0.0.8", dport: p, state: "REJ") }
        #expect(f.all.count == 1)
        // 5 sensitive ports in one minute
        for p in [22, 23, 135, 139, 445] { f.conn(day0 + 200, "10.0.0.30", "10.0.0.8", dport: p, state: "S0") }
        #expect(f.kind("vertical").count == 2)
    }

    /// Sliding window [t − 10 min, t], inclusive: a destination exactly 10 min old still counts.
    @Test func adminPortSweepWindowEdges() {
        func run(lastAt: Double, failed: Bool = true) -> Int {
            let f = BehaviourFeeder([detectorRule(.adminPortSweep)])
            f.conn(day0, "10.0.0.5", "10.0.9.0", dport: 445, state: "S0")
            for i in 1..<19 { f.conn(day0 + 100 + Double(i), "10.0.0.5", "10.0.9.\(i)", dport: 3389, state: failed ? "REJ" : "SF") }
            f.conn(day0 + lastAt, "10.0.0.5", "10.0.9.19", dport: 22, state: "S0")
            return f.all.count
        }
        #expect(run(lastAt: 600) == 1)
        #expect(run(lastAt: 600.000001) == 0)
        #expect(run(lastAt: 600, failed: false) == 0)  // 2 of 20 failed < 50 %
    }
}

@Suite struct BehaviourEdgeTests {
    func site() -> SiteConfiguration {
        var s = SiteConfiguration()
        s.groups["workstations"] = HostSet(blocks: [CIDR("10.20.1.0/24")!])
        s.groups["servers"] = HostSet(blocks: [CIDR("10.20.10.0/24")!])
        s.groups["jump_hosts"] = HostSet(blocks: [CIDR("10.20.5.5")!])
        return s
    }

    /// Learning emits nothing; after learning a new admin edge to a rarely used server scores 0.3+0.3+0.2 = 0.8.
    @Test func learningThenNewEdge() {
        let f = BehaviourFeeder([detectorRule(.newInternalEdge, ["learning": num(14 * 86_400)])], site: site())
        for d in 0..<14 {
            for w in 1...5 { f.conn(day0 + Double(d) * 86_400 + 36_000, "10.20.1.\(w)", "10.20.10.2", dport: 443, service: "ssl") }
        }
        f.conn(day0 + 3 * 86_400 + 40_000, "10.20.1.9", "10.20.10.3", dport: 3389, service: "rdp")  // new, but learning
        #expect(f.all.isEmpty)
        let t = day0 + 14 * 86_400 + 36_000  // 10:00 on day 15
        f.conn(t, "10.20.1.1", "10.20.10.2", dport: 443, service: "ssl")  // known edge
        f.conn(t + 1, "10.20.1.1", "10.20.10.4", dport: 445, service: "smb")  // new admin edge, rare dst
        #expect(f.all.count == 1)
        let e = f.all[0]
        #expect(e.group["kind"] == "new_edge" && e.group["score"] == "0.8" && e.level == .high)
        #expect(e.sourceIP == "10.20.1.1" && e.destinationIP == "10.20.10.4" && e.destinationPort == 445)
        // a host first seen after learning → one new_host, no edge findings
        f.conn(t + 2, "10.20.1.77", "10.20.10.4", dport: 445, service: "smb")
        f.conn(t + 3, "10.20.1.77", "10.20.10.5", dport: 3389, service: "rdp")
        #expect(f.kind("new_host").count == 1 && f.all.count == 2)
        // the edge 10.20.1.1 → 10.20.10.4 is now known
        f.conn(t + 4, "10.20.1.1", "10.20.10.4", dport: 445, service: "smb")
        #expect(f.all.count == 2)
    }

    /// Non-admin new edge to a well-used server scores 0.3 (< 0.6): nothing; jump hosts are exempt.
    @Test func lowScoreAndJumpHost() {
        let f = BehaviourFeeder([detectorRule(.newInternalEdge, ["learning": num(86_400)])], site: site())
        for w in 1...5 { f.conn(day0 + 36_000, "10.20.1.\(w)", "10.20.10.2", dport: 443, service: "ssl") }
        f.conn(day0 + 36_000, "10.20.5.5", "10.20.10.2", dport: 443, service: "ssl")
        f.conn(day0 + 36_000, "10.20.1.6", "10.20.10.2", dport: 443, service: "ssl")
        f.conn(day0 + 86_400 + 36_000, "10.20.1.6", "10.20.10.2", dport: 8443, service: "ssl")  // same service class
        f.conn(day0 + 86_400 + 36_001, "10.20.1.6", "10.20.10.2", dport: 80, service: "http")  // new, score 0.3
        f.conn(day0 + 86_400 + 36_002, "10.20.5.5", "10.20.1.3", dport: 3389, service: "rdp")  // jump host
        #expect(f.all.isEmpty)
    }

    /// snapshot() then restore() into a fresh engine reproduces the same finding on the same day-15 input.
    @Test func snapshotRoundTrip() {
        let rules = [detectorRule(.newInternalEdge, ["learning": num(2 * 86_400)])]
        let a = BehaviourFeeder(rules, site: site())
        for d in 0..<2 { for w in 1...3 { a.conn(day0 + Double(d) * 86_400 + 36_000, "10.20.1.\(w)", "10.20.10.2", dport: 443, service: "ssl") } }
        let snap = a.engine.snapshot()
        #expect(snap.edges.count == 3 && snap.hosts.count == 4 && snap.learningStart == Int64(day0 + 36_000) * 1_000_000_000)
        let day3 = day0 + 2 * 86_400 + 36_000
        a.conn(day3, "10.20.1.2", "10.20.10.9", dport: 22, service: "ssh")
        let b = BehaviourFeeder(rules, site: site())
        b.engine.restore(snap)
        b.conn(day3, "10.20.1.2", "10.20.10.9", dport: 22, service: "ssh")
        #expect(a.all.count == 1)
        #expect(b.all.map(\.group) == a.all.map(\.group))
        #expect(b.engine.snapshot().edges.count == 4)
    }

    /// Flood: 1 M distinct (src, dst) pairs (4,096 sources × 245 destinations: a pair scan) through the detector's
    /// own entry point: the edge table stays at its cap and counts every eviction. (The 10 M-pair run through the
    /// whole scan, with its peak RSS, is `Benchmarks/bench_flood.sh`.)
    @Test func floodOfDistinctPairsStaysAtTheEdgeCap() {
        let d = floodDetector()
        let ctx = BehaviourEngine(rules: [], site: SiteConfiguration()) { _ in }.context
        ctx.learningStart = 0
        let n = 1_000_000
        var ts: Int64 = 1_000_000_000_000_000_000
        for i in 0..<n {
            let src = IPAddress(v4: 0x0A00_0000 | UInt32(i & 4095))
            let dst = IPAddress(v4: 0x0A10_0000 | UInt32(i >> 12))
            d.observeEdge(src: src, dst: dst, service: ServiceCode.smb, admin: true, ts: ts, port: 445, ctx)
            ts &+= 1000
        }
        #expect(d.edges.count == 100_000 && d.edges.highWater == 100_000)
        #expect(d.edges.evicted == n - 100_000)
        #expect(d.hosts.count == 4096 + (n - 1) >> 12 + 1 && d.hosts.evicted == 0)
        #expect(d.peers.count == (n - 1) >> 12 + 1 && d.peers.evicted == 0)
        #expect(d.stats.observed == n && d.stats.evicted == n - 100_000)
    }

    /// Flood: 1 M pairs of never-repeated hosts: both the edge and the host tables stay at their caps.
    @Test func floodDistinctHosts() {
        let d = floodDetector()
        let ctx = BehaviourEngine(rules: [], site: SiteConfiguration()) { _ in }.context
        ctx.learningStart = 0
        let n = 1_000_000
        var ts: Int64 = 1_000_000_000_000_000_000
        for i in 0..<n {
            let src = IPAddress(v4: 0x0A00_0000 | UInt32(truncatingIfNeeded: i &* 2_654_435_761) & 0x00FF_FFFF)
            let dst = IPAddress(v4: 0x0B00_0000 | UInt32(i))
            d.observeEdge(src: src, dst: dst, service: ServiceCode.smb, admin: true, ts: ts, port: 445, ctx)
            ts &+= 1000
        }
        #expect(d.edges.count == 100_000 && d.edges.evicted == n - 100_000)
        #expect(d.hosts.count == 50_000 && d.hosts.highWater == 50_000 && d.hosts.evicted == 2 * n - 50_000)
        // one (destination, service, peer group) counter per new destination: capped at max_hosts as well
        #expect(d.peers.count == 50_000 && d.peers.highWater == 50_000 && d.peers.evicted == n - 50_000)
    }

    func floodDetector() -> NewInternalEdgeDetector {
        var rule = detectorRule(.newInternalEdge, ["learning": num(0), "max_keys": num(100_000), "max_hosts": num(50_000), "new_host": .bool(false)])
        rule.parameters["min_score"] = num(2)  // scoring runs; nothing is emitted
        return NewInternalEdgeDetector(rule)
    }
}

@Suite struct BehaviourAdminAndChainTests {
    func site() -> SiteConfiguration {
        let (s, diags) = SiteFile.parse(yaml: """
            groups:
              workstations: [10.20.1.0/24]
              servers: [10.20.10.0/24]
            assets:
              - name: order-db
                hosts: [10.20.10.50]
                sensitive: true
                allowed_clients: [10.20.10.40]
            """, path: "site.yml")
        precondition(diags.isEmpty, "\(diags)")
        return s!
    }

    @Test func workstationToWorkstationAndServerOriginated() {
        let f = BehaviourFeeder([detectorRule(.adminProtocol, ["learning": num(0)])], site: site())
        f.conn(day0, "10.20.1.5", "10.20.1.9", dport: 445, service: "smb")
        f.conn(day0 + 1, "10.20.1.5", "10.20.1.9", dport: 445, service: "smb")  // suppressed 1 h
        f.conn(day0 + 2, "10.20.1.5", "10.20.10.3", dport: 445, service: "smb")  // ws → server SMB: normal
        f.conn(day0 + 3, "10.20.10.3", "10.20.10.4", dport: 3389, service: "rdp")
        f.conn(day0 + 4, "10.20.1.5", "10.20.10.3", dport: 3389, service: "rdp")
        f.conn(day0 + 5, "10.20.1.6", "10.20.1.7", dport: 445, service: "smb", state: "S0")  // no session
        #expect(f.all.map { $0.group["kind"]! } == ["workstation_to_workstation", "server_originated_admin", "workstation_to_server_admin"])
    }

    @Test func remoteServiceCreationIsHighWithoutRoles() {
        let f = BehaviourFeeder([detectorRule(.adminProtocol)])
        f.line(#"{"ts":1772409600.5,"uid":"X","id.orig_h":"10.0.0.5","id.orig_p":5000,"id.resp_h":"10.0.0.9","id.resp_p":445,"named_pipe":"\\pipe\\ntsvcs","endpoint":"svcctl","operation":"CreateServiceW"}"#, fileName: "dce_rpc.log")
        f.line(#"{"ts":1772409601.5,"uid":"Y","id.orig_h":"10.0.0.5","id.orig_p":5001,"id.resp_h":"10.0.0.9","id.resp_p":445,"path":"\\\\W9\\IPC$","share_type":"PIPE"}"#, fileName: "smb_mapping.log")
        f.line(#"{"ts":1772409602.5,"uid":"Z","id.orig_h":"10.0.0.5","id.orig_p":5002,"id.resp_h":"10.0.0.9","id.resp_p":445,"path":"\\\\W9\\C$","share_type":"DISK"}"#, fileName: "smb_mapping.log")
        #expect(f.all.map { $0.group["kind"]! } == ["service_create", "share_map_admin"])
        #expect(f.all.map(\.level) == [.high, .medium])
    }

    @Test func sensitiveAssetClientAndChain() {
        let rules = [detectorRule(.sensitiveAssetAccess, id: "net.sensitive_asset_access", ["learning": num(86_400)]),
                     detectorRule(.adminProtocol, id: "net.admin_protocol_anomaly", ["learning": num(0)]),
                     detectorRule(.lateralChain, id: "net.lateral_chain")]
        let f = BehaviourFeeder(rules, site: site())
        f.conn(day0 + 36_000, "10.20.10.40", "10.20.10.50", dport: 1521)  // allowed client
        #expect(f.all.isEmpty)
        f.conn(day0 + 36_060, "10.30.4.7", "10.20.10.50", dport: 443, service: "ssl")  // C → A
        #expect(f.kind("unexpected_client").count == 1)
        // ten days later A (a server) opens RDP to B: admin anomaly, then chain C → A → B
        f.conn(day0 + 10 * 86_400, "10.20.10.50", "10.20.10.60", dport: 3389, service: "rdp")
        let chain = f.all.filter { $0.ruleID == "net.lateral_chain" }
        #expect(chain.count == 1)
        #expect(chain.first?.group["path"] == "10.30.4.7,10.20.10.50,10.20.10.60")
        #expect(chain.first?.level == .high)  // not fast: 10 days
        // the asset also got a new_egress finding (it originated an admin session); correlated with the chain
        let egress = f.kind("new_egress")
        #expect(egress.count == 1)
        #expect(egress.first?.group["incident"] == chain.first?.group["incident"])
        // a hop after the TTL (14 d) does not chain
        f.conn(day0 + 25 * 86_400, "10.20.10.60", "10.20.10.61", dport: 3389, service: "rdp")
        #expect(f.all.filter { $0.ruleID == "net.lateral_chain" }.count == 1)
    }

    @Test func fanoutWhiteCaneEdges() {
        func run(_ n: Int, spacing: Double) -> [String] {
            let f = BehaviourFeeder([detectorRule(.fanout)])
            for i in 0..<n { f.conn(day0 + Double(i) * spacing, "10.0.0.5", "10.0.1.\(i)", dport: 3389, service: "rdp") }
            return f.all.map { $0.group["kind"]! }
        }
        #expect(run(11, spacing: 60) == [])
        #expect(run(12, spacing: 100) == ["white_cane"])  // 12 hosts in 1,100 s ≤ 1,200 s
        #expect(run(12, spacing: 1200.0 / 11 + 0.001) == [])  // 12th contact just past 20 min after the first
        #expect(run(30, spacing: 10) == ["white_cane", "blast"])
    }
}

@Suite struct BehaviourAuthTests {
    func sshd(_ t: Double, _ msg: String) -> String {
        "<38>1 \(Timestamp(seconds: Int64(t)).iso8601) bastion sshd 4242 - - \(msg)"
    }

    /// 10 failures within 10 min prime the source; a success within 30 min after the last failure is high.
    @Test func burstThenSuccess() {
        let f = BehaviourFeeder([detectorRule(.bruteforceSuccess, level: .high)])
        for i in 0..<10 { f.line(sshd(day0 + Double(i) * 20, "Failed password for root from 203.0.113.9 port \(5000 + i) ssh2"), format: .syslog, fileName: "auth.log") }
        #expect(f.kind("failed_login_burst").count == 1)
        f.line(sshd(day0 + 180 + 1800, "Accepted password for deploy from 203.0.113.9 port 6000 ssh2"), format: .syslog, fileName: "auth.log")
        let s = f.kind("burst_then_success")
        #expect(s.count == 1)
        #expect(s.first?.level == .high && s.first?.userName == "deploy" && s.first?.sourceIP == "203.0.113.9" && s.first?.count == 11)
        #expect(s.first?.group["destination.host"] == "bastion")
    }

    @Test func successTooLateOrTooFewFailures() {
        let late = BehaviourFeeder([detectorRule(.bruteforceSuccess)])
        for i in 0..<10 { late.line(sshd(day0 + Double(i), "Failed password for root from 203.0.113.9 port 1 ssh2"), format: .syslog, fileName: "auth.log") }
        late.line(sshd(day0 + 9 + 1801, "Accepted password for root from 203.0.113.9 port 2 ssh2"), format: .syslog, fileName: "auth.log")
        #expect(late.kind("burst_then_success").isEmpty)
        let few = BehaviourFeeder([detectorRule(.bruteforceSuccess)])
        for i in 0..<9 { few.line(sshd(day0 + Double(i), "Failed password for root from 203.0.113.9 port 1 ssh2"), format: .syslog, fileName: "auth.log") }
        few.line(sshd(day0 + 20, "Accepted password for root from 203.0.113.9 port 2 ssh2"), format: .syslog, fileName: "auth.log")
        #expect(few.all.isEmpty)
    }

    /// Windows: 12 × 4625 then 4624 type 3 from the same IpAddress → high.
    @Test func windowsFailuresThenLogon() {
        let f = BehaviourFeeder([detectorRule(.bruteforceSuccess)])
        func ev(_ t: Double, _ id: Int, _ user: String) -> String {
            #"{"@timestamp":"\#(Timestamp(seconds: Int64(t)).iso8601)","winlog":{"channel":"Security","event_id":\#(id),"computer_name":"FS2","event_data":{"TargetUserName":"\#(user)","IpAddress":"10.30.4.7","LogonType":"3","Status":"0xc000006d"}}}"#
        }
        for i in 0..<12 { f.line(ev(day0 + Double(i) * 30, 4625, "ops"), format: .windowsJSON, fileName: "security.json") }
        f.line(ev(day0 + 400, 4624, "ops"), format: .windowsJSON, fileName: "security.json")
        #expect(f.kind("burst_then_success").count == 1)
        #expect(f.kind("burst_then_success").first?.group["destination.host"] == "FS2")
    }
}

@Suite struct BehaviourVolumeTests {
    /// Golden rows of netdetect.md §1.3 (deterministic ones).
    @Test func beaconScoreGoldens() throws {
        let exact = (0..<1440).map { Int64($0 * 60) }
        var bins = [Int](repeating: 0, count: 24)
        for t in exact { bins[Int(t / 3600)] += 1 }
        let p = try #require(BeaconScore.score(timestamps: exact, bytes: exact.map { _ in 300 }, bins: bins, windowSeconds: 86_400))
        #expect(p == BeaconScore.Parts(ts: 1, ds: 1, hist: 1, dur: 1, score: 1))
        let slow = (0..<6).map { Int64($0 * 14_400) }
        var b2 = [Int](repeating: 0, count: 24)
        for t in slow { b2[Int(t / 3600)] += 1 }
        let q = try #require(BeaconScore.score(timestamps: slow, bytes: slow.map { _ in 300 }, bins: b2, windowSeconds: 86_400))
        #expect(q.ts == 1 && q.ds == 1 && q.hist == 0 && q.dur == 0.834)
        #expect(abs(q.score - 0.709) <= 0.001)
        // active for only 2 h: HIST = DUR = 0 → 0.5
        let short = (0..<120).map { Int64($0 * 60) }
        var b3 = [Int](repeating: 0, count: 24)
        for t in short { b3[Int(t / 3600)] += 1 }
        #expect(BeaconScore.score(timestamps: short, bytes: short.map { _ in 300 }, bins: b3, windowSeconds: 86_400)?.score == 0.5)
        #expect(BeaconScore.score(timestamps: [0, 0, 0, 60], bytes: [1, 1, 1, 1], bins: b3, windowSeconds: 86_400) == nil)
    }

    /// W22 → 198.51.100.77:443 every 300 s ± 10 % for 24 h fires once; a 20-host destination does not.
    @Test func beaconingThroughEngine() {
        let f = BehaviourFeeder([detectorRule(.beaconing)])
        var seed: UInt64 = 42
        func rnd() -> Double { seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407; return Double(seed >> 11) / Double(1 << 53) }
        var t = day0
        while t < day0 + 86_400 {
            f.conn(t, "10.20.1.22", "198.51.100.77", dport: 443, service: "ssl", out: 1200 + Int64(rnd() * 60), in: 4000)
            for h in 1...20 { f.conn(t + Double(h), "10.20.2.\(h)", "203.0.113.80", dport: 443, service: "ssl", out: 900, in: 900) }
            t += 300 * (0.9 + 0.2 * rnd())
        }
        f.conn(day0 + 86_400 + 3700, "10.20.1.22", "198.51.100.99", dport: 80)  // advance the clock
        let b = f.kind("beacon")
        #expect(b.count == 1)
        #expect(b.first?.destinationIP == "198.51.100.77")
        #expect((b.first.flatMap { $0.group["metric"] }.flatMap(Double.init) ?? 0) >= 0.8)
    }

    @Test func exfilUploadVolume() {
        let f = BehaviourFeeder([detectorRule(.exfilVolume, ["learning": num(0)])])
        for i in 0..<24 { f.conn(day0 + Double(i) * 60, "10.20.10.5", "203.0.113.50", dport: 443, service: "ssl", out: 20_000_000, in: 100_000) }
        #expect(f.all.isEmpty)  // 480 MB < 500 MB
        f.conn(day0 + 24 * 60, "10.20.10.5", "203.0.113.51", dport: 443, service: "ssl", out: 30_000_000, in: 100_000)
        #expect(f.kind("upload_volume").count == 1)
        #expect(f.all.first?.group["destination_group"] == "203.0.113.0/24")
    }

    @Test func longConnectionBuckets() {
        #expect(LongConnectionDetector.bucketed(9 * 3600) == 0.65)
        #expect(LongConnectionDetector.bucketed(3599) == 0)
        let f = BehaviourFeeder([detectorRule(.longConnection)])
        f.conn(day0, "10.20.10.5", "203.0.113.9", dport: 443, service: "ssl", duration: 9 * 3600)
        #expect(f.all.first?.level == .high && f.all.first?.group["metric"] == "0.65")
    }

    @Test func dnsTunnelFastWindow() {
        let f = BehaviourFeeder([detectorRule(.dnsTunnel)])
        for i in 0..<30 {
            let label = String(repeating: "a", count: 30) + String(i)
            f.line(#"{"ts":\#(day0 + Double(i) * 5),"uid":"D\#(i)","id.orig_h":"10.20.1.8","id.orig_p":5353,"id.resp_h":"10.20.0.53","id.resp_p":53,"proto":"udp","query":"\#(label).t.example-tun.net","qtype":16,"qtype_name":"TXT","rcode":0}"#, fileName: "dns.log")
        }
        let fast = f.all.filter { $0.group["kind"] == "fast" || $0.group["kind"] == "txt" }
        #expect(fast.count == 1)
        #expect(fast.first?.group["domain"] == "example-tun.net" && fast.first?.count == 25)
    }
}

@Suite struct BehaviourIncidentTests {
    /// A sweep on day 9 and a new RDP edge from the same host on day 15 share one incident; day 30 opens another.
    @Test func incidentAcrossDays() {
        let c = IncidentCorrelator()
        func finding(_ day: Double, _ tags: [String]) -> Finding {
            let t = Timestamp(seconds: Int64(day0 + day * 86_400))
            return Finding(ruleID: "r\(day)", title: "t", level: .medium, tags: tags, firstSeen: t, lastSeen: t, format: "x")
        }
        let host = IPAddress.parse("10.20.1.5")!
        var a = finding(9, ["attack.discovery", "attack.t1046"])
        var b = finding(15, ["attack.lateral_movement", "attack.t1021.001"])
        var d = finding(30, ["attack.exfiltration"])
        c.assign(&a, host: host)
        c.assign(&b, host: host)
        c.assign(&d, host: host)
        #expect(a.group["incident"] == b.group["incident"])
        #expect(b.group["incident_tactics"] == "discovery,lateral_movement" && b.group["incident_stage"] == "multi_tactic")
        #expect(a.group["incident_stage"] == nil)
        #expect(d.group["incident"] != b.group["incident"])  // 15 days after the last one
        #expect(a.group["incident"] == "inc-10.20.1.5-\(Int64(day0 + 9 * 86_400))")
    }

    @Test func allowEntrySuppressesByRuleOrType() {
        let site = SiteFile.parse(yaml: """
            allow:
              - detector: internal_scan
                source: [10.0.0.5]
                reason: weekly Nessus scan
            """, path: "site.yml").0!
        let f = BehaviourFeeder([detectorRule(.internalScan, ["threshold_internal": num(3)])], site: site)
        for i in 0..<5 { f.conn(day0 + Double(i), "10.0.0.5", "10.0.1.\(i)", dport: 445, state: "S0") }
        for i in 0..<5 { f.conn(day0 + Double(i), "10.0.0.6", "10.0.1.\(i)", dport: 445, state: "S0") }
        #expect(f.all.map(\.sourceIP) == ["10.0.0.6"])
        #expect(f.engine.allowed["test.internal_scan"] == 1)
    }
}
