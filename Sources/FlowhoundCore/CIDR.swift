/// An address block such as `10.0.0.0/8` or `fd00::/8`; IPv4 blocks are held IPv4-mapped (prefix + 96).
package struct CIDR: Hashable, Sendable, CustomStringConvertible {
    package var network: IPAddress
    /// Prefix length in the 128-bit space.
    package var prefixLength: Int

    package init(network: IPAddress, prefixLength: Int) {
        self.prefixLength = prefixLength
        self.network = CIDR.masked(network, prefixLength)
    }

    /// Parses `a.b.c.d/n`, `v6/n` or a bare address (a host block).
    package init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let addr = IPAddress.parse(String(first)) else { return nil }
        let maxLen = addr.isIPv4 ? 32 : 128
        var len = maxLen
        if parts.count == 2 {
            guard let l = Int(parts[1]), l >= 0, l <= maxLen, !parts[1].hasPrefix("+") else { return nil }
            len = l
        }
        self.init(network: addr, prefixLength: addr.isIPv4 ? len + 96 : len)
    }

    @inline(__always)
    static func masked(_ a: IPAddress, _ len: Int) -> IPAddress {
        let hiMask: UInt64 = len >= 64 ? ~0 : (len == 0 ? 0 : ~0 << UInt64(64 - len))
        let loLen = len - 64
        let loMask: UInt64 = loLen <= 0 ? 0 : (loLen >= 64 ? ~0 : ~0 << UInt64(64 - loLen))
        return IPAddress(high: a.high & hiMask, low: a.low & loMask)
    }

    @inline(__always)
    package func contains(_ a: IPAddress) -> Bool { CIDR.masked(a, prefixLength) == network }

    package var description: String {
        network.isIPv4 && prefixLength >= 96 ? "\(network)/\(prefixLength - 96)" : "\(network)/\(prefixLength)"
    }

    /// RFC 1918, RFC 4193 (ULA), plus loopback and link-local: the default "internal" networks.
    package static let defaultInternal: [CIDR] = [
        "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "fc00::/7", "fe80::/10",
        "::1/128",
    ].compactMap { CIDR($0) }
}
