/// Sigma rule levels, ordered from least to most severe.
package enum Severity: Int, Comparable, Sendable, CaseIterable, CustomStringConvertible {
    case informational = 0, low, medium, high, critical

    package init?(name: String) {
        switch name.lowercased() {
        case "informational", "info": self = .informational
        case "low": self = .low
        case "medium": self = .medium
        case "high": self = .high
        case "critical": self = .critical
        default: return nil
        }
    }

    package var description: String {
        switch self {
        case .informational: "informational"
        case .low: "low"
        case .medium: "medium"
        case .high: "high"
        case .critical: "critical"
        }
    }

    package static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }
}
