import Foundation
import Models
import Postgres

/// How `webhook_events` keeps the fold's fields: as typed columns only, or, while a store from
/// before them is converted (`sql/010_typed_events.sql`), as typed columns for new and converted
/// rows and in the jsonb `payload` for the rest. Every reader asks once per transaction, after
/// taking the table's ACCESS SHARE lock: the conversion's last step (dropping `payload`) waits for
/// it, so the answer holds until the reader commits.
public enum EventLayout: Sendable, Equatable {
    case typed
    case converting

    /// The layout now; takes the table's share lock in the reader's transaction first.
    static func current(_ session: Session, schema: String) throws -> EventLayout {
        let table = "\(quoteIdentifier(schema)).webhook_events"
        try session.execute("LOCK TABLE \(table) IN ACCESS SHARE MODE")
        let hasPayload = try session.query("""
            SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'payload' AND NOT attisdropped)
            """, [table]).first?.decode(Bool.self, at: 0) ?? false
        return hasPayload ? .converting : .typed
    }

    /// The four fields the fold reads, of a row aliased `prefix` (`"e."` or `""`), in the order of
    /// ``decodeFields(_:at:)``: typed columns, or while converting their text (the typed columns'
    /// where `payload` is NULL, else the jsonb's values of the right JSON type).
    func fieldColumns(prefix p: String) -> String {
        switch self {
        case .typed:
            // The instant as epoch microseconds: a number is read far faster than a date's text.
            return "\(p)student_period_id, \(p)student_id, \(p)active, \(Self.epochMicroseconds("\(p)added_at"))"
        case .converting:
            func field(_ typed: String, _ key: String, _ jsonType: String) -> String {
                """
                CASE WHEN \(p)payload IS NULL THEN \(p)\(typed)::text
                     WHEN jsonb_typeof(\(p)payload->'data'->'\(key)') = '\(jsonType)' THEN \(p)payload->'data'->>'\(key)' END
                """
            }
            return [field("student_period_id", "id", "number"), field("student_id", "studentId", "number"),
                    field("active", "active", "boolean"), field("added_at", "addedAt", "string")].joined(separator: ",\n")
        }
    }

    /// A `timestamptz` column as epoch milliseconds, for instants stored to the millisecond (the
    /// events' times). `date_part` computes in `float8`, which holds every millisecond exactly
    /// (from year 1 on; tested to 9500); `extract` computes in `numeric`, and cost the server a
    /// fifth of a full fold (0.94 s against 0.72 s to send 1M rows).
    static func epochMilliseconds(_ column: String) -> String {
        "(date_part('epoch', \(column)) * 1000)::bigint"
    }

    /// A `timestamptz` column as epoch microseconds. Through `float8` every microsecond comes back
    /// exactly while the epoch is under 2^32 seconds away (1833 to 2106-02-07; the first wrong
    /// one found is just past it): the cheap path is taken from 1900 to 2100, `numeric` elsewhere.
    static func epochMicroseconds(_ column: String) -> String {
        """
        CASE WHEN \(column) >= '1900-01-01+00' AND \(column) < '2100-01-01+00' THEN (date_part('epoch', \(column)) * 1000000)::bigint \
        ELSE (extract(epoch FROM \(column)) * 1000000)::bigint END
        """
    }

    /// The enrollment id of a row aliased `prefix`, as SQL: for joins and for the fold's order.
    func enrollmentID(prefix p: String) -> String {
        switch self {
        case .typed: "\(p)student_period_id"
        case .converting:
            """
            coalesce(\(p)student_period_id::numeric, CASE WHEN jsonb_typeof(\(p)payload->'data'->'id') = 'number' \
            THEN (\(p)payload->'data'->>'id')::numeric END)
            """
        }
    }

    /// The fields of ``fieldColumns(prefix:)``, read from `row` from column `first` on.
    func decodeFields(_ row: Row, at first: Int) throws -> StoredEvent.Fields {
        switch self {
        case .typed:
            StoredEvent.Fields(id: try row.decodeIfPresent(at: first), studentID: try row.decodeIfPresent(at: first + 1),
                               active: try row.decodeIfPresent(at: first + 2),
                               addedAt: try row.decodeIfPresent(Int64.self, at: first + 3).map { Date(timeIntervalSince1970: Double($0) / 1_000_000) })
        case .converting:
            StoredEvent.Fields(jsonText: try row.decodeIfPresent(at: first), studentID: try row.decodeIfPresent(at: first + 1),
                               active: try row.decodeIfPresent(at: first + 2), addedAt: try row.decodeIfPresent(at: first + 3))
        }
    }
}
