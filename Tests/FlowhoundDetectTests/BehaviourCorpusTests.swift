import Foundation
import Testing
import FlowhoundCore
import FlowhoundRules
@testable import FlowhoundDetect
@testable import FlowhoundParse

/// The shipped detector rules, loaded the way a scan loads them.
func shippedDetectorRules() -> [DetectorRule] {
    let r = SigmaLoader.load(paths: [packageRoot.appendingPathComponent("Rules/flowhound/detectors").path])
    return r.detectorRules
}

@Suite(.enabled(if: behaviourCorpusAvailable, "corpus folder ../shared/corpus is absent"))
struct BehaviourCorpusTests {
    /// netdetect.md D1 test (a): the Stratosphere internal Nmap capture has one scanner, 172.16.1.11.
    @Test func stratosphereNmapScanner() throws {
        var found: [Finding] = []
        let engine = BehaviourEngine(rules: shippedDetectorRules(), site: SiteConfiguration()) { found.append($0) }
        let n = try feedCorpus("stratosphere-security-datasets-for-testing/002-zeek-scenario-port-scanning/conn.log.gz", into: engine)
        engine.finish()
        #expect(n == 4504)
        let scans = found.filter { $0.ruleID == "net.internal_scan" && $0.group["kind"] == "failed_attempts" }
        #expect(scans.count == 1)
        let s = try #require(scans.first)
        #expect(s.sourceIP == "172.16.1.11")
        #expect(s.count == 100)
        #expect(s.group["scan_class"] == "Address_Scan")
        let start = 1_664_462_456.755299
        let fireOffset = Double(s.lastSeen.nanoseconds) / 1e9 - start
        #expect(abs(fireOffset - 3045) < 1, "fired at +\(fireOffset) s")
        let sweeps = found.filter { $0.ruleID == "net.admin_port_sweep" }
        #expect(sweeps.count == 1)
        let w = try #require(sweeps.first)
        #expect(w.sourceIP == "172.16.1.11")
        #expect(w.group["distinct_destinations"] == "20")
        let sweepOffset = Double(w.lastSeen.nanoseconds) / 1e9 - start
        #expect(abs(sweepOffset - 3045) < 2, "sweep fired at +\(sweepOffset) s")
        // every finding is about the one scanner
        #expect(found.allSatisfy { $0.sourceIP == "172.16.1.11" })
        // one incident for the host
        #expect(Set(found.compactMap { $0.group["incident"] }).count == 1)
        let report = found.map { "\($0.ruleID)/\($0.group["kind"] ?? "") \($0.sourceIP ?? "-")→\($0.destinationIP ?? "-") n=\($0.count)" }
        print("stratosphere 002 findings (\(found.count)):\n" + report.joined(separator: "\n"))
    }

    /// zed-sample-data (WRCCDC 2018): remote service creation, scheduled tasks, ADMIN$ mappings, the RDP fan-out.
    @Test func zedSampleData() throws {
        var found: [Finding] = []
        let engine = BehaviourEngine(rules: shippedDetectorRules(), site: SiteConfiguration()) { found.append($0) }
        for log in ["dce_rpc", "smb_mapping", "smb_files", "rdp", "ntlm", "kerberos", "ssh"] {
            try feedCorpus("zed-sample-data/zeek-json/\(log).json.gz", into: engine)
        }
        engine.finish()
        let admin = found.filter { $0.ruleID == "net.admin_protocol_anomaly" }
        func sources(_ kind: String) -> Set<String> { Set(admin.filter { $0.group["kind"] == kind }.compactMap(\.sourceIP)) }
        #expect(sources("service_create").isSuperset(of: ["10.128.0.214", "10.150.0.20"]))
        let creates = admin.filter { $0.group["kind"] == "service_create" }
        #expect(Set(creates.filter { $0.sourceIP == "10.128.0.214" }.compactMap(\.destinationIP)).count == 3)
        #expect(Set(creates.filter { $0.sourceIP == "10.150.0.20" }.compactMap(\.destinationIP)).count == 3)
        #expect(sources("task_register").contains("10.128.0.233"))
        #expect(sources("dcom_activate").contains("10.128.0.233"))
        #expect(sources("share_map_admin").contains("10.128.0.233"))
        #expect(admin.filter { $0.group["kind"] == "service_create" }.allSatisfy { $0.level == .high })
        let fan = found.filter { $0.ruleID == "auth.fanout" && $0.sourceIP == "10.164.94.120" }
        #expect(fan.map { $0.group["kind"] ?? "" }.contains("white_cane"))
        #expect(!fan.contains { $0.group["kind"] == "blast" })
        var byRule: [String: Int] = [:]
        for f in found { byRule["\(f.ruleID)/\(f.group["kind"] ?? "")", default: 0] += 1 }
        print("zed-sample-data findings: " + byRule.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        for f in found where f.ruleID != "net.admin_protocol_anomaly" {
            print("  \(f.ruleID)/\(f.group["kind"] ?? "") \(f.sourceIP ?? "-")→\(f.destinationIP ?? "-") n=\(f.count) \(f.group["summary"] ?? "")")
        }
    }
}
