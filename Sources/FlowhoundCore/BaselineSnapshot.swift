
/// Learned state of a scan, as plain value arrays a state store can persist row by row (no Codable).
///
/// Every row names the rule (`detector` = rule id) that learned it, so two rules of one type keep apart.
/// Times are log time in nanoseconds. Restoring a snapshot before the first event makes a scan continue where
/// the previous one stopped: the learning start is kept, so a finished learning period is not repeated.
package struct BaselineSnapshot: Sendable, Equatable {
    /// First-seen (src, dst, service) edges (new_internal_edge, sensitive_asset_access egress/clients).
    package struct Edge: Sendable, Hashable {
        package var detector: String
        package var source: IPAddress
        package var destination: IPAddress
        /// `ServiceCode` (or port class) of the edge.
        package var service: UInt32
        package var firstSeen: Int64
        package var lastSeen: Int64
        /// Distinct UTC days the edge was seen on (capped at 255).
        package var days: UInt8

        package init(detector: String, source: IPAddress, destination: IPAddress, service: UInt32, firstSeen: Int64, lastSeen: Int64, days: UInt8) {
            self.detector = detector
            self.source = source
            self.destination = destination
            self.service = service
            self.firstSeen = firstSeen
            self.lastSeen = lastSeen
            self.days = days
        }
    }

    /// Per-host counters (first seen, distinct peers learned).
    package struct Host: Sendable, Hashable {
        package var detector: String
        package var address: IPAddress
        package var firstSeen: Int64
        package var lastSeen: Int64
        /// Distinct (client, service) edges that reached the host.
        package var clients: Int32
        /// Distinct (destination, service) edges the host originated.
        package var destinations: Int32

        package init(detector: String, address: IPAddress, firstSeen: Int64, lastSeen: Int64, clients: Int32, destinations: Int32) {
            self.detector = detector
            self.address = address
            self.firstSeen = firstSeen
            self.lastSeen = lastSeen
            self.clients = clients
            self.destinations = destinations
        }
    }

    /// Per-host hourly upload profile (exfil_volume): a log2 histogram of hourly bytes out and of hourly PCR.
    package struct Volume: Sendable, Hashable {
        package var detector: String
        package var address: IPAddress
        /// `hourlyBytesOut[i]` = hours whose bytes out fell in [2^i, 2^(i+1)) (i = 0 also holds 0 bytes).
        package var hourlyBytesOut: [UInt32]
        /// Hours per PCR decile: index 0 = [-1, -0.8), …, 9 = [0.8, 1].
        package var hourlyPCR: [UInt32]

        package init(detector: String, address: IPAddress, hourlyBytesOut: [UInt32], hourlyPCR: [UInt32]) {
            self.detector = detector
            self.address = address
            self.hourlyBytesOut = hourlyBytesOut
            self.hourlyPCR = hourlyPCR
        }
    }

    /// Learning start (ns), nil when nothing was seen.
    package var learningStart: Int64?
    /// Newest log time seen (ns).
    package var clock: Int64?
    package var edges: [Edge] = []
    package var hosts: [Host] = []
    package var volumes: [Volume] = []

    package init() {}
}
