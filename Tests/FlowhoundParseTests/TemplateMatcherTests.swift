import FlowhoundCore
import Testing

@testable import FlowhoundParse

/// The word-at-a-time literal comparison of `TemplateMatcher` against the byte-wise rules it shortcuts.
@Suite struct TemplateMatcherTests {
    @Test func wordwiseLiteralMatchAgreesWithBytewiseOnRandomText() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = Array("ab fromport".utf8) + [9]
        var checked = 0
        for _ in 0..<40_000 {
            // literals as the templates hold them: no tabs, no double spaces (others take the byte-wise path)
            var lit: [UInt8] = []
            for _ in 0..<Int.random(in: 1...20, using: &rng) {
                var c = alphabet.randomElement(using: &rng)!
                if c == 9 || (c == 32 && lit.last == 32) { c = 97 }
                lit.append(c)
            }
            let t = MessageTemplate(String(decoding: lit, as: UTF8.self), kinds: [:], tag: 0)
            let part = t.parts[0]
            #expect(part.simple)
            // messages: the literal with a few bytes changed, spaces doubled or tabbed, or random bytes
            var msg: [UInt8]
            switch Int.random(in: 0..<3, using: &rng) {
            case 0:
                msg = (0..<Int.random(in: 0...30, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            default:
                msg = Array(lit.prefix(Int.random(in: 0...lit.count, using: &rng)))
                for _ in 0..<Int.random(in: 0...2, using: &rng) where !msg.isEmpty {
                    let i = Int.random(in: 0..<msg.count, using: &rng)
                    if msg[i] == 32 { msg.insert([32, 9].randomElement(using: &rng)!, at: i) } else {
                        msg[i] = alphabet.randomElement(using: &rng)!
                    }
                }
                msg += (0..<Int.random(in: 0...8, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            }
            let lead = Int.random(in: 0...3, using: &rng)
            let bytes = [UInt8](repeating: 120, count: lead) + msg
            bytes.withUnsafeBufferPointer { b in
                let p = b.baseAddress ?? UnsafePointer(bitPattern: 1)!
                let fast = TemplateMatcher.matchLiteral(part, p, b.count, lead)
                let slow = TemplateMatcher.matchLiteralBytewise(part, p, b.count, lead)
                #expect(fast == slow, "literal \(lit) message \(bytes) at \(lead)")
                if slow != nil { checked += 1 }
            }
        }
        #expect(checked > 1_000)
    }

    /// The byte-by-byte scan `netfilterStart` replaced (kept here as the oracle).
    static func netfilterStartBytewise(_ p: UnsafePointer<UInt8>, _ n: Int) -> Int? {
        var i = 0
        let limit = min(n, 160)
        while i + 3 < limit {
            if p[i] == 73 && p[i + 1] == 78 && p[i + 2] == 61 && (i == 0 || p[i - 1] == 32 || p[i - 1] == 93) {
                var j = i + 3
                while j < n && p[j] != 32 { j += 1 }
                if j + 4 < n && p[j + 1] == 79 && p[j + 2] == 85 && p[j + 3] == 84 && p[j + 4] == 61 { return i }
                return nil
            }
            if p[i] == 61 && i > 0 && p[i - 1] != 78 { return nil }
            i += 1
        }
        return nil
    }

    @Test func netfilterStartAgreesWithTheBytewiseScan() {
        var rng = SystemRandomNumberGenerator()
        let pieces: [[UInt8]] = ["IN=", "OUT=", " ", "]", "N=", "x", "=", "IN=eth0 OUT= ", "[UFW BLOCK] "].map { Array($0.utf8) }
        var found = 0
        for _ in 0..<30_000 {
            var b: [UInt8] = []
            if Bool.random(using: &rng) { b += [UInt8](repeating: 120, count: Int.random(in: 140...162, using: &rng)) }
            for _ in 0..<Int.random(in: 0...12, using: &rng) { b += pieces.randomElement(using: &rng)! }
            b.withUnsafeBufferPointer { u in
                let p = u.baseAddress ?? UnsafePointer(bitPattern: 1)!
                let got = netfilterStart(p, u.count)
                #expect(got == Self.netfilterStartBytewise(p, u.count), "\(String(decoding: b, as: UTF8.self))")
                if got != nil { found += 1 }
            }
        }
        #expect(found > 500)
    }
}
