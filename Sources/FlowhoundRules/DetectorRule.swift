import FlowhoundCore
import Yams

/// The built-in behavioural detector types a `detector:` rule can choose (netdetect.md §7, D1–D12).
package enum DetectorType: String, CaseIterable, Sendable {
    case internalScan = "internal_scan"
    case adminPortSweep = "admin_port_sweep"
    case newInternalEdge = "new_internal_edge"
    case adminProtocol = "admin_protocol"
    case fanout
    case lateralChain = "lateral_chain"
    case sensitiveAssetAccess = "sensitive_asset_access"
    case bruteforceSuccess = "bruteforce_success"
    case beaconing
    case longConnection = "long_connection"
    case dnsTunnel = "dns_tunnel"
    case exfilVolume = "exfil_volume"
    case internalStaging = "internal_staging"
    case flood
}

/// How a detector parameter is written and read.
package enum DetectorParameterKind: Sendable {
    /// `15m`, `2h`, `14d` (Sigma timespan units) or a number of seconds; `0` is allowed (disables).
    case duration
    /// A whole number ≥ 0.
    case count
    /// Any number ≥ 0.
    case number
    /// `500MB`, `1GB`, `64KiB` or a plain number of bytes.
    case bytes
    /// A list of port numbers.
    case ports
    case bool
}

/// A parameter value after validation; durations are seconds, byte sizes are bytes.
package enum DetectorParameterValue: Sendable, Equatable {
    case number(Double)
    case ports([Int])
    case bool(Bool)
}

/// One parameter a detector type accepts, with its default.
package struct DetectorParameterSpec: Sendable {
    package var name: String
    package var kind: DetectorParameterKind
    package var defaultValue: DetectorParameterValue
}

/// What a detector type accepts: its keys (the first is the default) and parameters.
package struct DetectorTypeSpec: Sendable {
    package var type: DetectorType
    package var keys: [String]
    package var parameters: [DetectorParameterSpec]

    package func parameter(_ name: String) -> DetectorParameterSpec? { parameters.first { $0.name == name } }
}

/// A behavioural detector rule: a YAML document with a top-level `detector:` block.
///
/// ```yaml
/// title: Internal scan
/// id: flowhound.net.internal_scan
/// level: medium
/// tags: [attack.discovery, attack.t1046]
/// detector:
///   type: internal_scan
///   key: scanner
///   idle_timeout: 15m
///   threshold_internal: 100
///   filter:                      # optional; Sigma detection syntax, compiled per schema
///     excluded: {id.resp_p: 53}
///     condition: not excluded
///   logsource: {product: zeek}   # optional; limits the filter (and the detector) to these inputs
/// ```
///
/// Every parameter of the type has a default (netdetect.md §7.13); unknown types, keys and parameters are errors
/// with file:line:col. The filter, when present, decides which events the detector watches: an event whose
/// schema the filter's logsource does not serve, or that the filter rejects, is not seen by the detector.
package struct DetectorRule: Sendable {
    package var id: String
    package var title: String
    package var description: String?
    package var level: Severity
    package var tags: [String]
    package var type: DetectorType
    package var key: String
    /// Every parameter of the type, defaults filled in.
    package var parameters: [String: DetectorParameterValue]
    /// The optional event filter, in Sigma detection syntax.
    package var filter: SigmaDetection?
    /// The optional logsource that restricts which inputs the detector watches.
    package var logsource: LogSource?
    package var location: FileLocation

    package init(
        id: String, title: String, description: String? = nil, level: Severity, tags: [String], type: DetectorType,
        key: String? = nil, parameters: [String: DetectorParameterValue] = [:], filter: SigmaDetection? = nil,
        logsource: LogSource? = nil, location: FileLocation = FileLocation(path: "<built-in>")
    ) {
        let spec = DetectorRule.spec(type)
        self.id = id
        self.title = title
        self.description = description
        self.level = level
        self.tags = tags
        self.type = type
        self.key = key ?? spec.keys[0]
        var p: [String: DetectorParameterValue] = [:]
        for s in spec.parameters { p[s.name] = parameters[s.name] ?? s.defaultValue }
        self.parameters = p
        self.filter = filter
        self.logsource = logsource
        self.location = location
    }

    /// A number parameter (durations in seconds, sizes in bytes); 0 when the type has no such parameter.
    package func number(_ name: String) -> Double {
        if case .number(let d) = parameters[name] { return d }
        return 0
    }

    package func int(_ name: String) -> Int { Int(number(name)) }

    /// A duration parameter in nanoseconds.
    package func nanos(_ name: String) -> Int64 { Int64(number(name) * 1e9) }

    package func ports(_ name: String) -> [Int] {
        if case .ports(let p) = parameters[name] { return p }
        return []
    }

    package func bool(_ name: String) -> Bool {
        if case .bool(let b) = parameters[name] { return b }
        return false
    }

    /// The filter as a Sigma rule for `CompiledRuleSet`, or nil when there is no filter. `schemaSource` is the
    /// logsource used when the rule names none, so that the filter applies to every input.
    package func filterRule(schemaSource: LogSource) -> SigmaRule? {
        guard let filter else { return nil }
        return SigmaRule(
            id: id + "#filter", name: nil, title: title + " (filter)", status: nil, level: level, description: nil,
            author: nil, tags: [], falsepositives: [], references: [], logsource: logsource ?? schemaSource,
            logsourceDefinition: nil, detection: filter, fields: [], location: filter.location)
    }

    // MARK: Type specifications

    private static func d(_ name: String, _ seconds: Double) -> DetectorParameterSpec {
        DetectorParameterSpec(name: name, kind: .duration, defaultValue: .number(seconds))
    }
    private static func c(_ name: String, _ v: Double) -> DetectorParameterSpec {
        DetectorParameterSpec(name: name, kind: .count, defaultValue: .number(v))
    }
    private static func n(_ name: String, _ v: Double) -> DetectorParameterSpec {
        DetectorParameterSpec(name: name, kind: .number, defaultValue: .number(v))
    }
    private static func b(_ name: String, _ v: Double) -> DetectorParameterSpec {
        DetectorParameterSpec(name: name, kind: .bytes, defaultValue: .number(v))
    }
    private static func p(_ name: String, _ v: [Int]) -> DetectorParameterSpec {
        DetectorParameterSpec(name: name, kind: .ports, defaultValue: .ports(v))
    }
    private static func f(_ name: String, _ v: Bool) -> DetectorParameterSpec {
        DetectorParameterSpec(name: name, kind: .bool, defaultValue: .bool(v))
    }

    /// Admin/remote-execution ports (netdetect.md D1/D3).
    package static let adminPorts = [22, 23, 135, 139, 445, 3389, 5900, 5985, 5986]
    static let m: Double = 60, h: Double = 3600, day: Double = 86_400
    static let mb: Double = 1_000_000, gb: Double = 1_000_000_000

    /// The keys and parameters (with defaults) of every type.
    package static func spec(_ type: DetectorType) -> DetectorTypeSpec {
        let common = [d("suppress_for", h), c("max_keys", 100_000)]
        var keys: [String]
        var ps: [DetectorParameterSpec]
        switch type {
        case .internalScan:
            keys = ["scanner"]
            ps = [d("idle_timeout", 15 * m), c("threshold_internal", 100), c("threshold_external", 25),
                  c("darknet_hits", 3), c("threshold_internal_darknet", 50), c("threshold_external_darknet", 10),
                  c("vertical_ports", 50), c("vertical_sensitive_ports", 5), d("vertical_bucket", m),
                  p("sensitive_ports", adminPorts)]
        case .adminPortSweep:
            keys = ["source"]
            ps = [d("window", 10 * m), c("min_destinations", 20), n("min_fail_ratio", 0.5), p("ports", adminPorts),
                  c("max_events_per_key", 4096)]
        case .newInternalEdge:
            keys = ["src_dst_service", "src_dst_port", "src_dst"]
            ps = [d("learning", 14 * day), d("retention", 30 * day), n("min_score", 0.6),
                  c("max_findings_per_source_per_day", 20), c("sink_clients", 20), c("hub_destinations", 50),
                  c("rare_clients", 3), c("burst_new_edges", 10), f("new_host", true), c("max_hosts", 200_000),
                  c("peer_clients", 3)]
        case .adminProtocol:
            keys = ["src_dst_service"]
            ps = [d("learning", 14 * day), c("learned_days", 3), p("ports", adminPorts + [5901, 5902, 5903]),
                  d("ipc_followup", m)]
        case .fanout:
            keys = ["source", "source_user"]
            ps = [c("white_cane_destinations", 12), d("white_cane_window", 20 * m), c("blast_destinations", 30),
                  d("blast_window", 5 * m)]
        case .lateralChain:
            keys = ["host"]
            ps = [d("taint_ttl", 14 * day), d("fast_bridge", 30 * m), c("max_depth", 4)]
        case .sensitiveAssetAccess:
            keys = ["asset_client"]
            ps = [d("learning", 14 * day), b("egress_floor", mb), b("pull_floor", 100 * mb), d("pull_window", h)]
        case .bruteforceSuccess:
            keys = ["source"]
            ps = [c("burst_failures", 10), d("burst_window", 10 * m), c("long_failures", 30), d("long_window", 30 * m),
                  c("spray_users", 10), d("spray_window", 10 * m), c("distributed_sources", 30),
                  d("distributed_window", 10 * m), d("success_window", 30 * m)]
        case .beaconing:
            keys = ["src_dst"]
            ps = [d("window", day), d("evaluate_every", h), c("min_connections", 4), n("min_score", 0.8),
                  c("strobe_connections", 86_400), c("max_points", 4096), n("prevalence_low", 0.02),
                  n("prevalence_high", 0.5), p("ignore_ports", [53, 123, 137, 138, 5353]), f("internal", true)]
        case .longConnection:
            keys = ["src_dst"]
            ps = [d("window", day), d("min_duration", h), f("internal", false)]
        case .dnsTunnel:
            keys = ["client_domain"]
            ps = [d("fast_window", 5 * m), c("fast_queries", 25), c("fast_long_names", 15), c("long_label", 20),
                  n("txt_share", 0.5), d("slow_window", day), c("slow_unique", 100)]
        case .exfilVolume:
            keys = ["source_dst_group"]
            ps = [d("window", h), b("min_bytes", 500 * mb), n("baseline_factor", 3), n("min_pcr", 0.5),
                  d("learning", 14 * day), b("shift_min_bytes", 50 * mb), n("shift_delta", 0.6)]
        case .internalStaging:
            keys = ["receiver"]
            ps = [d("window", 2 * h), b("min_bytes", gb), c("min_sources", 5)]
        case .flood:
            keys = ["destination"]
            ps = [d("bucket", 10), c("min_flows", 35_000), n("sigma", 6), c("consecutive", 3), n("alpha", 0.1),
                  n("syn_share", 0.8)]
        }
        // per-type suppression defaults (netdetect.md §7.13)
        var common2 = common
        switch type {
        case .newInternalEdge: common2[0] = d("suppress_for", 30 * day)
        case .sensitiveAssetAccess, .beaconing, .longConnection: common2[0] = d("suppress_for", day)
        case .dnsTunnel, .exfilVolume, .internalStaging: common2[0] = d("suppress_for", 6 * h)
        case .flood: common2[0] = d("suppress_for", 15 * m)
        case .lateralChain: common2[0] = d("suppress_for", day)
        default: break
        }
        // netdetect.md D2 sizing: 10,000 hosts × 50 peers; about 100 bytes per edge, so ≈ 50-100 MB at the cap
        // (Benchmarks/bench_flood.sh measures the whole scan under 10 M distinct pairs)
        if type == .newInternalEdge { common2[1] = c("max_keys", 500_000) }
        return DetectorTypeSpec(type: type, keys: keys, parameters: ps + common2)
    }

    /// `500MB`, `1.5GB`, `64KiB`, `1024` → bytes.
    package static func parseBytes(_ text: String) -> Double? {
        let t = trimmed(text)
        let units: [(String, Double)] = [
            ("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
            ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1),
        ]
        for (u, mult) in units where t.hasSuffix(u) {
            guard let v = Double(trimmed(String(t.dropLast(u.count)))), v >= 0 else { return nil }
            return v * mult
        }
        guard let v = Double(t), v >= 0 else { return nil }
        return v
    }
}

private func trimmed(_ s: String) -> String {
    var t = Substring(s)
    while t.first == " " || t.first == "\t" { t = t.dropFirst() }
    while t.last == " " || t.last == "\t" { t = t.dropLast() }
    return String(t)
}

// MARK: Reading `detector:` documents

extension DocumentReader {
    static let detectorDocumentKeys: Set<String> = [
        "title", "id", "name", "status", "description", "author", "references", "date", "modified", "detector",
        "falsepositives", "level", "tags", "license", "related",
    ]

    /// Reads a document with a top-level `detector:` block; nil (with diagnostics) when it is invalid.
    mutating func readDetectorRule(_ map: Node.Mapping, _ node: Node) -> DetectorRule? {
        for k in map.keys {
            if let s = k.string, !DocumentReader.detectorDocumentKeys.contains(s) {
                error("unknown_key", "'\(s)' is not a detector rule attribute", at: location(k))
            }
        }
        let title = string(map["title"], key: "title")
        if title == nil { error("missing_title", "the detector rule has no 'title'", at: location(node)) }
        let id = string(map["id"], key: "id")
        if id == nil { error("missing_id", "the detector rule has no 'id' (findings and allow entries name it)", at: location(node)) }
        let level = level(map["level"])
        let tags = strings(map["tags"], key: "tags")
        let description = string(map["description"], key: "description")
        guard let block = map["detector"], let dm = block.mapping else {
            error("bad_detector", "'detector' must be a mapping with 'type' and the type's parameters", at: location(map["detector"] ?? node))
            return nil
        }
        let names = DetectorType.allCases.map(\.rawValue)
        guard let typeNode = dm["type"] else {
            error("bad_detector", "the detector has no 'type' (one of \(names.joined(separator: ", ")))", at: location(block))
            return nil
        }
        let typeText = typeNode.scalar?.string ?? ""
        guard let type = DetectorType(rawValue: typeText) else {
            var msg = "'\(typeText)' is not a detector type (\(names.joined(separator: ", ")))"
            if let near = Suggest.closest(to: typeText, in: names) { msg += "; did you mean '\(near)'?" }
            error("unknown_detector_type", msg, at: location(typeNode))
            return nil
        }
        let spec = DetectorRule.spec(type)
        var key = spec.keys[0]
        var params: [String: DetectorParameterValue] = [:]
        var filter: SigmaDetection?
        var logsource: LogSource?
        for (k, v) in dm {
            guard let name = k.string else { continue }
            switch name {
            case "type": continue
            case "key":
                let text = v.scalar?.string ?? ""
                if spec.keys.contains(text) {
                    key = text
                } else {
                    error("unknown_detector_key", "'\(text)' is not a key of \(type.rawValue) (\(spec.keys.joined(separator: ", ")))", at: location(v))
                }
            case "filter":
                filter = readDetection(v)
            case "logsource":
                guard let lm = v.mapping else {
                    error("bad_logsource", "'logsource' must be a mapping", at: location(v))
                    continue
                }
                var ls = LogSource()
                for (lk, lv) in lm {
                    switch lk.string {
                    case "product": ls.product = string(lv, key: "product")?.lowercased()
                    case "service": ls.service = string(lv, key: "service")?.lowercased()
                    case "category": ls.category = string(lv, key: "category")?.lowercased()
                    default: error("unknown_key", "'\(lk.string ?? "?")' is not a logsource attribute", at: location(lk))
                    }
                }
                logsource = ls
            default:
                guard let ps = spec.parameter(name) else {
                    let all = spec.parameters.map(\.name) + ["key", "filter", "logsource"]
                    var msg = "'\(name)' is not a parameter of \(type.rawValue)"
                    if let near = Suggest.closest(to: name, in: all) { msg += "; did you mean '\(near)'?" }
                    error("unknown_detector_parameter", msg, at: location(k))
                    continue
                }
                if let value = readParameter(v, ps) { params[name] = value }
            }
        }
        guard let title, let id, !failed else { return nil }
        return DetectorRule(
            id: id, title: title, description: description, level: level, tags: tags, type: type, key: key,
            parameters: params, filter: filter, logsource: logsource, location: location(node))
    }

    mutating func readParameter(_ v: Node, _ spec: DetectorParameterSpec) -> DetectorParameterValue? {
        let scalar = SigmaScalar(v)
        switch spec.kind {
        case .duration:
            if case .number(let d, _) = scalar.value, d >= 0 { return .number(d) }
            if let t = v.scalar?.string, let s = SigmaCorrelation.parseTimespan(t) { return .number(Double(s)) }
            error("bad_parameter", "'\(spec.name)' needs a duration such as 30s, 15m, 2h, 14d (or seconds)", at: location(v))
        case .count:
            if case .number(let d, _) = scalar.value, d >= 0, d == d.rounded() { return .number(d) }
            error("bad_parameter", "'\(spec.name)' needs a whole number ≥ 0", at: location(v))
        case .number:
            if case .number(let d, _) = scalar.value, d >= 0 { return .number(d) }
            error("bad_parameter", "'\(spec.name)' needs a number ≥ 0", at: location(v))
        case .bytes:
            if case .number(let d, _) = scalar.value, d >= 0 { return .number(d) }
            if let t = v.scalar?.string, let b = DetectorRule.parseBytes(t) { return .number(b) }
            error("bad_parameter", "'\(spec.name)' needs a size such as 500MB, 1GB, 64KiB (or bytes)", at: location(v))
        case .bool:
            if case .bool(let b) = scalar.value { return .bool(b) }
            error("bad_parameter", "'\(spec.name)' needs true or false", at: location(v))
        case .ports:
            var out: [Int] = []
            let items = v.sequence.map(Array.init) ?? [v]
            for item in items {
                guard case .number(let d, _) = SigmaScalar(item).value, d >= 0, d <= 65_535, d == d.rounded() else {
                    error("bad_parameter", "'\(spec.name)' needs a list of port numbers (0–65535)", at: location(item))
                    return nil
                }
                out.append(Int(d))
            }
            return .ports(out)
        }
        return nil
    }
}
