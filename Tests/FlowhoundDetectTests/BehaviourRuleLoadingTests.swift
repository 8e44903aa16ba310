import Foundation
import Testing
import FlowhoundCore
import FlowhoundRules
@testable import FlowhoundDetect

@Suite struct BehaviourRuleLoadingTests {
    @Test func shippedRulesLoadWithAttackTags() {
        let r = SigmaLoader.load(paths: [packageRoot.appendingPathComponent("Rules/flowhound/detectors").path])
        #expect(r.errors.isEmpty, "\(r.errors)")
        #expect(r.detectorRules.count == DetectorType.allCases.count)
        #expect(Set(r.detectorRules.map(\.type)) == Set(DetectorType.allCases))
        for d in r.detectorRules {
            #expect(d.tags.contains { $0.hasPrefix("attack.t") }, "\(d.id) has no technique tag")
            #expect(d.tags.contains { !$0.hasPrefix("attack.t") }, "\(d.id) has no tactic tag")
        }
        let scan = r.detectorRules.first { $0.type == .internalScan }!
        #expect(scan.number("idle_timeout") == 900 && scan.int("threshold_internal") == 100 && scan.filter != nil)
    }

    @Test func defaultsAndUnits() {
        let r = SigmaLoader.load(yaml: """
            title: t
            id: x.exfil
            tags: [attack.exfiltration, attack.t1041]
            detector:
              type: exfil_volume
              min_bytes: 1.5GB
              window: 2h
            """, path: "r.yml")
        #expect(r.errors.isEmpty)
        let d = r.detectorRules[0]
        #expect(d.number("min_bytes") == 1.5e9 && d.number("window") == 7200)
        #expect(d.number("min_pcr") == 0.5 && d.number("suppress_for") == 6 * 3600 && d.key == "source_dst_group")
        #expect(d.level == .medium)
    }

    @Test func diagnosticsHaveLocations() {
        let r = SigmaLoader.load(yaml: """
            title: t
            id: x.a
            detector:
              type: internal_scn
            ---
            title: t
            id: x.b
            detector:
              type: internal_scan
              key: destination
              idle_timout: 5m
              threshold_internal: many
            ---
            title: t
            detector:
              type: fanout
              filter:
                sel: {id.orig_h|cidr: 10.0.0.0/8}
                condition: sel and nope
            """, path: "r.yml")
        let got = r.errors.map { "\($0.location?.line ?? 0):\($0.location?.column ?? 0) \($0.code)" }
        #expect(got == [
            "4:9 unknown_detector_type", "10:8 unknown_detector_key", "11:3 unknown_detector_parameter",
            "12:23 bad_parameter", "14:1 missing_id", "19:24 undefined_identifier",
        ], "\(got)")
        #expect(r.errors[0].message.contains("did you mean 'internal_scan'"))
        #expect(r.errors[2].message.contains("did you mean 'idle_timeout'"))
        #expect(r.detectorRules.isEmpty)
    }

    /// The filter is compiled per schema; events it rejects are not seen by the detector.
    @Test func filterRestrictsEvents() {
        let r = SigmaLoader.load(yaml: """
            title: t
            id: x.scan
            detector:
              type: internal_scan
              threshold_internal: 3
              vertical_ports: 0
              vertical_sensitive_ports: 0
              filter:
                lab:
                  id.orig_h|cidr: 10.66.0.0/16
                condition: not lab
            """, path: "r.yml")
        #expect(r.errors.isEmpty)
        let f = BehaviourFeeder(r.detectorRules)
        for i in 0..<5 { f.conn(day0 + Double(i), "10.66.1.1", "10.0.1.\(i)", dport: 80, state: "S0") }
        #expect(f.all.isEmpty)
        for i in 0..<5 { f.conn(day0 + Double(i), "10.67.1.1", "10.0.1.\(i)", dport: 80, state: "S0") }
        #expect(f.all.count == 1)
    }
}
