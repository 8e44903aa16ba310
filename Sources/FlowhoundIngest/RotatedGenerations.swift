import FlowhoundCore

/// Finds the rotated generations of a log file by looking at what is on disk (ingest.md §1.4, item 24).
///
/// For `DIR/NAME` the candidates are, in the same directory: `NAME.N` and `NAME.N.gz` (logrotate numbering,
/// `.0` of savelog), `NAME-DATE…` and `NAME-DATE….gz` (`dateext`, any `dateformat` that starts with a digit),
/// and for a Zeek `DIR/current/STEM.log` the zeekctl archives `DIR/YYYY-MM-DD/STEM.*.log.gz` of the two newest
/// days; plus whatever `extraGlobs` match. They are returned oldest first: higher numbers first, then dates in
/// ascending order, zeekctl archives by name; ties and mixed schemes by modification time. Which candidate
/// holds which saved position is decided by identity (`FileIdentity`), never by name.
package enum RotatedGenerations {
    package struct Candidate: Sendable, Equatable {
        package var path: String
        /// Sort key: smaller is older.
        package var rank: [Int64]
    }

    package static func siblings(of path: String, extraGlobs: [String] = []) -> [Candidate] {
        let (dir, name) = split(path)
        var out: [Candidate] = []
        var seen = Set<String>([path])
        for entry in listDirectory(dir) where entry != name && entry.hasPrefix(name) {
            let rest = entry.dropFirst(name.count)
            let full = join(dir, entry)
            guard isRegularFile(full) else { continue }
            var core = Substring(rest)
            if core.hasSuffix(".gz") { core = core.dropLast(3) }
            if core.first == ".", let n = Int64(core.dropFirst()), !core.dropFirst().isEmpty,
                core.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber })
            {
                // .N / .N.gz: larger is older
                if seen.insert(full).inserted { out.append(Candidate(path: full, rank: [0, -n, mtime(full)])) }
            } else if core.first == "-", let d = core.dropFirst().first, d.isASCII, d.isNumber {
                // -YYYYMMDD…: digits compared as a number sequence, ascending = older first
                let digits = core.dropFirst().split(whereSeparator: { !($0.isASCII && $0.isNumber) }).compactMap {
                    Int64($0.prefix(18))
                }
                if seen.insert(full).inserted { out.append(Candidate(path: full, rank: [1] + digits + [mtime(full)])) }
            }
        }
        // zeekctl: <base>/current/conn.log is archived to <base>/YYYY-MM-DD/conn.HH:MM:SS-HH:MM:SS.log.gz
        let parent = split(dir)
        if parent.1 == "current", name.hasSuffix(".log") {
            let stem = String(name.dropLast(4))
            let days = listDirectory(parent.0).filter { isDateDirectory($0) }.sorted().suffix(2)
            for day in days {
                let dayDir = join(parent.0, day)
                for entry in listDirectory(dayDir).sorted()
                where entry.hasPrefix(stem + ".") && (entry.hasSuffix(".log.gz") || entry.hasSuffix(".log")) {
                    let full = join(dayDir, entry)
                    if isRegularFile(full), seen.insert(full).inserted {
                        out.append(Candidate(path: full, rank: [2, mtime(full)]))
                    }
                }
            }
        }
        for pattern in extraGlobs {
            for full in Glob.expand(pattern) where isRegularFile(full) && seen.insert(full).inserted {
                out.append(Candidate(path: full, rank: [3, mtime(full)]))
            }
        }
        // One scheme sorts by its own key; several schemes together sort by modification time.
        let schemes = Set(out.map { $0.rank[0] })
        if schemes.count > 1 {
            out.sort { ($0.rank.last!, $0.path) < ($1.rank.last!, $1.path) }
        } else {
            out.sort { $0.rank.lexicographicallyPrecedes($1.rank) || ($0.rank == $1.rank && $0.path < $1.path) }
        }
        return out
    }

    /// Whether `path` is named like a rotated generation of `primary` (so a glob that matches both does not
    /// make it a file of its own).
    package static func isGeneration(_ path: String, of primary: String) -> Bool {
        let (d1, n1) = split(path)
        let (d2, n2) = split(primary)
        guard d1 == d2, n1.count > n2.count, n1.hasPrefix(n2) else { return false }
        var core = n1.dropFirst(n2.count)
        if core.hasSuffix(".gz") { core = core.dropLast(3) }
        if core.first == "." { return core.count > 1 && core.dropFirst().allSatisfy { $0.isASCII && $0.isNumber } }
        if core.first == "-", let c = core.dropFirst().first { return c.isASCII && c.isNumber }
        return core.isEmpty
    }

    /// Whether `path` is a rotated generation of another path in `paths`.
    package static func isGenerationOfAny(_ path: String, in paths: [String]) -> Bool {
        paths.contains { $0 != path && isGeneration(path, of: $0) }
    }

    /// The directory part of a path ("." when there is none).
    package static func directory(of path: String) -> String { split(path).0 }

    static func isDateDirectory(_ s: String) -> Bool {
        let b = Array(s.utf8)
        guard b.count == 10, b[4] == 45, b[7] == 45 else { return false }
        return b.enumerated().allSatisfy { $0.offset == 4 || $0.offset == 7 || ($0.element >= 48 && $0.element <= 57) }
    }

    static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let dir = String(path[..<slash])
        return (dir.isEmpty ? "/" : dir, String(path[path.index(after: slash)...]))
    }

    static func join(_ dir: String, _ name: String) -> String {
        if dir == "." { return name }
        return dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }

    static func listDirectory(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    static func isRegularFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    static func mtime(_ path: String) -> Int64 {
        var st = stat()
        guard stat(path, &st) == 0 else { return 0 }
        return Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }
}

/// Shell-style globbing through glob(3) (`*`, `?`, `[…]`), sorted; a pattern without metacharacters is
/// returned as is (whether or not it exists).
package enum Glob {
    package static func hasMagic(_ pattern: String) -> Bool {
        pattern.contains { $0 == "*" || $0 == "?" || $0 == "[" }
    }

    package static func expand(_ pattern: String) -> [String] {
        guard hasMagic(pattern) else { return [pattern] }
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { out.append(String(cString: p)) }
        }
        return out.sorted()
    }
}
