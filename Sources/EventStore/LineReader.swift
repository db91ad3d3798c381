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
    /// Whether the input began with a UTF-8 byte-order mark, which was skipped: editors on Windows
    /// write one, and it is not part of the first line's JSON.
    public private(set) var skippedByteOrderMark = false

    public init(handle: FileHandle, chunkSize: Int = 1 << 20) {
        self.handle = handle
        self.chunkSize = chunkSize
    }

    /// Appends what `read(2)` gives now, up to `chunkSize` bytes, to the buffer (whose storage is
    /// reused from read to read); 0 at the end of the input. Unlike `FileHandle.read(upToCount:)`,
    /// which waits for the whole count, a pipe's lines are taken as they come.
    private mutating func readChunk() throws -> Int {
        let start = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: chunkSize))
        while true {
            let count = buffer[start...].withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if count >= 0 {
                buffer.removeLast(chunkSize - count)
                return count
            }
            if errno != EINTR {
                buffer.removeLast(chunkSize)
                throw CocoaError(.fileReadUnknown, userInfo: [NSUnderlyingErrorKey: POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)])
            }
        }
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
            if try readChunk() == 0 { atEnd = true }
            if number == 0, !skippedByteOrderMark, buffer.starts(with: [0xEF, 0xBB, 0xBF]) {
                buffer.removeFirst(3)
                skippedByteOrderMark = true
            }
        }
    }
}
