import Foundation

/// A write that did not happen: a full disk, a closed pipe, a missing or read-only folder. Names
/// the file (or stream) and what the system said.
public struct OutputError: Error, Sendable, CustomStringConvertible {
    /// The file's path, or `<stdout>` / `<stderr>`.
    public var path: String
    /// What was being done: `create`, `write`, `rename`, ...
    public var operation: String
    public var code: Int32

    public init(path: String, operation: String, code: Int32) {
        self.path = path
        self.operation = operation
        self.code = code
    }

    public var description: String {
        let reason = code == EPIPE ? "the reader closed the pipe" : String(cString: strerror(code))
        return "cannot \(operation) \(path): \(reason)"
    }
}
