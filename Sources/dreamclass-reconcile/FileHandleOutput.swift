import Foundation

/// Writes text to stdout or stderr, outside the logger: the lines a person reads.
struct FileHandleOutput {
    let handle: FileHandle
    static let standardError = FileHandleOutput(handle: .standardError)
    static let standardOutput = FileHandleOutput(handle: .standardOutput)

    func write(_ text: String) { handle.write(Data(text.utf8)) }
}
