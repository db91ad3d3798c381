/// Writes rows of a `COPY ... FROM STDIN` in PostgreSQL's text format, in buffered chunks.
///
/// Values are escaped here (backslash, tab, newline, carriage return), so any text survives.
public struct CopyWriter {
    private let session: Session
    private var buffer: [UInt8] = []
    private static let flushSize = 256 * 1024

    init(session: Session) {
        self.session = session
        buffer.reserveCapacity(Self.flushSize + 4096)
    }

    /// Appends one row; `nil` is NULL.
    public mutating func row(_ values: [(any PostgresEncodable)?]) throws {
        for (index, value) in values.enumerated() {
            if index > 0 { buffer.append(UInt8(ascii: "\t")) }
            guard let value else {
                buffer.append(UInt8(ascii: "\\"))
                buffer.append(UInt8(ascii: "N"))
                continue
            }
            value.appendCopyText(to: &buffer)
        }
        buffer.append(UInt8(ascii: "\n"))
        if buffer.count >= Self.flushSize { try flush() }
    }

    mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try session.putCopyData(buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}
