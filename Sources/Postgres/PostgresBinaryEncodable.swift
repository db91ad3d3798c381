import Foundation

/// A value that can also be sent in `COPY`'s binary format: its bytes as the column's type
/// receives them (`int8` big-endian, `bool` one byte, `uuid` sixteen, `text` its UTF-8), which
/// the server stores without parsing text. The column must have exactly that type: an `Int` goes
/// to a `bigint` column only.
public protocol PostgresBinaryEncodable: PostgresEncodable {
    /// Appends the value's bytes, without the length that precedes them.
    func appendBinary(to buffer: inout [UInt8])
}

extension FixedWidthInteger {
    /// The value big-endian, as PostgreSQL's binary formats write integers.
    @inlinable
    func appendBigEndian(to buffer: inout [UInt8]) {
        withUnsafeBytes(of: bigEndian) { buffer.append(contentsOf: $0) }
    }
}

extension String: PostgresBinaryEncodable {
    public func appendBinary(to buffer: inout [UInt8]) { buffer.append(contentsOf: utf8) }
}

extension Int: PostgresBinaryEncodable {
    /// As `int8`.
    public func appendBinary(to buffer: inout [UInt8]) { Int64(self).appendBigEndian(to: &buffer) }
}

extension Int64: PostgresBinaryEncodable {
    public func appendBinary(to buffer: inout [UInt8]) { appendBigEndian(to: &buffer) }
}

extension Bool: PostgresBinaryEncodable {
    public func appendBinary(to buffer: inout [UInt8]) { buffer.append(self ? 1 : 0) }
}

extension UUID: PostgresBinaryEncodable {
    public func appendBinary(to buffer: inout [UInt8]) { withUnsafeBytes(of: uuid) { buffer.append(contentsOf: $0) } }
}
