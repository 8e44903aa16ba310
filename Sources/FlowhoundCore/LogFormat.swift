/// The input formats flowhound decodes. The raw value is the name users pass to `--format`.
package enum LogFormat: String, Sendable, Hashable, CaseIterable {
    case zeekTSV = "zeek-tsv"
    case zeekJSON = "zeek-json"
    case syslog = "syslog"
    case vpcFlow = "vpc-flow"
    case windowsJSON = "windows-json"
    case json = "json"
}

/// A Sigma `logsource` triple; nil parts are wildcards when matching a rule against a format.
package struct LogSource: Hashable, Sendable, CustomStringConvertible {
    package var product: String?
    package var service: String?
    package var category: String?

    package init(product: String? = nil, service: String? = nil, category: String? = nil) {
        self.product = product?.lowercased()
        self.service = service?.lowercased()
        self.category = category?.lowercased()
    }

    /// Whether a rule with logsource `rule` applies to events that serve `self`.
    ///
    /// Every part the rule names must be equal to the part this source serves; a part the rule leaves out matches
    /// anything. A rule naming nothing at all matches nothing (it would run everywhere by accident).
    package func serves(_ rule: LogSource) -> Bool {
        if rule.product == nil && rule.service == nil && rule.category == nil { return false }
        if let p = rule.product, p != product { return false }
        if let s = rule.service, s != service { return false }
        if let c = rule.category, c != category { return false }
        return true
    }

    package var description: String {
        [product.map { "product: \($0)" }, category.map { "category: \($0)" }, service.map { "service: \($0)" }]
            .compactMap { $0 }.joined(separator: ", ")
    }
}
