import Foundation

/// A throwaway PostgreSQL cluster in a temporary directory (initdb + pg_ctl), listening only on a Unix socket
/// in that directory. As root it runs the server as the `postgres` user (postgres refuses to run as root).
package final class LocalPostgres {
    package let dir: String
    package let bin: String
    package let runAs: String?
    package let port = 5433

    /// The server's binaries, or nil (with the reason) when PostgreSQL is not installed.
    package static func binaries() -> (String?, String) {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        for v in versions.reversed() where FileManager.default.isExecutableFile(atPath: "\(root)/\(v)/bin/initdb") {
            return ("\(root)/\(v)/bin", "")
        }
        return (nil, "PostgreSQL server binaries not found under \(root) (apt-get install postgresql)")
    }

    /// A server could not be set up.
    package struct SetupError: Error, CustomStringConvertible {
        package var message: String
        package var description: String { message }
    }

    /// Runs `body` with a fresh server, destroyed afterwards; without PostgreSQL installed it prints why and
    /// returns without running `body`.
    package static func with(_ body: (LocalPostgres) throws -> Void) throws {
        let (bin, why) = binaries()
        guard let bin else {
            print("skipped: \(why)")
            return
        }
        let server = try LocalPostgres(bin: bin)
        defer { server.destroy() }
        try body(server)
    }

    package init(bin: String) throws {
        self.bin = bin
        var template = Array("/tmp/flowhound-pg-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw POSIXError(.EIO) }
        dir = String(cString: p)
        if geteuid() == 0 {
            guard let pw = getpwnam("postgres") else {
                throw SetupError(message: "running as root but there is no postgres user to run the server")
            }
            chown(dir, pw.pointee.pw_uid, pw.pointee.pw_gid)
            runAs = "postgres"
        } else {
            runAs = nil
        }
        try run("initdb", ["-D", "\(dir)/data", "-A", "trust", "-U", "flowhound", "-N", "-E", "UTF8", "--no-locale"])
        try start()
    }

    package var url: String { "postgresql:///postgres?host=\(dir)&port=\(port)&user=flowhound" }

    package func start() throws {
        try run("pg_ctl", [
            "-D", "\(dir)/data", "-l", "\(dir)/server.log", "-w", "-t", "60",
            "-o", "-k \(dir) -p \(port) -c listen_addresses= -c fsync=off", "start",
        ])
    }

    package func stop() throws {
        try run("pg_ctl", ["-D", "\(dir)/data", "-w", "-m", "fast", "stop"])
    }

    package func destroy() {
        try? stop()
        try? FileManager.default.removeItem(atPath: dir)
    }

    private func run(_ tool: String, _ args: [String]) throws {
        // system(3), not Process: the server that pg_ctl leaves running inherits Foundation's internal
        // descriptors, and Process would not report the exit of pg_ctl until the server stops.
        func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let command = ([runAs.map { "/usr/sbin/runuser -u \($0) --" } ?? ""] + ["\(bin)/\(tool)"] + args)
            .filter { !$0.isEmpty }.map { $0.hasPrefix("/usr/sbin/runuser") ? $0 : quote($0) }.joined(separator: " ")
        let logPath = "\(dir)/\(tool).out"
        let status = system("\(command) > \(quote(logPath)) 2>&1 < /dev/null")
        if status != 0 {
            let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            throw SetupError(message: "\(tool) failed (\(status)): \(text)")
        }
    }
}
