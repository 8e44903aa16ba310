/// A place in a file that a diagnostic or a piece of evidence points at.
package struct FileLocation: Hashable, Sendable, CustomStringConvertible {
    package var path: String
    /// 1-based line, or nil when only a byte offset is known.
    package var line: Int?
    /// 1-based column.
    package var column: Int?
    /// Byte offset in the (decompressed) stream, where known.
    package var byteOffset: Int64?

    package init(path: String, line: Int? = nil, column: Int? = nil, byteOffset: Int64? = nil) {
        self.path = path
        self.line = line
        self.column = column
        self.byteOffset = byteOffset
    }

    package var description: String {
        var s = path
        if let line { s += ":\(line)" }
        if let column { s += ":\(column)" }
        if line == nil, let byteOffset { s += ":@\(byteOffset)" }
        return s
    }
}

/// A user-facing problem: renders as `path:line[:col]: error[code]: message`.
package struct Diagnostic: Error, Hashable, Sendable, CustomStringConvertible {
    package enum Kind: String, Sendable { case error, warning, note }
    package var kind: Kind
    /// Stable snake_case code from a bounded set.
    package var code: String
    package var message: String
    package var location: FileLocation?

    package init(_ kind: Kind = .error, code: String, _ message: String, at location: FileLocation? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.location = location
    }

    package var description: String {
        let prefix = location.map { "\($0): " } ?? "flowhound: "
        return "\(prefix)\(kind.rawValue)[\(code)]: \(message)"
    }
}
