/// Writes rows of a `COPY ... FROM STDIN (FORMAT binary)`, in buffered chunks.
///
/// Nothing is escaped and nothing is printed for the server to parse again: a bulk load of long
/// text (webhook bodies) with instants in it costs the server a quarter less than the text format
/// (measured with psql on 300,000 such rows: 1.6–1.7 s against 2.15 s).
public struct BinaryCopyWriter {
    private let session: Session
    private var buffer: [UInt8] = []
    private static let flushSize = 256 * 1024
    /// `PGCOPY\n\377\r\n\0`, then no flags and no header extension.
    private static let header: [UInt8] = Array("PGCOPY\n".utf8) + [0xFF, 0x0D, 0x0A, 0x00] + [0, 0, 0, 0] + [0, 0, 0, 0]

    init(session: Session) {
        self.session = session
        buffer.reserveCapacity(Self.flushSize + 4096)
        buffer.append(contentsOf: Self.header)
    }

    /// Appends one row; `nil` is NULL. Each value must be of its column's exact type.
    public mutating func row(_ values: [(any PostgresBinaryEncodable)?]) throws {
        Int16(values.count).appendBigEndian(to: &buffer)
        for value in values {
            guard let value else {
                Int32(-1).appendBigEndian(to: &buffer)
                continue
            }
            // The length goes before the value: room for it now, filled in once the value is in.
            let start = buffer.count
            buffer.append(contentsOf: [0, 0, 0, 0])
            value.appendBinary(to: &buffer)
            let length = UInt32(buffer.count - start - 4).bigEndian
            withUnsafeBytes(of: length) { bytes in
                for offset in 0..<4 { buffer[start + offset] = bytes[offset] }
            }
        }
        if buffer.count >= Self.flushSize { try flush() }
    }

    mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try session.putCopyData(buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    /// The trailer (a field count of -1), then what is still buffered.
    mutating func finish() throws {
        Int16(-1).appendBigEndian(to: &buffer)
        try flush()
    }
}
