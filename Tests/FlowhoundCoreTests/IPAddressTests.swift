import FlowhoundCore
import Testing

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("10.0.0.1", "10.0.0.1"), ("255.255.255.255", "255.255.255.255"), ("0.0.0.0", "0.0.0.0"),
        ("::1", "::1"), ("::", "::"), ("fe80::1%eth0", "fe80::1"), ("2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:db8::", "2001:db8::"), ("::ffff:10.1.2.3", "10.1.2.3"), ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("64:ff9b::192.0.2.33", "64:ff9b::c000:221"), ("fd00:1::5", "fd00:1::5"),
    ])
    func parsesAndRendersCanonically(input: String, rendered: String) throws {
        let ip = try #require(IPAddress.parse(input))
        #expect(ip.description == rendered)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-", "1..2.3", "a.b.c.d", "1.2.3.4 ", ":::", "1::2::3",
        "1:2:3:4:5:6:7:8:9", "12345::", "1:2:3:4:5:6:7", ":1:2", "1:", "g::1", "-",
    ])
    func rejectsMalformedText(input: String) {
        #expect(IPAddress.parse(input) == nil)
    }

    @Test func ipv4IsMappedAndOrdered() throws {
        let a = try #require(IPAddress.parse("10.0.0.2"))
        let b = try #require(IPAddress.parse("10.0.0.10"))
        #expect(a.isIPv4 && a.v4 == 0x0A00_0002)
        #expect(a < b)
        #expect(IPAddress.parse("::ffff:10.0.0.2") == a)
    }
}

@Suite struct CIDRTests {
    @Test func containsRespectsPrefix() throws {
        let c = try #require(CIDR("10.20.1.0/24"))
        #expect(c.contains(try #require(IPAddress.parse("10.20.1.255"))))
        #expect(!c.contains(try #require(IPAddress.parse("10.20.2.0"))))
        #expect(c.description == "10.20.1.0/24")
        let zero = try #require(CIDR("0.0.0.0/0"))
        #expect(zero.contains(try #require(IPAddress.parse("8.8.8.8"))))
        #expect(!zero.contains(try #require(IPAddress.parse("2001:db8::1"))))
        let v6 = try #require(CIDR("fc00::/7"))
        #expect(v6.contains(try #require(IPAddress.parse("fd12:3456::1"))))
        #expect(!v6.contains(try #require(IPAddress.parse("fe80::1"))))
        let host = try #require(CIDR("192.168.1.7"))
        let hostIP = try #require(IPAddress.parse("192.168.1.7"))
        #expect(host.prefixLength == 128 && host.contains(hostIP))
        #expect(try #require(CIDR("10.1.2.3/8")).description == "10.0.0.0/8")
    }

    @Test(arguments: ["10.0.0.0/33", "10.0.0.0/-1", "x/8", "10.0.0.0/", "::/129", "10.0.0.0/+8"])
    func rejectsBadBlocks(text: String) {
        #expect(CIDR(text) == nil)
    }

    @Test func defaultInternalCoversRFC1918AndULA() throws {
        let inside = ["10.1.1.1", "172.31.255.1", "192.168.0.1", "fd00::1", "127.0.0.1"]
        let outside = ["172.32.0.1", "8.8.8.8", "2001:db8::1", "11.0.0.1"]
        for s in inside {
            let ip = try #require(IPAddress.parse(s))
            #expect(CIDR.defaultInternal.contains { $0.contains(ip) }, "\(s)")
        }
        for s in outside {
            let ip = try #require(IPAddress.parse(s))
            #expect(!CIDR.defaultInternal.contains { $0.contains(ip) }, "\(s)")
        }
    }
}

/// `parseIPv4` against a plain reference (split on dots, one to three digits, each ≤ 255) on random strings.
@Suite struct IPv4ParserDifferentialTests {
    private func reference(_ s: [UInt8]) -> UInt32? {
        let parts = s.split(separator: 46, omittingEmptySubsequences: false)
        guard s.count >= 7, s.count <= 15, parts.count == 4 else { return nil }
        var ip: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
            let v = part.reduce(UInt32(0)) { $0 * 10 + UInt32($1 - 48) }
            guard v <= 255 else { return nil }
            ip = ip << 8 | v
        }
        return ip
    }

    @Test func randomStringsAgreeWithReference() {
        var state: UInt64 = 0x1234_5678
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let alphabet = Array("0123456789..25:a".utf8) + [0]  // NUL: the parser pads its local copy with zeros
        var checked = 0
        for _ in 0..<200_000 {
            let n = Int(next() % 18)
            var s = (0..<n).map { _ in alphabet[Int(next() % UInt64(alphabet.count))] }
            if next() % 3 == 0 {  // plausible addresses too, so the accepting paths are exercised
                s = Array((0..<4).map { _ in String(next() % 300) }.joined(separator: ".").utf8)
            }
            let got = s.withUnsafeBufferPointer { b in b.baseAddress.flatMap { IPAddress.parseIPv4($0, b.count) } }
            #expect(got == (s.isEmpty ? nil : reference(s)), "\(String(decoding: s, as: UTF8.self))")
            checked += 1
        }
        #expect(checked == 200_000)
    }
}
