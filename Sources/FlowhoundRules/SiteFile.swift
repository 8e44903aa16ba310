import FlowhoundCore
import Foundation
import Yams

/// A set of hosts given as addresses, CIDRs and group names, resolved to CIDRs.
package struct HostSet: Sendable, Hashable {
    package var blocks: [CIDR]

    package init(blocks: [CIDR] = []) { self.blocks = blocks }

    package func contains(_ ip: IPAddress) -> Bool { blocks.contains { $0.contains(ip) } }
    package var isEmpty: Bool { blocks.isEmpty }
}

/// A named system worth protecting.
package struct SiteAsset: Sendable {
    package var name: String
    package var hosts: HostSet
    package var sensitive: Bool
    /// Clients expected to reach the asset; nil means "not restricted".
    package var allowedClients: HostSet?
    package var location: FileLocation
}

/// Known-good activity that must not raise findings.
package struct SiteAllow: Sendable {
    /// Rule id, rule title, or detector id this entry applies to; `*` for all.
    package var target: String
    package var source: HostSet?
    package var destination: HostSet?
    package var reason: String
    package var location: FileLocation

    /// Whether a finding of rule/detector `id` between `source` and `destination` is allowed by this entry.
    package func allows(id: String, title: String, source s: IPAddress?, destination d: IPAddress?) -> Bool {
        guard target == "*" || target == id || target == title else { return false }
        if let src = source {
            guard let s, src.contains(s) else { return false }
        }
        if let dst = destination {
            guard let d, dst.contains(d) else { return false }
        }
        return true
    }
}

/// The site description (`--site FILE`, default `Rules/site.yml`): what is inside, what matters, what is normal.
package struct SiteConfiguration: Sendable {
    package var internalNetworks: [CIDR] = CIDR.defaultInternal
    /// IANA zone name (or `UTC`) for timestamps that carry no offset.
    package var timezone: String = "UTC"
    package var assets: [SiteAsset] = []
    package var groups: [String: HostSet] = [:]
    package var allow: [SiteAllow] = []
    /// Values for Sigma `|expand` placeholders (`%domain_controllers%` → its list).
    package var placeholders: [String: [String]] = [:]
    package var path: String?

    package init() {}

    package func isInternal(_ ip: IPAddress) -> Bool { internalNetworks.contains { $0.contains(ip) } }

    /// The allow entry that suppresses this finding, if any.
    package func allowEntry(id: String, title: String, source: IPAddress?, destination: IPAddress?) -> SiteAllow? {
        allow.first { $0.allows(id: id, title: title, source: source, destination: destination) }
    }
}

/// Reads and validates a site file; every problem is a diagnostic with file:line:col, unknown keys included.
package enum SiteFile {
    package static func load(path: String) -> (SiteConfiguration?, [Diagnostic]) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            return (nil, [Diagnostic(code: "cannot_read", "cannot read the site file; check the path (--site)", at: FileLocation(path: path))])
        }
        return parse(yaml: text, path: path)
    }

    package static func parse(yaml: String, path: String) -> (SiteConfiguration?, [Diagnostic]) {
        var diags: [Diagnostic] = []
        var site = SiteConfiguration()
        site.path = path
        func loc(_ n: Node?) -> FileLocation {
            FileLocation(path: path, line: n?.mark.map { $0.line }, column: n?.mark.map { $0.column })
        }
        func err(_ code: String, _ msg: String, _ n: Node?) { diags.append(Diagnostic(code: code, msg, at: loc(n))) }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml, SigmaLoader.resolver)
        } catch {
            return (nil, [SigmaLoader.yamlDiagnostic(error, path: path, text: yaml)])
        }
        guard let root else { return (site, []) }  // empty file: defaults
        guard let map = root.mapping else {
            err("bad_site", "the site file must be a mapping of internal_networks, timezone, assets, groups, allow", root)
            return (nil, diags)
        }
        var seen = Set<String>()
        for (k, _) in map {
            let key = k.string ?? ""
            if !seen.insert(key).inserted { err("duplicate_key", "'\(key)' appears twice", k) }
            if !["internal_networks", "timezone", "assets", "groups", "allow", "placeholders"].contains(key) {
                err("unknown_key", "unknown key '\(key)'; expected internal_networks, timezone, assets, groups, allow or placeholders", k)
            }
        }
        func strings(_ n: Node?) -> [(String, Node)] {
            guard let n else { return [] }
            if n.sequence == nil, n.mapping == nil, let s = n.string, !s.isEmpty { return [(s, n)] }
            return n.sequence?.compactMap { e in e.string.map { ($0, e) } } ?? []
        }
        if let nets = map["internal_networks"] {
            var blocks: [CIDR] = []
            for (s, n) in strings(nets) {
                if let c = CIDR(s) { blocks.append(c) } else { err("bad_cidr", "'\(s)' is not an address or CIDR", n) }
            }
            site.internalNetworks = blocks
        }
        if let tz = map["timezone"] {
            let name = tz.string ?? ""
            if name != "UTC" && !FileManager.default.fileExists(atPath: "/usr/share/zoneinfo/" + name) {
                err("bad_timezone", "unknown time zone '\(name)'; use an IANA name such as Asia/Tokyo, or UTC", tz)
            }
            site.timezone = name
        }
        // groups first: assets and allow entries may name them
        if let g = map["groups"] {
            if let gm = g.mapping {
                for (k, v) in gm {
                    guard let name = k.string else { continue }
                    var set = HostSet()
                    for (s, n) in strings(v) {
                        if let c = CIDR(s) { set.blocks.append(c) } else { err("bad_cidr", "'\(s)' in group '\(name)' is not an address or CIDR", n) }
                    }
                    site.groups[name] = set
                }
            } else if g.sequence?.isEmpty != true && g.string != nil && g.string != "" {
                err("bad_site", "'groups' must map names to lists of addresses or CIDRs", g)
            }
        }
        func hostSet(_ n: Node?, what: String) -> HostSet? {
            guard let n else { return nil }
            var set = HostSet()
            for (s, e) in strings(n) {
                if let c = CIDR(s) {
                    set.blocks.append(c)
                } else if let g = site.groups[s] {
                    set.blocks += g.blocks
                } else {
                    err("bad_host", "'\(s)' in \(what) is neither an address, a CIDR nor a group name", e)
                }
            }
            return set
        }
        if let a = map["assets"], let seq = a.sequence {
            for e in seq {
                guard let m = e.mapping else {
                    err("bad_site", "each asset is a mapping with name, hosts, sensitive, allowed_clients", e)
                    continue
                }
                for (k, _) in m where !["name", "hosts", "sensitive", "allowed_clients", "description"].contains(k.string ?? "") {
                    err("unknown_key", "unknown asset key '\(k.string ?? "")'; expected name, hosts, sensitive, allowed_clients, description", k)
                }
                guard let name = m["name"]?.string else {
                    err("bad_site", "an asset needs a name", e)
                    continue
                }
                guard let hosts = hostSet(m["hosts"], what: "asset '\(name)' hosts"), !hosts.isEmpty else {
                    err("bad_site", "asset '\(name)' needs hosts", e)
                    continue
                }
                let sensitive = m["sensitive"].map { $0.bool ?? false } ?? false
                site.assets.append(
                    SiteAsset(name: name, hosts: hosts, sensitive: sensitive,
                              allowedClients: hostSet(m["allowed_clients"], what: "asset '\(name)' allowed_clients"), location: loc(e)))
            }
        }
        if let p = map["placeholders"] {
            if let pm = p.mapping {
                for (k, v) in pm {
                    guard let name = k.string else { continue }
                    site.placeholders[name] = strings(v).map(\.0)
                }
            } else {
                err("bad_site", "'placeholders' maps names to lists of values (for Sigma |expand)", p)
            }
        }
        if let a = map["allow"], let seq = a.sequence {
            for e in seq {
                guard let m = e.mapping else {
                    err("bad_site", "each allow entry is a mapping with rule (or detector), source, destination, reason", e)
                    continue
                }
                for (k, _) in m where !["rule", "detector", "source", "destination", "reason"].contains(k.string ?? "") {
                    err("unknown_key", "unknown allow key '\(k.string ?? "")'; expected rule, detector, source, destination, reason", k)
                }
                guard let target = m["rule"]?.string ?? m["detector"]?.string else {
                    err("bad_site", "an allow entry names the rule or detector it applies to ('*' for all)", e)
                    continue
                }
                guard let reason = m["reason"]?.string, !reason.isEmpty else {
                    err("bad_site", "an allow entry needs a reason (it is kept in the audit trail)", e)
                    continue
                }
                let src = hostSet(m["source"], what: "allow source"), dst = hostSet(m["destination"], what: "allow destination")
                if src == nil && dst == nil && target == "*" {
                    err("bad_site", "an allow entry for every rule must name a source or a destination", e)
                    continue
                }
                site.allow.append(SiteAllow(target: target, source: src, destination: dst, reason: reason, location: loc(e)))
            }
        }
        return (diags.isEmpty ? site : nil, diags)
    }
}
