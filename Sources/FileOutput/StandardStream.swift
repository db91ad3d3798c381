#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Standard output or standard error, written with `write(2)`: a closed pipe (`| head -1`) or a
/// full disk is an ``OutputError``, never a trap (Foundation's `FileHandle.write(_:)` traps on
/// Linux). The process ignores SIGPIPE (see ``ignoreBrokenPipeSignal()``) so that a closed pipe
/// reaches here as EPIPE instead of killing it silently.
public struct StandardStream: Sendable {
    let descriptor: Int32
    let name: String

    public static let output = StandardStream(descriptor: 1, name: "<stdout>")
    public static let error = StandardStream(descriptor: 2, name: "<stderr>")

    /// Writes all of `text`.
    public func write(_ text: String) throws(OutputError) {
        try writeAll(Array(text.utf8), to: descriptor, path: name)
    }

    /// Writes a line of `text`.
    public func line(_ text: String) throws(OutputError) {
        try write(text + "\n")
    }

    /// For what cannot fail the process any further (a log line, an error message on the way
    /// out): a failure to write it is dropped.
    public func attempt(_ text: String) {
        try? write(text)
    }

    /// Makes a closed pipe an error of the write (EPIPE) instead of a signal that ends the process.
    public static func ignoreBrokenPipeSignal() {
        signal(SIGPIPE, SIG_IGN)
    }
}

/// `write(2)` until every byte is out, through short writes and interrupts.
func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) throws(OutputError) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { buffer in
            #if canImport(Glibc)
            Glibc.write(descriptor, buffer.baseAddress, buffer.count)
            #else
            Darwin.write(descriptor, buffer.baseAddress, buffer.count)
            #endif
        }
        if written < 0 {
            if errno == EINTR { continue }
            throw OutputError(path: path, operation: "write to", code: errno)
        }
        offset += written
    }
}
