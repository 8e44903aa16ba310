import FlowhoundTestSupport
import CByteScan
import Testing

@testable import FlowhoundParse

/// The vector field splitter must agree with the portable SWAR splitter on every position it promises.
@Suite struct SplitTests {
    /// Separator positions and backslash flag from a plain byte loop: the reference both splitters must match.
    private func reference(_ bytes: [UInt8], _ sep: UInt8) -> (positions: [Int32], backslash: Bool) {
        var out: [Int32] = []
        for (i, b) in bytes.enumerated() where b == sep { out.append(Int32(i)) }
        return (out, bytes.contains(92))
    }

    private func check(_ bytes: [UInt8], sep: UInt8, need: Int) throws {
        let ref = reference(bytes, sep)
        let n = bytes.count
        let ends = UnsafeMutablePointer<Int32>.allocate(capacity: n + 16)
        defer { ends.deallocate() }
        let swar = bytes.withUnsafeBufferPointer { b in
            ZeekTSVDecoder.splitWords(b.baseAddress!, n, sep, ends, need: need)
        }
        #expect(swar.fields == ref.positions.count)
        var slash: Int32 = 0
        let vec = bytes.withUnsafeBufferPointer { b in
            flowhound_split_fields(b.baseAddress, Int64(n), sep, ends, Int64(need), &slash)
        }
        if vec < 0 { return }  // no vector path on this CPU: the decoder uses the SWAR splitter (checked above)
        #expect(Int(vec) == ref.positions.count, "count, n=\(n) need=\(need)")
        #expect((slash != 0) == ref.backslash, "backslash flag, n=\(n)")
        let stored = min(need, ref.positions.count)
        for k in 0..<stored where ends[k] != ref.positions[k] {
            Issue.record("position \(k): \(ends[k]) != \(ref.positions[k]) (n=\(n), need=\(need))")
            return
        }
        #expect(ends[Int(vec)] == Int32(n))
    }

    @Test func randomLinesAgreeWithReference() throws {
        var rng = SplitMix(state: 0x5eed)
        let alphabet: [UInt8] = [9, 9, 9, 92, 44, 45] + Array("abcdef0123456789.".utf8)
        for n in 1..<200 {
            for _ in 0..<8 {
                var bytes = (0..<n).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }
                if rng.next() % 4 == 0 { bytes = bytes.map { $0 == 92 ? 97 : $0 } }  // lines without a backslash
                for need in [0, 1, 3, 12, Int.max] { try check(bytes, sep: 9, need: need) }
            }
        }
    }

    @Test func denseSeparatorsAndOtherSeparatorBytes() throws {
        for n in [1, 15, 16, 17, 31, 32, 33, 64, 100] {
            try check([UInt8](repeating: 9, count: n), sep: 9, need: .max)
            try check([UInt8](repeating: 124, count: n), sep: 124, need: 5)
            try check([UInt8](repeating: 0xFF, count: n), sep: 0xFF, need: .max)
        }
    }
}
