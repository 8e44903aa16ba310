import Foundation
import Testing

/// `flowhound scan` with the bundled rules and site file on real captures in ../shared/corpus (skipped when the
/// folder is absent): the internal Nmap scanner of Stratosphere 002, and the lateral movement in zed-sample-data.
@Suite(.enabled(if: Repo.corpusAvailable, "corpus folder ../shared/corpus is absent"))
struct CorpusScanTests {
    struct Alert {
        var rule: String, kind: String?, src: String?, dst: String?, level: String?
    }

    static func alerts(_ stdout: String) throws -> [Alert] {
        try jsonLines(stdout).map { j in
            let rule = j["rule"] as? [String: Any]
            return Alert(
                rule: rule?["id"] as? String ?? "", kind: ((j["flowhound"] as? [String: Any])?["group"] as? [String: Any])?["kind"] as? String,
                src: (j["source"] as? [String: Any])?["ip"] as? String, dst: (j["destination"] as? [String: Any])?["ip"] as? String,
                level: rule?["level"] as? String)
        }
    }

    /// Stratosphere 002: one internal client (172.16.1.11) runs Nmap against three subnets. The scanner is found by
    /// the failed-attempt scan, the admin-port sweep and the vertical scan, and nothing is said about anyone else.
    @Test func stratosphereInternalNmapScannerIsFound() throws {
        let dir = Repo.sharedCorpus + "/stratosphere-security-datasets-for-testing/002-zeek-scenario-port-scanning"
        let r = try runFlowhound(["scan", "--jobs", "2", "--alert-format", "json", dir], cwd: Repo.root)
        #expect(r.status == 1, "\(r.stderr)")
        let found = try Self.alerts(r.stdout)
        let kinds = Set(found.filter { $0.src == "172.16.1.11" }.map { "\($0.rule)/\($0.kind ?? "")" })
        #expect(kinds.isSuperset(of: ["net.internal_scan/failed_attempts", "net.admin_port_sweep/admin_port_sweep"]), "\(kinds)")
        #expect(!found.isEmpty && found.allSatisfy { $0.src == "172.16.1.11" }, "\(found.map { "\($0.rule) \($0.src ?? "-")" })")
        print("stratosphere 002 scan: " + found.map { "\($0.rule)/\($0.kind ?? "") \($0.src ?? "-")→\($0.dst ?? "-")" }.joined(separator: ", "))
    }

    /// zed-sample-data (WRCCDC 2018), its 16 Zeek JSON logs as one stream: remote service creation from
    /// 10.128.0.214 and 10.150.0.20 to three hosts each, scheduled tasks, DCOM and ADMIN$ from 10.128.0.233, and the
    /// RDP fan-out of 10.164.94.120 (white cane, not blast); the same bytes for --jobs 1 and --jobs 2.
    @Test func zedLateralMovementIsFoundForAnyJobs() throws {
        let dir = Repo.sharedCorpus + "/zed-sample-data/zeek-json"
        let one = try runFlowhound(["scan", "--jobs", "1", "--alert-format", "json", dir], cwd: Repo.root)
        let two = try runFlowhound(["scan", "--jobs", "2", "--alert-format", "json", dir], cwd: Repo.root)
        #expect(one.status == 1, "\(one.stderr)")
        #expect(one.stderr.contains("16 inputs"), "\(one.stderr)")
        #expect(!one.stdout.isEmpty && one.stdout == two.stdout, "--jobs 1 and --jobs 2 differ")
        let found = try Self.alerts(one.stdout)
        func targets(_ kind: String, from src: String) -> Set<String> {
            Set(found.filter { $0.rule == "net.admin_protocol_anomaly" && $0.kind == kind && $0.src == src }.compactMap(\.dst))
        }
        #expect(targets("service_create", from: "10.128.0.214").count == 3)
        #expect(targets("service_create", from: "10.150.0.20").count == 3)
        #expect(!targets("task_register", from: "10.128.0.233").isEmpty)
        #expect(!targets("dcom_activate", from: "10.128.0.233").isEmpty)
        #expect(!targets("share_map_admin", from: "10.128.0.233").isEmpty)
        #expect(found.filter { $0.kind == "service_create" }.allSatisfy { $0.level == "high" })
        let fan = found.filter { $0.rule == "auth.fanout" && $0.src == "10.164.94.120" }.compactMap(\.kind)
        #expect(fan.contains("white_cane") && !fan.contains("blast"), "\(fan)")
        var byKind: [String: Int] = [:]
        for f in found { byKind["\(f.rule)/\(f.kind ?? "")", default: 0] += 1 }
        print("zed-sample-data scan: " + byKind.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    }
}
