import Foundation
import TextCodec

/// A Swift value that can be sent as a statement parameter, in PostgreSQL's text format.
public protocol PostgresEncodable: Sendable {
    /// The value as PostgreSQL reads it from text.
    var postgresText: String { get }
    /// Appends the value as a field of `COPY`'s text format: escaped, unless the type's text
    /// never needs it (numbers, booleans, UUIDs write their bytes straight in).
    func appendCopyText(to buffer: inout [UInt8])
}

extension PostgresEncodable {
    public func appendCopyText(to buffer: inout [UInt8]) {
        for byte in postgresText.utf8 {
            switch byte {
            case UInt8(ascii: "\\"): buffer.append(byte); buffer.append(byte)
            case UInt8(ascii: "\t"): buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "t"))
            case UInt8(ascii: "\n"): buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "n"))
            case UInt8(ascii: "\r"): buffer.append(UInt8(ascii: "\\")); buffer.append(UInt8(ascii: "r"))
            default: buffer.append(byte)
            }
        }
    }
}

extension BinaryInteger {
    /// The decimal digits, appended without making a `String`.
    func appendDecimal(to buffer: inout [UInt8]) {
        var magnitude = self.magnitude
        if self < 0 { buffer.append(UInt8(ascii: "-")) }
        let start = buffer.count
        repeat {
            buffer.append(UInt8(ascii: "0") + UInt8(truncatingIfNeeded: magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        buffer[start...].reverse()
    }
}

/// A Swift value that can be read from a column in PostgreSQL's text format.
public protocol PostgresDecodable: Sendable {
    /// Whether a column of this PostgreSQL type may be decoded as `Self`. Guards against
    /// decoding, say, a `text` column that happens to hold digits as an `Int`.
    static func accepts(_ type: PostgresType) -> Bool
    /// The value from its text, or `nil` when the text is not a valid value.
    init?(postgresText text: String)
    /// The value from its text's bytes, as libpq holds them. Numbers and booleans read the bytes
    /// in place; the default makes a `String` and calls ``init(postgresText:)``.
    init?(postgresBytes bytes: UnsafeBufferPointer<UInt8>)
}

extension PostgresDecodable {
    @inlinable
    public init?(postgresBytes bytes: UnsafeBufferPointer<UInt8>) {
        self.init(postgresText: String(decoding: bytes, as: UTF8.self))
    }
}

/// A decimal integer's text (an optional `-`, then digits), read without making a `String`;
/// `nil` when it is not one or does not fit.
@inlinable
func parseDecimal<T: FixedWidthInteger>(_ bytes: UnsafeBufferPointer<UInt8>, as _: T.Type) -> T? {
    var index = 0
    let negative = bytes.first == UInt8(ascii: "-")
    if negative { index = 1 }
    guard index < bytes.count else { return nil }
    var value: T = 0
    while index < bytes.count {
        let digit = bytes[index] &- UInt8(ascii: "0")
        guard digit < 10 else { return nil }
        let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
        let (next, overflow2) = negative ? times.subtractingReportingOverflow(T(digit)) : times.addingReportingOverflow(T(digit))
        guard !overflow1, !overflow2 else { return nil }
        value = next
        index += 1
    }
    return value
}

extension String: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { self }
    public static func accepts(_ type: PostgresType) -> Bool { type.isTextLike || type == .uuid }
    public init?(postgresText text: String) { self = text }
    @inlinable public init?(postgresBytes bytes: UnsafeBufferPointer<UInt8>) { self = String(decoding: bytes, as: UTF8.self) }
}

extension Int: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public func appendCopyText(to buffer: inout [UInt8]) { appendDecimal(to: &buffer) }
    public static func accepts(_ type: PostgresType) -> Bool {
        [.int2, .int4, .int8, .oidType].contains(type)
    }
    public init?(postgresText text: String) { self.init(text) }
    @inlinable public init?(postgresBytes bytes: UnsafeBufferPointer<UInt8>) {
        guard let value = parseDecimal(bytes, as: Int.self) else { return nil }
        self = value
    }
}

extension Int64: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public func appendCopyText(to buffer: inout [UInt8]) { appendDecimal(to: &buffer) }
    public static func accepts(_ type: PostgresType) -> Bool { Int.accepts(type) }
    public init?(postgresText text: String) { self.init(text) }
    @inlinable public init?(postgresBytes bytes: UnsafeBufferPointer<UInt8>) {
        guard let value = parseDecimal(bytes, as: Int64.self) else { return nil }
        self = value
    }
}

extension Int32: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public func appendCopyText(to buffer: inout [UInt8]) { appendDecimal(to: &buffer) }
    public static func accepts(_ type: PostgresType) -> Bool { [.int2, .int4].contains(type) }
    public init?(postgresText text: String) { self.init(text) }
    @inlinable public init?(postgresBytes bytes: UnsafeBufferPointer<UInt8>) {
        guard let value = parseDecimal(bytes, as: Int32.self) else { return nil }
        self = value
    }
}

extension Double: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public static func accepts(_ type: PostgresType) -> Bool {
        [.float4, .float8, .numeric, .int2, .int4, .int8].contains(type)
    }
    public init?(postgresText text: String) { self.init(text) }
}

extension Bool: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { self ? "t" : "f" }
    public func appendCopyText(to buffer: inout [UInt8]) { buffer.append(self ? UInt8(ascii: "t") : UInt8(ascii: "f")) }
    public static func accepts(_ type: PostgresType) -> Bool { type == .bool }
    public init?(postgresText text: String) {
        switch text {
        case "t": self = true
        case "f": self = false
        default: return nil
        }
    }
    @inlinable public init?(postgresBytes bytes: UnsafeBufferPointer<UInt8>) {
        guard bytes.count == 1 else { return nil }
        switch bytes[0] {
        case UInt8(ascii: "t"): self = true
        case UInt8(ascii: "f"): self = false
        default: return nil
        }
    }
}

extension UUID: PostgresEncodable, PostgresDecodable {
    public var postgresText: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(36)
        appendCopyText(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
    /// Lower-case hex in 8-4-4-4-12 groups, straight from the bytes (`uuidString.lowercased()`
    /// made two strings per value).
    public func appendCopyText(to buffer: inout [UInt8]) {
        withUnsafeBytes(of: uuid) { bytes in
            for (index, byte) in bytes.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { buffer.append(UInt8(ascii: "-")) }
                Hex.append(byte, to: &buffer)
            }
        }
    }
    public static func accepts(_ type: PostgresType) -> Bool { type == .uuid || type.isTextLike }
    public init?(postgresText text: String) {
        guard let uuid = UUID.parse(text) else { return nil }
        self = uuid
    }
}

/// Raw bytes, sent and read as `bytea`.
extension Data: PostgresEncodable, PostgresDecodable {
    public var postgresText: String {
        var bytes: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        bytes.reserveCapacity(2 + count * 2)
        for byte in self { Hex.append(byte, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }
    public static func accepts(_ type: PostgresType) -> Bool { type == .bytea }
    public init?(postgresText text: String) {
        let utf8 = Array(text.utf8)
        guard utf8.starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "x")]), let bytes = Hex.decode(utf8.dropFirst(2)) else { return nil }
        self.init(bytes)
    }
}

/// A one-dimensional array parameter (`$1::uuid[]`, `unnest($1::text[])`), in PostgreSQL's array
/// text: every element quoted and escaped, `nil` as NULL.
public struct PostgresArray: PostgresEncodable {
    public var postgresText: String

    public init(_ values: [(any PostgresEncodable)?]) {
        postgresText = "{" + values.map { value in
            value.map { "\"" + $0.postgresText.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\"" } ?? "NULL"
        }.joined(separator: ",") + "}"
    }
}
