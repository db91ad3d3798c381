import Foundation

/// Writes text to stderr, outside the logger, for the one-line errors a person reads.
struct FileHandleOutput {
    let handle: FileHandle
    static let standardError = FileHandleOutput(handle: .standardError)

    func write(_ text: String) { handle.write(Data(text.utf8)) }
}
