import FlowhoundCore

/// One input to scan: a path, or standard input.
package struct InputSpec: Hashable, Sendable {
    package var path: String
    /// True when the user named it directly (an unrecognised format is then an error, not a skip).
    package var explicit: Bool

    package var isStandardInput: Bool { path == "-" }

    package init(path: String, explicit: Bool) {
        self.path = path
        self.explicit = explicit
    }
}

/// Turns the paths a user typed into the list of inputs: files as given, directories walked recursively.
///
/// Order is deterministic: explicit arguments in the order given, files inside a directory sorted by path
/// (bytewise). Hidden entries (names starting with `.`) inside directories are skipped; symlinks to files
/// are followed, symlinked directories are not (no cycles).
package enum InputExpander {
    package static func expand(_ paths: [String]) -> (inputs: [InputSpec], errors: [Diagnostic]) {
        var out: [InputSpec] = []
        var errors: [Diagnostic] = []
        var seen = Set<String>()
        for p in paths {
            if p == "-" {
                out.append(InputSpec(path: p, explicit: true))
                continue
            }
            var st = stat()
            if stat(p, &st) != 0 {
                errors.append(
                    Diagnostic(code: "cannot_open", "cannot read input: \(String(cString: strerror(errno)))",
                        at: FileLocation(path: p)))
                continue
            }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                var files: [String] = []
                walk(p, into: &files, errors: &errors)
                for f in files.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
                where seen.insert(f).inserted {
                    out.append(InputSpec(path: f, explicit: false))
                }
            } else if seen.insert(p).inserted {
                out.append(InputSpec(path: p, explicit: true))
            }
        }
        return (out, errors)
    }

    private static func walk(_ dir: String, into files: inout [String], errors: inout [Diagnostic]) {
        guard let d = opendir(dir) else {
            errors.append(
                Diagnostic(code: "cannot_open", "cannot list directory: \(String(cString: strerror(errno)))",
                    at: FileLocation(path: dir)))
            return
        }
        defer { closedir(d) }
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            let path = dir.hasSuffix("/") ? dir + name : dir + "/" + name
            var st = stat()
            if lstat(path, &st) != 0 { continue }
            let kind = st.st_mode & S_IFMT
            if kind == S_IFDIR {
                walk(path, into: &files, errors: &errors)
            } else if kind == S_IFREG {
                files.append(path)
            } else if kind == S_IFLNK {
                var target = stat()
                if stat(path, &target) == 0 && (target.st_mode & S_IFMT) == S_IFREG { files.append(path) }
            }
        }
    }
}
