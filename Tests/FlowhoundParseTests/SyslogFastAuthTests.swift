import FlowhoundCore
import FlowhoundTestSupport
import Foundation
import Testing

@testable import FlowhoundParse

/// The hand-written sshd/PAM matchers (`SyslogFastAuth`) against the template list they shortcut: same rule, same
/// captures, same decoded fields, on real auth logs and on generated and mutated sshd lines.
@Suite struct SyslogFastAuthTests {
    /// Decodes `line` with the fast matchers on and off; returns how many lines the fast path decided (0 or 1)
    /// after recording every difference.
    @discardableResult
    static func compare(_ line: [UInt8], _ fast: SyslogDecoder, _ slow: SyslogDecoder, _ diffs: inout [String]) -> Int {
        var a = EventRecord(capacity: 64)
        var b = EventRecord(capacity: 64)
        defer { a.deallocate(); b.deallocate() }
        return line.withUnsafeBufferPointer { u -> Int in
            let p = u.baseAddress ?? UnsafePointer(bitPattern: 1)!
            var oa = fast.decode(p, u.count, into: &a)
            if oa == .schemaChanged { oa = fast.decode(p, u.count, into: &a) }
            var ob = slow.decode(p, u.count, into: &b)
            if ob == .schemaChanged { ob = slow.decode(p, u.count, into: &b) }
            let text = String(decoding: line, as: UTF8.self)
            if oa != ob || fast.schema.key != slow.schema.key {
                diffs.append("\(text): outcome \(oa) vs \(ob), schema \(fast.schema.key) vs \(slow.schema.key)")
                return 0
            }
            guard oa == .event || oa == .malformed(.badTimestamp) else { return 0 }
            for (i, f) in fast.schema.fields.enumerated() {
                let x = a[i], y = b[i]
                if x.string != y.string || x.listSeparator != y.listSeparator {
                    diffs.append("\(text): \(f.name) \(x.string ?? "nil") vs \(y.string ?? "nil")")
                }
            }
            return decidedByFastPath(line) ? 1 : 0
        }
    }

    /// Whether `SyslogFastAuth` decides the message of a syslog line (`host prog: message`, prefixes removed as
    /// `SyslogMessages.auth` does for the common cases), checking rule and captures against the templates.
    static func decidedByFastPath(_ line: [UInt8]) -> Bool {
        guard let colon = line.firstIndex(of: 58).flatMap({ c in line[(c + 1)...].firstIndex(of: 58) })
            .flatMap({ c in line[(c + 1)...].firstIndex(of: 58) }) else { return false }
        var msg = Array(line[(colon + 1)...].drop { $0 == 32 })
        if msg.starts(with: Array("pam_unix(".utf8)), let e = msg.firstIndex(of: 41), e + 2 < msg.count {
            msg = Array(msg[(e + 2)...].drop { $0 == 32 })
        }
        if msg.count >= 10 && msg.suffix(9) == Array("[preauth]".utf8)[...] {
            msg.removeLast(9)
            while msg.last == 32 || msg.last == 9 { msg.removeLast() }
        }
        if msg.isEmpty { return false }
        return msg.withUnsafeBufferPointer { u -> Bool in
            let p = u.baseAddress!
            var c1 = Captures(), c2 = Captures()
            defer { c1.free(); c2.free() }
            let table = SyslogMessages.authTable
            let f = SyslogFastAuth.match(p, u.count, &c1, table.fast)
            if f < 0 { return false }
            let t = SyslogMessages.matchAuthRule(p, u.count, &c2, table, program: nil, programLength: 0, fast: false)
            let same = f == t && c1.count == c2.count
                && (0..<c1.count).allSatisfy { c1.kinds[$0] == c2.kinds[$0] && c1.starts[$0] == c2.starts[$0] && c1.lengths[$0] == c2.lengths[$0] }
            #expect(same, "fast rule \(f) vs template rule \(t) for \(String(decoding: msg, as: UTF8.self))")
            return true
        }
    }

    static func decoders() -> (SyslogDecoder, SyslogDecoder) {
        let fast = syslogDecoder(ref: "2024-03-05T00:00:00Z")
        let slow = syslogDecoder(ref: "2024-03-05T00:00:00Z")
        slow.fastAuth = false
        return (fast, slow)
    }

    @Test func corpusAuthLogsDecodeTheSameWithAndWithoutTheFastMatchers() throws {
        guard corpusAvailable else {
            print("skipped: ../shared/corpus is absent (SyslogFastAuthTests corpus comparison)")
            return
        }
        let files = ["loghub/OpenSSH/OpenSSH_2k.log", "loghub/Linux/Linux_2k.log", "wazuh-ruleset/rules/log-entries/sshd",
                     "elastic-integrations/packages/system/data_stream/auth/_dev/test/pipeline/test-auth.log"]
        var diffs: [String] = []
        var lines = 0, decided = 0
        for f in files {
            let text = try corpusText(f)
            let (fast, slow) = Self.decoders()
            for line in text.split(separator: 10, omittingEmptySubsequences: true) {
                lines += 1
                decided += Self.compare(Array(line), fast, slow, &diffs)
            }
        }
        #expect(diffs.isEmpty, "\(diffs.count) differences, first: \(diffs.prefix(5))")
        #expect(lines > 4_000)
        // the loghub OpenSSH sample is mostly these messages: the fast path must actually be taken
        #expect(decided > 1_500, "fast path decided \(decided) of \(lines) lines")
    }

    /// sshd/PAM lines as `gen_sshd.py` and OpenSSH write them, with hostile user names and odd spacing.
    static func generatedLine(_ rng: inout SplitMix) -> [UInt8] {
        func pick<T>(_ a: [T]) -> T { a[rng.below(a.count)] }
        let users = ["root", "admin", "oracle", "a b", "x from 1.2.3.4", "invalid user y", "illegal user z", "u port 1",
                     "", " ", "from", "port", "user=root", "a\tb", "ssh2: x", "by", "(uid=0)", "r(uid=5)", "é", "  two"]
        let v4 = "\(rng.below(256)).\(rng.below(256)).\(rng.below(256)).\(rng.below(256))"
        let ips = [v4, "2001:db8::\(rng.below(65536))", "[::1]", "host.example", "1.2.3", "999.1.1.1", "", "10.0.0.1 "]
        let ip = pick(ips)
        let port = pick(["\(rng.below(65536))", "22", "123456", "", "x1", "22 ", "0"])
        let user = pick(users)
        let method = pick(["password", "publickey", "keyboard-interactive/pam", "none", "", "pass word"])
        let msgs = [
            "Failed \(method) for \(user) from \(ip) port \(port) ssh2",
            "Failed \(method) for invalid user \(user) from \(ip) port \(port) ssh2",
            "Failed \(method) for \(user) from \(ip)",
            "Accepted \(method) for \(user) from \(ip) port \(port) ssh2: RSA SHA256:\(rng.below(1 << 30))",
            "Accepted \(method) for \(user) from \(ip) port \(port) ssh2",
            "Accepted \(method) for \(user) from \(ip) port \(port)",
            "Invalid user \(user) from \(ip) port \(port)",
            "Invalid user \(user) from \(ip)",
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=\(ip)  user=\(user)",
            "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=\(ip)",
            "pam_unix(sshd:auth): check pass; user unknown",
            "pam_unix(sshd:session): session opened for user \(user)(uid=0) by (uid=0)",
            "pam_unix(sshd:session): session opened for user \(user) by \(user)",
            "pam_unix(sshd:session): session opened for user \(user)",
            "pam_unix(sshd:session): session closed for user \(user)",
            "Received disconnect from \(ip) port \(port):11: Bye Bye [preauth]",
            "Received disconnect from \(ip) port \(port):11: disconnected by user",
            "Received disconnect from \(ip): 11: Bye Bye",
            "Disconnected from invalid user \(user) \(ip) port \(port) [preauth]",
            "Disconnected from authenticating user \(user) \(ip) port \(port) [preauth]",
            "Disconnected from user \(user) \(ip) port \(port)",
            "Disconnected from \(ip) port \(port)",
            "Connection closed by authenticating user \(user) \(ip) port \(port) [preauth]",
            "Connection closed by invalid user \(user) \(ip) port \(port) [preauth]",
            "Connection closed by \(ip) port \(port) [preauth]",
            "Connection closed by \(ip)",
            "Did not receive identification string from \(ip) port \(port)",
            "Did not receive identification string from \(ip)",
            "error: maximum authentication attempts exceeded for \(user) from \(ip) port \(port) ssh2 [preauth]",
            "message repeated 2 times: [ Failed password for \(user) from \(ip) port \(port) ssh2]",
        ]
        let prog = pick(["sshd[\(rng.below(99999))]", "sshd", "sshd-session[4]", "CRON[3]", "sudo", "login[9]"])
        return Array("Mar  1 00:00:\(10 + rng.below(50)) bastion01 \(prog): \(pick(msgs))".utf8)
    }

    /// Random edits: bytes that move template decisions (spaces, tabs, separators, keywords).
    static func mutate(_ line: [UInt8], _ rng: inout SplitMix) -> [UInt8] {
        var b = line
        let pieces: [[UInt8]] = [" ", "\t", "  ", ":", " from ", " port ", " ssh2: ", " user=", " rhost=", " by ", "(", "[",
                                 "]", "x", "1", "invalid user ", " [preauth]", "\u{00}", "\u{FF}"].map { Array($0.utf8) }
        let header = min(b.count, 28)
        for _ in 0..<(1 + rng.below(3)) where b.count > header {
            let i = header + rng.below(b.count - header + 1)
            switch rng.below(4) {
            case 0: b.insert(contentsOf: pieces[rng.below(pieces.count)], at: i)
            case 1: if i < b.count { b.remove(at: i) }
            case 2: if i < b.count { b[i] = pieces[rng.below(pieces.count)].first ?? 32 }
            default: b.removeSubrange(min(i, b.count)..<min(b.count, i + rng.below(12)))
            }
        }
        return b
    }

    @Test func generatedAndMutatedSSHDLinesDecodeTheSame() {
        var rng = SplitMix(seed: 0x5EC3)
        let (fast, slow) = Self.decoders()
        var diffs: [String] = []
        var decided = 0
        let total = 60_000
        for k in 0..<total {
            var line = Self.generatedLine(&rng)
            if k % 2 == 1 { line = Self.mutate(line, &rng) }
            decided += Self.compare(line, fast, slow, &diffs)
            if diffs.count > 20 { break }
        }
        #expect(diffs.isEmpty, "\(diffs.count) differences, first: \(diffs.prefix(5))")
        #expect(decided > total / 4, "fast path decided \(decided) of \(total) lines")
    }

    /// The fast path must leave lines it cannot decide to the templates (and the templates still decide them).
    @Test func undecidedShapesFallBackToTheTemplates() {
        let (fast, slow) = Self.decoders()
        var diffs: [String] = []
        let lines = [
            // backtracking: the last ` from ` is inside the address part, the rule needs an earlier one
            "Mar  1 00:00:01 h sshd[1]: Failed password for root from 10.0.0.1 port 22 from x",
            // tab after the literal, double space inside it
            "Mar  1 00:00:01 h sshd[1]: Failed\tpassword for root from 10.0.0.1 port 22 ssh2",
            "Mar  1 00:00:01 h sshd[1]: Disconnected from  invalid user x 10.0.0.1 port 22",
            // signature rule reachable only through an earlier `from`
            "Mar  1 00:00:01 h sshd[1]: Accepted publickey for a port 1 ssh2: k from 10.0.0.1 port 22",
            "Mar  1 00:00:01 h sshd[1]: Received disconnect from 10.0.0.1: 11: Bye",
            "Mar  1 00:00:01 h sshd[1]: Connection closed by 10.0.0.1",
        ]
        for l in lines { Self.compare(Array(l.utf8), fast, slow, &diffs) }
        #expect(diffs.isEmpty, "\(diffs)")
        let decided = lines.filter { Self.decidedByFastPath(Array($0.utf8)) }
        #expect(decided.isEmpty, "decided by the fast path: \(decided)")
    }
}

/// The per-decoder memories of the syslog header path (last BSD stamp, `host tag[` prefixes, program → schema
/// decisions) against a fresh decoder for every line, which has none of them.
@Suite struct SyslogDecoderCacheTests {
    static func fields(_ d: SyslogDecoder, _ line: [UInt8]) -> [String] {
        var r = EventRecord(capacity: 64)
        defer { r.deallocate() }
        return line.withUnsafeBufferPointer { u -> [String] in
            let p = u.baseAddress ?? UnsafePointer(bitPattern: 1)!
            var o = d.decode(p, u.count, into: &r)
            if o == .schemaChanged { o = d.decode(p, u.count, into: &r) }
            // a line without an event leaves the schema as it was (a fresh decoder's is another): not compared
            guard o == .event || o == .malformed(.badTimestamp) else { return ["\(o)"] }
            var out = ["\(o)", d.schema.key, "\(r.timestamp.map { "\($0.nanoseconds)" } ?? "nil")"]
            for i in 0..<d.schema.fieldCount { out.append(r[i].string ?? "-") }
            return out
        }
    }

    static func headerLine(_ rng: inout SplitMix) -> [UInt8] {
        func pick<T>(_ a: [T]) -> T { a[rng.below(a.count)] }
        let stamp = pick(["Mar  1 00:00:0\(rng.below(3))", "Mar  1 00:00:00", "Mar 10 23:59:59", "Dec 31 23:59:59",
                          "Mar  1 00:00:00.5", "Mar  1 2024 00:00:00", "Mar  0 00:00:00", "2024-03-01T00:00:00Z",
                          "<13>Mar  1 00:00:00", "Mar  1 00:00:00:"])
        let host = pick(["bastion01", "h", "host-with-long-name.example.com", "%ASA-x", "[x]", ":", "a:", "fw01"])
        let sep = pick([" ", "  ", "\t", " : ", ""])
        let tag = pick(["sshd[12]:", "sshd[12]", "CRON[3]:", "kernel:", "su:", "systemd-logind[404]:", "sudo:",
                        "sshd(pam_unix)[5]:", "x=1", "%ASA-4-106023:", "KERNEL:", "sshd[1234567890123456789012345]:",
                        "prog[1]x", "[UFW BLOCK]", "su", "averyveryverylongprogramname[1]:"])
        let msg = pick(["Failed password for root from 10.0.0.1 port 22 ssh2", "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8",
                        "session opened for user root by (uid=0)", "", "x", ": y", "[preauth]"])
        return Array("\(stamp) \(host)\(sep)\(tag) \(msg)".utf8)
    }

    @Test func rememberedHeaderStateGivesTheSameFieldsAsAFreshDecoder() throws {
        var rng = SplitMix(seed: 0xCAC4E)
        let long = syslogDecoder(ref: "2024-03-05T00:00:00Z")
        var lines: [[UInt8]] = (0..<8_000).map { _ in Self.headerLine(&rng) }
        if corpusAvailable {
            for f in ["loghub/OpenSSH/OpenSSH_2k.log", "loghub/Linux/Linux_2k.log", "wazuh-ruleset/rules/log-entries/kernel"] {
                lines += try corpusText(f).split(separator: 10).map { Array($0) }
            }
        } else {
            print("note: ../shared/corpus is absent; SyslogDecoderCacheTests uses generated lines only")
        }
        var diffs: [String] = []
        for line in lines where diffs.count < 10 {
            let fresh = syslogDecoder(ref: "2024-03-05T00:00:00Z")
            let a = Self.fields(long, line), b = Self.fields(fresh, line)
            if a != b { diffs.append("\(String(decoding: line, as: UTF8.self)): \(a) vs \(b)") }
        }
        #expect(diffs.isEmpty, "\(diffs)")
    }

    @Test func headerOnlySchemasSkipTheMessageUntilAskedForEveryField() throws {
        let d = syslogDecoder()
        let line = Array("Mar  4 10:00:00 h1 sshd[1]: Failed password for root from 10.0.0.1 port 22 ssh2".utf8)
        var r = EventRecord(capacity: 64)
        defer { r.deallocate() }
        try line.withUnsafeBufferPointer { u in
            let p = u.baseAddress!
            var o = d.decode(p, u.count, into: &r)
            if o == .schemaChanged { o = d.decode(p, u.count, into: &r) }
            let user = try #require(d.schema.slot("user.name"))
            let host = try #require(d.schema.slot("host.hostname"))
            #expect(r[user].string == "root")
            d.setHeaderOnly(true)
            #expect(d.decode(p, u.count, into: &r) == .event)
            #expect(r[user].string == nil)
            #expect(r[host].string == "h1")
            #expect(d.decodeAllFields(p, u.count, into: &r) == .event)
            #expect(r[user].string == "root")
            #expect(d.decode(p, u.count, into: &r) == .event)
            #expect(r[user].string == nil, "decodeAllFields must not end header-only decoding")
            d.clearHeaderOnly()
            _ = d.decode(p, u.count, into: &r)
            #expect(r[user].string == "root")
        }
    }
}
