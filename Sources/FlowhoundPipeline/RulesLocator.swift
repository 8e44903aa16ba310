import FlowhoundCore

/// Finds the default rules directory when the user gives no `--rules`.
///
/// Search order, first existing directory wins:
/// 1. `$FLOWHOUND_RULES`;
/// 2. `<bin>/../share/flowhound/Rules` (the layout `Scripts/install.sh` creates, e.g. `/usr/local`);
/// 3. `<bin>/Rules` (binary and rules unpacked side by side);
/// 4. a source checkout above the binary (`.build/<config>/flowhound` → `<checkout>/Rules`);
/// 5. the checkout this binary was built from, if it still exists.
package enum RulesLocator {
    package static func defaultRulesDirectory(environment: [String: String], executablePath: String?) -> String? {
        candidates(environment: environment, executablePath: executablePath).first(where: isDirectory)
    }

    /// `site.yml` in the default rules directory, if both exist.
    package static func defaultSiteFile(environment: [String: String], executablePath: String?) -> String? {
        guard let dir = defaultRulesDirectory(environment: environment, executablePath: executablePath) else { return nil }
        return isFile(dir + "/site.yml") ? dir + "/site.yml" : nil
    }

    package static func candidates(environment: [String: String], executablePath: String?) -> [String] {
        var c: [String] = []
        if let e = environment["FLOWHOUND_RULES"], !e.isEmpty { c.append(e) }
        if let exe = executablePath {
            let bin = parent(exe)
            c.append(bin + "/../share/flowhound/Rules")
            c.append(bin + "/Rules")
            var dir = bin
            for _ in 0..<6 {
                if isFile(dir + "/Package.swift") && isDirectory(dir + "/Rules") { c.append(dir + "/Rules") }
                let up = parent(dir)
                if up == dir { break }
                dir = up
            }
        }
        c.append(buildCheckout + "/Rules")
        return c
    }

    /// The package root this file was compiled in (Sources/FlowhoundPipeline/RulesLocator.swift → root).
    static let buildCheckout: String = parent(parent(parent(#filePath)))

    /// The real path of the running executable (`/proc/self/exe`).
    package static func currentExecutable() -> String? {
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func parent(_ p: String) -> String {
        guard let slash = p.lastIndex(of: "/") else { return "." }
        return slash == p.startIndex ? "/" : String(p[..<slash])
    }

    static func isDirectory(_ p: String) -> Bool {
        var st = stat()
        return stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func isFile(_ p: String) -> Bool {
        var st = stat()
        return stat(p, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }
}
