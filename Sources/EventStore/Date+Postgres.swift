import Foundation
import Models
import Postgres

/// Instants go to and from PostgreSQL as ISO 8601 text in UTC (`Timestamp`, the domain's one
/// reading and writing of date-times), and to binary `COPY` as the microseconds the same text
/// says: the conversion lives with the store, not in the libpq wrapper, which knows no domain type.
extension Date: PostgresBinaryEncodable, PostgresDecodable {
    public var postgresText: String { Timestamp.format(self) }
    public static func accepts(_ type: PostgresType) -> Bool { type == .timestamptz || type == .timestamp }
    public init?(postgresText text: String) {
        guard let date = Timestamp.parse(text) else { return nil }
        self = date
    }
    /// `timestamptz`: microseconds since 2000-01-01 UTC.
    public func appendBinary(to buffer: inout [UInt8]) {
        (Timestamp.epochMicroseconds(self) - Self.postgresEpochMicroseconds).appendBinary(to: &buffer)
    }
    private static let postgresEpochMicroseconds: Int64 = 946_684_800_000_000
}
