/// Deterministic pseudo-random numbers for the randomized tests (SplitMix64): the same seed replays a failure.
package struct SplitMix: RandomNumberGenerator {
    package var state: UInt64

    package init(state: UInt64) { self.state = state }
    package init(seed: UInt64) { state = seed }

    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<n` (n > 0).
    package mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    package mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
}
