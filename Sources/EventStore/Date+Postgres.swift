import Foundation
import Models
import Postgres

/// Instants go to and from PostgreSQL as ISO 8601 text in UTC (`Timestamp`, the domain's one
/// reading and writing of date-times): the conversion lives with the store, not in the libpq
/// wrapper, which knows no domain type.
extension Date: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { Timestamp.format(self) }
    public static func accepts(_ type: PostgresType) -> Bool { type == .timestamptz || type == .timestamp }
    public init?(postgresText text: String) {
        guard let date = Timestamp.parse(text) else { return nil }
        self = date
    }
}
