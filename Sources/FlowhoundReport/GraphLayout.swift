import FlowhoundCore

/// Places the hosts of the communication graph: one cluster per subnet (/24 for IPv4, /64 for IPv6, one for
/// external addresses), clusters on a ring in address order, hosts in each cluster on a sunflower spiral with
/// the hosts of findings in the middle. Deterministic: the same data gives the same picture.
struct GraphLayout {
    struct Node {
        var id: String
        var x: Double
        var y: Double
        var cluster: Int
        var degree: Int
        var inFinding: Bool
    }

    struct Cluster {
        var name: String
        var x: Double
        var y: Double
        var radius: Double
        var role: String?
        var external: Bool
    }

    var nodes: [String: Node] = [:]
    var clusters: [Cluster] = []
    var width: Double = 0
    var height: Double = 0

    static let spacing = 26.0
    /// Hosts of findings sit in the middle of their cluster this much farther apart than the others, so
    /// their labels and the finding arrows between them stay readable.
    static let hitSpread = 2.4

    static func subnet(_ ip: String) -> String {
        if ip.contains(":") {
            let groups = ip.split(separator: ":", omittingEmptySubsequences: false).prefix(4)
            return groups.joined(separator: ":") + "::/64"
        }
        let parts = ip.split(separator: ".")
        guard parts.count == 4 else { return ip }
        return parts.prefix(3).joined(separator: ".") + ".0/24"
    }

    /// Sorts addresses numerically when they parse, else as text.
    static func addressOrder(_ a: String, _ b: String) -> Bool {
        switch (IPAddress.parse(a), IPAddress.parse(b)) {
        case (let x?, let y?): return x < y
        default: return a < b
        }
    }

    init(hosts: [String], degree: [String: Int], findingHosts: Set<String>, internalHosts: Set<String>, roles: [String: String]) {
        var byCluster: [String: [String]] = [:]
        for h in hosts {
            let key = internalHosts.contains(h) ? Self.subnet(h) : "external"
            byCluster[key, default: []].append(h)
        }
        let names = byCluster.keys.sorted { a, b in
            if a == "external" || b == "external" { return b == "external" && a != "external" }
            return Self.addressOrder(String(a.split(separator: "/")[0]), String(b.split(separator: "/")[0]))
        }
        var radii: [Double] = []
        for n in names {
            let count = byCluster[n]!.count
            let hits = byCluster[n]!.filter { findingHosts.contains($0) }.count
            let slots = Double(count) + Double(hits) * (Self.hitSpread * Self.hitSpread - 1)
            radii.append(Self.spacing * (count <= 1 ? 0.6 : (slots.squareRoot() + 0.9)) + 34)
        }
        // cluster centres on a ring big enough that neighbours do not overlap
        let circumference = radii.reduce(0) { $0 + 2 * $1 } + 40 * Double(names.count)
        let ring = names.count <= 1 ? 0 : max(circumference / (2 * Double.pi), radii.max()! * 1.1)
        var angle = -Double.pi / 2
        var placed: [(Double, Double)] = []
        for (i, _) in names.enumerated() {
            if names.count == 1 {
                placed.append((0, 0))
                break
            }
            let share = (2 * radii[i] + 40) / circumference * 2 * Double.pi
            angle += share / 2
            placed.append((ring * cos(angle), ring * sin(angle)))
            angle += share / 2
        }
        var minX = Double.infinity, minY = Double.infinity, maxX = -Double.infinity, maxY = -Double.infinity
        for (i, name) in names.enumerated() {
            let members = byCluster[name]!.sorted { a, b in
                let fa = findingHosts.contains(a), fb = findingHosts.contains(b)
                if fa != fb { return fa }
                let da = degree[a] ?? 0, db = degree[b] ?? 0
                if fa && da != db { return da > db }
                return Self.addressOrder(a, b)
            }
            let (cx, cy) = placed[i]
            var roleCount: [String: Int] = [:]
            for m in members { if let r = roles[m] { roleCount[r, default: 0] += 1 } }
            let role = roleCount.max { $0.value == $1.value ? $0.key > $1.key : $0.value < $1.value }?.key
            clusters.append(Cluster(name: name, x: cx, y: cy, radius: radii[i], role: role, external: name == "external"))
            let hits = members.filter { findingHosts.contains($0) }.count
            for (k, m) in members.enumerated() {
                // sunflower: the hosts of findings first with wider spacing, the rest around them
                let slot = k < hits ? Double(k) * Self.hitSpread * Self.hitSpread : Double(hits) * Self.hitSpread * Self.hitSpread + Double(k - hits)
                let r = Self.spacing * slot.squareRoot() * (members.count == 1 ? 0 : 1)
                let theta = Double(k) * 2.399963229728653
                let x = cx + r * cos(theta), y = cy + r * sin(theta)
                nodes[m] = Node(id: m, x: x, y: y, cluster: i, degree: degree[m] ?? 0, inFinding: findingHosts.contains(m))
            }
            minX = min(minX, cx - radii[i])
            maxX = max(maxX, cx + radii[i])
            minY = min(minY, cy - radii[i])
            maxY = max(maxY, cy + radii[i])
        }
        if nodes.isEmpty {
            width = 400
            height = 120
            return
        }
        let pad = 70.0
        for k in nodes.keys {
            nodes[k]!.x -= minX - pad
            nodes[k]!.y -= minY - pad
        }
        for i in clusters.indices {
            clusters[i].x -= minX - pad
            clusters[i].y -= minY - pad
        }
        width = maxX - minX + 2 * pad
        height = maxY - minY + 2 * pad
    }
}
