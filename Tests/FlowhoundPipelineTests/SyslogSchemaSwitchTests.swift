import Foundation
import Testing

/// Syslog lines change schema with their program every few lines; the scan sink keeps the rules of each schema and
/// goes back to the previous one by exchanging its fields. Every line must still be matched with its own
/// schema's rules, whatever order the programs come in.
@Suite struct SyslogSchemaSwitchTests {
    static let rules = """
        title: sshd failure
        id: 0c3e8f7a-0000-4000-8000-000000000001
        level: low
        logsource: {product: linux, service: sshd}
        detection:
            sel: {event.outcome: failure, system.auth.ssh.method: password}
            condition: sel
        ---
        title: sudo runs id
        id: 0c3e8f7a-0000-4000-8000-000000000002
        level: low
        logsource: {product: linux, service: sudo}
        detection:
            sel: {process.command_line|contains: /usr/bin/id}
            condition: sel
        ---
        title: firewall drop from one address
        id: 0c3e8f7a-0000-4000-8000-000000000003
        level: low
        logsource: {category: firewall}
        detection:
            sel: {source.ip: 203.0.113.5}
            condition: sel
        """

    /// One line of `kind` at second `s`: the programs whose lines a rule above matches, and CRON as filler.
    static func line(_ kind: Int, _ s: Int, matching: Bool) -> String {
        let stamp = String(format: "Mar  1 10:%02d:%02d", s / 60, s % 60)
        switch kind {
        case 0:
            let method = matching ? "password" : "publickey"
            return "\(stamp) bastion sshd[\(100 + s)]: Failed \(method) for root from 198.51.100.\(s % 200) port \(40000 + s) ssh2"
        case 1:
            let cmd = matching ? "/usr/bin/id" : "/bin/ls"
            return "\(stamp) bastion sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=\(cmd)"
        case 2:
            let src = matching ? "203.0.113.5" : "203.0.113.9"
            return "\(stamp) bastion kernel: [12345.678] [UFW BLOCK] IN=eth0 OUT= MAC=00:11 SRC=\(src) DST=10.0.0.5 LEN=44 "
                + "TOS=0x00 PREC=0x00 TTL=50 ID=\(s) PROTO=TCP SPT=\(1000 + s) DPT=22 WINDOW=1024 RES=0x00 SYN URGP=0"
        default:
            return "\(stamp) bastion CRON[\(200 + s)]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"
        }
    }

    @Test func everyLineIsMatchedWithItsOwnSchemasRules() throws {
        let dir = try Repo.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir + "/rules", withIntermediateDirectories: true)
        try Self.rules.write(toFile: dir + "/rules/r.yml", atomically: true, encoding: .utf8)
        // back and forth between two programs, runs of one, cycles of three and four, random order
        var kinds: [Int] = []
        for _ in 0..<6 { kinds += [0, 1] }
        for _ in 0..<4 { kinds += [0, 0, 2, 2, 3] }
        for _ in 0..<4 { kinds += [0, 1, 2] }
        for _ in 0..<3 { kinds += [3, 2, 1, 0] }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<200 { kinds.append(Int.random(in: 0..<4, using: &rng)) }
        var lines: [String] = []
        var expected: [String: [Int]] = [:]  // rule id suffix → line numbers
        for (i, k) in kinds.enumerated() {
            let matching = i % 3 != 2
            lines.append(Self.line(k, i, matching: matching))
            if matching && k < 3 { expected["\(k + 1)", default: []].append(i + 1) }
        }
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/auth.log", atomically: true, encoding: .utf8)
        let r = try runFlowhound(
            ["scan", "--rules", dir + "/rules", "--alert-format", "json", "--merge-window", "0", dir + "/auth.log"], cwd: Repo.root)
        #expect(r.status == 1, "\(r.stderr)")
        var found: [String: [Int]] = [:]
        for a in try jsonLines(r.stdout) {
            let id = try #require((a["rule"] as? [String: Any])?["id"] as? String)
            let ev = (a["flowhound"] as? [String: Any])?["evidence"] as? [[String: Any]] ?? []
            for e in ev { found[String(id.suffix(1)), default: []].append(try #require(e["line"] as? Int)) }
        }
        for k in ["1", "2", "3"] {
            #expect(found[k]?.sorted() == expected[k], "rule \(k) (order: \(kinds.map(String.init).joined()))")
        }
    }
}
