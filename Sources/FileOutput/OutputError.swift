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
        let next = switch code {
        case ENOSPC, EDQUOT: " (free space there, or write elsewhere)"
        case ENOENT: " (create the folder first)"
        case EACCES, EPERM, EROFS: " (write where this user may, or change the folder's permissions)"
        default: ""
        }
        return "cannot \(operation) \(path): \(reason)\(next)"
    }
}
