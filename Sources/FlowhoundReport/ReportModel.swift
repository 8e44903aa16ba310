import FlowhoundCore

/// Traffic between two hosts on one service, summed over the inputs of a report.
package struct GraphEdge: Sendable, Hashable {
    package var source: String
    package var destination: String
    /// `445/tcp`, `3389/tcp`, `icmp`…
    package var service: String
    package var connections: Int
    package var bytes: Int64
    package var first: Timestamp
    package var last: Timestamp

    package init(
        source: String, destination: String, service: String, connections: Int, bytes: Int64, first: Timestamp,
        last: Timestamp
    ) {
        self.source = source
        self.destination = destination
        self.service = service
        self.connections = connections
        self.bytes = bytes
        self.first = first
        self.last = last
    }
}

/// Everything the HTML report shows. Strings from logs (excerpts, user names, group values) are escaped by
/// the renderer; nothing here is trusted.
package struct ReportData: Sendable {
    package var title = "flowhound report"
    /// What the report was made from (input paths or the store), for the header.
    package var sources: [String] = []
    package var generatedAt = ""
    package var findings: [Finding] = []
    /// Findings not kept (the collector's cap), shown as a note.
    package var findingsNotShown = 0
    /// Internal communication seen in the logs (empty when the report is made from a store).
    package var edges: [GraphEdge] = []
    /// Distinct host pairs that were not kept (edge cap).
    package var edgesDropped = 0
    package var lines: Int64 = 0
    package var events: Int64 = 0
    /// Host → asset name from the site file (`order-db`).
    package var hostLabels: [String: String] = [:]
    /// Host → site group (`workstations`, `servers`…), the first group in the site file that holds it.
    package var hostRoles: [String: String] = [:]
    /// Hosts inside the site's internal networks (others are drawn as external).
    package var internalHosts: Set<String> = []
    /// Most hosts drawn in the graph (finding hosts always are).
    package var maxNodes = 160
    /// Most background edges drawn (the busiest first).
    package var maxEdges = 500

    package init() {}
}
