import FlowhoundCore
import Testing

private func with<T>(_ s: String, _ body: (UnsafePointer<UInt8>, Int) -> T) -> T {
    let bytes = Array(s.utf8) + [0]
    return bytes.withUnsafeBufferPointer { body($0.baseAddress!, bytes.count - 1) }
}

@Suite struct BytesTests {
    @Test func parsesIntegers() {
        #expect(with("445") { Bytes.parseInt($0, $1) } == 445)
        #expect(with("-12") { Bytes.parseInt($0, $1) } == -12)
        #expect(with("+7") { Bytes.parseInt($0, $1) } == 7)
        #expect(with("12a") { Bytes.parseInt($0, $1) } == nil)
        #expect(with("") { Bytes.parseInt($0, $1) } == nil)
        #expect(with("-") { Bytes.parseInt($0, $1) } == nil)
        #expect(with("99999999999999999999") { Bytes.parseInt($0, $1) } == nil)
        // either side of the short path (at most 18 bytes, no overflow checks) and the Int64 limits
        #expect(with("999999999999999999") { Bytes.parseInt($0, $1) } == 999_999_999_999_999_999)
        #expect(with("-99999999999999999") { Bytes.parseInt($0, $1) } == -99_999_999_999_999_999)
        #expect(with("9223372036854775807") { Bytes.parseInt($0, $1) } == Int64.max)
        #expect(with("-9223372036854775807") { Bytes.parseInt($0, $1) } == -Int64.max)
        #expect(with("9223372036854775808") { Bytes.parseInt($0, $1) } == nil)
        #expect(with("00000000000000000000") { Bytes.parseInt($0, $1) } == 0)
        #expect(with("12345678901234567x") { Bytes.parseInt($0, $1) } == nil)
        #expect(with("+") { Bytes.parseInt($0, $1) } == nil)
    }

    @Test("short unsigned fast path: the value parseInt gives for 1-8 digits, nil for any other text, at page ends too")
    func shortUnsignedAgreesWithParseInt() throws {
        // Two pages, strings placed so that some end exactly at the first page's end (the byte-wise load there).
        let page = 4096
        let raw = try #require(UnsafeMutableRawPointer.allocate(byteCount: 2 * page, alignment: page) as Optional)
        defer { raw.deallocate() }
        let buf = raw.bindMemory(to: UInt8.self, capacity: 2 * page)
        buf.initialize(repeating: 0x39, count: 2 * page)  // '9' after every string: must not be read as a digit
        var state: UInt64 = 0x2026_1201
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 33
        }
        let alphabet = Array("0123456789-+ .xe".utf8)
        var fast = 0
        for i in 0..<50_000 {
            let n = Int(next() % 11)
            let at = i % 3 == 0 ? page - n : Int(next() % UInt64(page - 16))
            for j in 0..<n {
                buf[at + j] = next() % 4 == 0 ? alphabet[Int(next() % UInt64(alphabet.count))] : 48 + UInt8(next() % 10)
            }
            let p = UnsafePointer(buf + at)
            let got = Bytes.parseShortUnsigned(p, n)
            let want = Bytes.parseInt(p, n)
            let allDigits = n >= 1 && n <= 8 && (0..<n).allSatisfy { p[$0] &- 48 <= 9 }
            if allDigits {
                #expect(got.map(Int64.init) == want, "\(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self))")
                fast += 1
            } else {
                #expect(got == nil, "\(String(decoding: UnsafeBufferPointer(start: p, count: n), as: UTF8.self))")
            }
            for j in 0..<n { buf[at + j] = 0x39 }
        }
        #expect(fast > 10_000)
        #expect(with("00000445") { Bytes.parseShortUnsigned($0, $1) } == 445)
        #expect(with("99999999") { Bytes.parseShortUnsigned($0, $1) } == 99_999_999)
        #expect(with("123456789") { Bytes.parseShortUnsigned($0, $1) } == nil)  // nine digits: the loop's case
    }

    @Test func parsesDoubles() {
        #expect(with("1.5") { Bytes.parseDouble($0, $1) } == 1.5)
        #expect(with("-0.25") { Bytes.parseDouble($0, $1) } == -0.25)
        #expect(with("2e3") { Bytes.parseDouble($0, $1) } == 2000)
        #expect(with("1.5E-1") { Bytes.parseDouble($0, $1) } == 0.15)
        #expect(with("1.") { Bytes.parseDouble($0, $1) } == 1)
        #expect(with(".") { Bytes.parseDouble($0, $1) } == nil)
        #expect(with("1e") { Bytes.parseDouble($0, $1) } == nil)
        #expect(with("abc") { Bytes.parseDouble($0, $1) } == nil)
    }

    @Test func parsesEpochWithFraction() {
        #expect(with("1300475167.096535") { Bytes.parseEpoch($0, $1) }?.nanoseconds == 1_300_475_167_096_535_000)
        #expect(with("1300475167") { Bytes.parseEpoch($0, $1) }?.nanoseconds == 1_300_475_167_000_000_000)
        #expect(with("1.3004751670965E9") { Bytes.parseEpoch($0, $1) }?.nanoseconds == 1_300_475_167_096_500_000)
        #expect(with("12:00") { Bytes.parseEpoch($0, $1) } == nil)
        // past what Int64 nanoseconds hold (±9.22e9 s): no timestamp instead of a trap or a wrapped value
        #expect(with("9999999999.5e0") { Bytes.parseEpoch($0, $1) } == nil)
        #expect(with("-9999999999.5E0") { Bytes.parseEpoch($0, $1) } == nil)
        #expect(with("999999999999") { Bytes.parseEpoch($0, $1) } == nil)
        #expect(with("9223372036.9") { Bytes.parseEpoch($0, $1) } == nil)
        #expect(with("9223372036.5") { Bytes.parseEpoch($0, $1) }?.nanoseconds == 9_223_372_036_500_000_000)
        #expect(with("9223372035.999999999") { Bytes.parseEpoch($0, $1) }?.nanoseconds == 9_223_372_035_999_999_999)
        #expect(with("-9223372035") { Bytes.parseEpoch($0, $1) }?.nanoseconds == -9_223_372_035_000_000_000)
        #expect(with("9.1e9") { Bytes.parseEpoch($0, $1) }?.nanoseconds == 9_100_000_000_000_000_000)
        #expect(with("") { Bytes.parseEpoch($0, $1) } == nil)
    }

    @Test func foldedSearchIgnoresASCIICase() {
        let needle = Array("smb".utf8)
        #expect(with("xxSMBx") { p, n in needle.withUnsafeBufferPointer { Bytes.findFolded(p, n, $0.baseAddress!, 3) } } == 2)
        #expect(with("xxSMx") { p, n in needle.withUnsafeBufferPointer { Bytes.findFolded(p, n, $0.baseAddress!, 3) } } == nil)
        let exact = Array("SMB".utf8)
        #expect(with("smb SMB") { p, n in exact.withUnsafeBufferPointer { Bytes.find(p, n, $0.baseAddress!, 3) } } == 4)
    }
}

@Suite struct TimestampTests {
    @Test func rendersRFC3339() {
        #expect(Timestamp(nanoseconds: 0).iso8601 == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp(nanoseconds: 1_300_475_167_096_535_000).iso8601 == "2011-03-18T19:06:07.096535Z")
        #expect(Timestamp(seconds: 951_782_400).iso8601 == "2000-02-29T00:00:00.000000Z")
        #expect(Timestamp(nanoseconds: -1_000).iso8601 == "1969-12-31T23:59:59.999999Z")
    }

    @Test func civilDateRoundTrips() {
        for days in stride(from: Int64(-800_000), through: 800_000, by: 997) {
            let (y, m, d) = CivilDate.fromDays(days)
            #expect(CivilDate.days(year: y, month: m, day: d) == days)
        }
    }

    /// `find` scans for the second byte of a needle that starts with a space: same answers as a plain search.
    @Test func findAgreesWithANaiveSearchOnRandomText() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [UInt8] = Array(" fromp\t".utf8)
        func naive(_ h: [UInt8], _ n: [UInt8]) -> Int? {
            if n.isEmpty { return 0 }
            if n.count > h.count { return nil }
            for j in 0...(h.count - n.count) where Array(h[j..<(j + n.count)]) == n { return j }
            return nil
        }
        for _ in 0..<5_000 {
            let hay = (0..<Int.random(in: 0...40, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            let needle = (0..<Int.random(in: 1...6, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }
            let got = hay.withUnsafeBufferPointer { h in
                needle.withUnsafeBufferPointer { n in
                    Bytes.find(h.baseAddress ?? UnsafePointer(bitPattern: 1)!, h.count, n.baseAddress!, n.count)
                }
            }
            #expect(got == naive(hay, needle), "hay \(hay) needle \(needle)")
        }
    }
}
