import Foundation

/// Fixture helpers shared by the test targets (never imported by a product target).
package enum Fixtures {
    /// The bytes of a fixture file; a `.gz` file is decompressed with the system `gzip`, independently of
    /// flowhound's own reader, so decoder tests do not depend on the ingest code.
    package static func readMaybeGzip(_ url: URL) throws -> [UInt8] {
        guard url.pathExtension == "gz" else { return [UInt8](try Data(contentsOf: url)) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/gzip")
        p.arguments = ["-dc", url.path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return [UInt8](data)
    }
}
