/// The Sigma modifier allow-list. Everything outside `supported` is a load error.
package enum SigmaModifier: String, Sendable, CaseIterable {
    case contains, startswith, endswith, all, cased, exists
    case re, i, m, s, ignorecase, multiline, dotall
    case cidr, gt, gte, lt, lte, neq
    case base64, base64offset, wide, utf16le, utf16be, utf16, windash
    case fieldref, expand

    /// Spec modifiers that flowhound knows but does not implement yet (a distinct, clearer error).
    package static let knownUnsupported: Set<String> = ["minute", "hour", "day", "week", "month", "year"]

    package static var names: [String] { allCases.map(\.rawValue) }

    /// The message for a modifier that is not on the list.
    package static func unknownMessage(_ name: String) -> (code: String, message: String) {
        if knownUnsupported.contains(name) {
            return ("unsupported_modifier", "the Sigma modifier '\(name)' is not supported by flowhound yet")
        }
        var m = "'\(name)' is not a Sigma modifier"
        if let near = Suggest.closest(to: name, in: names + knownUnsupported.sorted()) { m += "; did you mean '\(near)'?" }
        return ("unknown_modifier", m)
    }
}

/// Value transformations that rewrite literal bytes (`wide`, `base64`, `windash`, …).
package enum ValueTransform {
    /// UTF-16 re-encoding of the literal parts; wildcards stay wildcards.
    package static func utf16(_ p: SigmaPattern, bigEndian: Bool, bom: Bool) -> SigmaPattern {
        var pieces: [SigmaPattern.Piece] = []
        if bom { pieces.append(.literal([0xFF, 0xFE])) }
        for piece in p.pieces {
            guard case .literal(let b) = piece else {
                pieces.append(piece)
                continue
            }
            var out: [UInt8] = []
            for unit in String(decoding: b, as: UTF8.self).utf16 {
                let hi = UInt8(unit >> 8), lo = UInt8(unit & 0xFF)
                if bigEndian { out += [hi, lo] } else { out += [lo, hi] }
            }
            pieces.append(.literal(out))
        }
        return SigmaPattern(pieces: pieces)
    }

    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Standard base64 with padding.
    package static func base64(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i + 2 < bytes.count {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], alphabet[Int(v & 63)]]
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let v = UInt32(bytes[i]) << 16
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], UInt8(ascii: "="), UInt8(ascii: "=")]
        } else if rest == 2 {
            let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(v >> 18)], alphabet[Int(v >> 12 & 63)], alphabet[Int(v >> 6 & 63)], UInt8(ascii: "=")]
        }
        return out
    }

    /// The three forms a value takes inside base64 text depending on its offset modulo 3. Each form keeps only the
    /// characters that depend on the value alone (no neighbour bits, no padding).
    package static func base64Offsets(_ bytes: [UInt8]) -> [[UInt8]] {
        (0..<3).map { shift in
            let encoded = base64([UInt8](repeating: 0, count: shift) + bytes)
            // characters covering the filler bytes (and the one shared with them) are dropped at the front
            let dropFront = [0, 2, 3][shift]
            // characters that mix in the unknown next byte, or padding, are dropped at the end
            let dropBack = [0, 3, 2][(bytes.count + shift) % 3]
            let end = encoded.count - dropBack
            return end > dropFront ? Array(encoded[dropFront..<end]) : []
        }
    }

    /// The dash characters `windash` substitutes for one another: `-`, `/`, en dash, em dash, horizontal bar.
    package static let dashes: [[UInt8]] = [[0x2D], [0x2F], Array("\u{2013}".utf8), Array("\u{2014}".utf8), Array("\u{2015}".utf8)]

    /// `windash`: every word-initial `-` or `/` (not preceded by a word character, followed by one) in every dash
    /// variant. Returns nil when more than 3 positions would multiply the values beyond 125.
    package static func windash(_ p: SigmaPattern) -> [SigmaPattern]? {
        // positions as (piece index, byte index)
        var spots: [(Int, Int)] = []
        func isWord(_ c: UInt8) -> Bool {
            (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == 95 || c >= 0x80
        }
        for (k, piece) in p.pieces.enumerated() {
            guard case .literal(let b) = piece else { continue }
            for j in b.indices where b[j] == 0x2D || b[j] == 0x2F {
                let prevIsWord = j > 0 ? isWord(b[j - 1]) : false
                let nextIsWord = j + 1 < b.count ? isWord(b[j + 1]) : false
                if !prevIsWord && nextIsWord { spots.append((k, j)) }
            }
        }
        if spots.isEmpty { return [p] }
        if spots.count > 3 { return nil }
        var results: [SigmaPattern] = []
        var choice = [Int](repeating: 0, count: spots.count)
        while true {
            var pieces = p.pieces
            // replace from the back so byte indices stay valid
            for s in spots.indices.reversed() {
                let (k, j) = spots[s]
                guard case .literal(var b) = pieces[k] else { continue }
                b.replaceSubrange(j...j, with: dashes[choice[s]])
                pieces[k] = .literal(b)
            }
            results.append(SigmaPattern(pieces: pieces))
            var d = spots.count - 1
            while d >= 0 {
                choice[d] += 1
                if choice[d] < dashes.count { break }
                choice[d] = 0
                d -= 1
            }
            if d < 0 { break }
        }
        return results
    }
}
