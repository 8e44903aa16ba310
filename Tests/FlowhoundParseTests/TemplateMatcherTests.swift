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
}
