import Foundation

/// Reads a file or stdin as lines of bytes, a chunk at a time, so memory stays flat whatever the
/// file's size. Lines are not decoded: a line need not be valid UTF-8 to be read (and rejected).
public struct LineReader {
    /// A line without its terminator (`\n`, or `\r\n`), numbered from 1.
    public struct Line: Sendable {
        public var number: Int
        public var bytes: [UInt8]
    }

    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    private var atEnd = false
    private var number = 0
    private let chunkSize: Int

    public init(handle: FileHandle, chunkSize: Int = 1 << 20) {
        self.handle = handle
        self.chunkSize = chunkSize
    }

    /// The next line, or `nil` at the end of the input.
    public mutating func next() throws -> Line? {
        while true {
            if let newline = buffer[position...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > position, buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = Array(buffer[position..<end])
                position = newline + 1
                number += 1
                return Line(number: number, bytes: line)
            }
            if atEnd {
                guard position < buffer.count else { return nil }
                let line = Array(buffer[position...])
                position = buffer.count
                number += 1
                return Line(number: number, bytes: line)
            }
            // Keep only the unfinished line, then read more.
            buffer.removeSubrange(0..<position)
            position = 0
            let chunk = try handle.read(upToCount: chunkSize)
            if let chunk, !chunk.isEmpty { buffer.append(contentsOf: chunk) } else { atEnd = true }
        }
    }
}
