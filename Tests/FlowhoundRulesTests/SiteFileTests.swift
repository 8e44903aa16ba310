import FlowhoundCore
import FlowhoundRules
import Foundation
import Testing

@Suite struct SiteFileTests {
    @Test func bundledSiteFileLoadsWithDefaults() throws {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        let (site, diags) = SiteFile.load(path: url.path + "/Rules/site.yml")
        #expect(diags.isEmpty, "\(diags)")
        let s = try #require(site)
        #expect(s.timezone == "UTC")
        #expect(s.assets.isEmpty && s.groups.isEmpty && s.allow.isEmpty)
        let a = try #require(IPAddress.parse("10.1.2.3")), b = try #require(IPAddress.parse("fd00::1"))
        let c = try #require(IPAddress.parse("8.8.8.8"))
        #expect(s.isInternal(a) && s.isInternal(b) && !s.isInternal(c))
    }

    @Test func groupsAssetsAndAllowEntriesResolve() throws {
        let yaml = """
            internal_networks: [10.0.0.0/8]
            timezone: Asia/Tokyo
            groups:
              jump_hosts: [10.20.5.5]
              scanners: [10.20.9.0/28]
            assets:
              - name: order-db
                hosts: [10.20.10.50]
                sensitive: true
                allowed_clients: [10.20.10.40, jump_hosts]
            allow:
              - rule: 40c43109-6b72-4770-9ec3-1e8c9797c400
                source: [scanners]
                reason: weekly vulnerability scan
            """
        let (site, diags) = SiteFile.parse(yaml: yaml, path: "s.yml")
        #expect(diags.isEmpty, "\(diags)")
        let s = try #require(site)
        let db = try #require(s.assets.first)
        let jump = try #require(IPAddress.parse("10.20.5.5")), deviceA = try #require(IPAddress.parse("10.20.1.23"))
        #expect(db.sensitive && db.allowedClients?.contains(jump) == true)
        #expect(db.allowedClients?.contains(deviceA) == false)
        let scanner = try #require(IPAddress.parse("10.20.9.3"))
        #expect(s.allowEntry(id: "40c43109-6b72-4770-9ec3-1e8c9797c400", title: "", source: scanner, destination: nil)?.reason == "weekly vulnerability scan")
        #expect(s.allowEntry(id: "other", title: "", source: scanner, destination: nil) == nil)
        #expect(s.allowEntry(id: "40c43109-6b72-4770-9ec3-1e8c9797c400", title: "", source: deviceA, destination: nil) == nil)
        let home = try #require(IPAddress.parse("192.168.1.1"))
        #expect(!s.isInternal(home), "internal_networks replaces the defaults")
    }

    @Test func problemsAreReportedWithTheirPlace() {
        let yaml = """
            internal_networks: [10.0.0.0/33]
            timezone: Mars/Olympus
            groupz: {}
            assets:
              - name: x
                hosts: [nowhere]
                colour: red
            allow:
              - rule: r
                source: [10.0.0.1]
            """
        let (site, diags) = SiteFile.parse(yaml: yaml, path: "s.yml")
        #expect(site == nil)
        let rendered = diags.map(\.description)
        #expect(rendered.contains("s.yml:1:21: error[bad_cidr]: '10.0.0.0/33' is not an address or CIDR"))
        #expect(rendered.contains { $0.hasPrefix("s.yml:2:11: error[bad_timezone]: unknown time zone 'Mars/Olympus'") })
        #expect(rendered.contains { $0.hasPrefix("s.yml:3:1: error[unknown_key]: unknown key 'groupz'") })
        #expect(rendered.contains { $0.hasPrefix("s.yml:6:13: error[bad_host]: 'nowhere' in asset 'x' hosts") })
        #expect(rendered.contains { $0.hasPrefix("s.yml:7:5: error[unknown_key]: unknown asset key 'colour'") })
        #expect(rendered.contains { $0.hasPrefix("s.yml:9:5: error[bad_site]: an allow entry needs a reason") })
    }
}
