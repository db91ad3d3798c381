import Foundation

/// One stored `STUDENT_PERIOD_*` event, as the fold needs it.
public struct LocalEvent: Sendable, Equatable {
    /// The `STUDENT_PERIOD_*` event types, in the order that breaks a tie of event times.
    public enum Kind: Int, Sendable, Comparable, CaseIterable {
        // The raw values order events of the same time: CREATED < UPDATED < DELETED.
        case created = 0, updated = 1, deleted = 2

        /// The kind of a `STUDENT_PERIOD_*` type; `nil` for any other type.
        public init?(eventType: String) {
            switch eventType {
            case "STUDENT_PERIOD_CREATED": self = .created
            case "STUDENT_PERIOD_UPDATED": self = .updated
            case "STUDENT_PERIOD_DELETED": self = .deleted
            default: return nil
            }
        }

        public var eventType: String {
            switch self {
            case .created: "STUDENT_PERIOD_CREATED"
            case .updated: "STUDENT_PERIOD_UPDATED"
            case .deleted: "STUDENT_PERIOD_DELETED"
            }
        }

        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }

    public var eventID: UUID
    public var kind: Kind
    /// The envelope `timestamp`, epoch milliseconds: the event's own time, not when it was stored.
    public var timeMillis: Int64
    /// The student-period id, `data.id`.
    public var enrollmentID: Int
    /// `data` of a CREATED or UPDATED event; `nil` for DELETED, which needs only the id.
    public var record: EnrollmentRecord?

    public init(eventID: UUID, kind: Kind, timeMillis: Int64, enrollmentID: Int, record: EnrollmentRecord?) {
        self.eventID = eventID
        self.kind = kind
        self.timeMillis = timeMillis
        self.enrollmentID = enrollmentID
        self.record = record
    }

    /// What decides the fold's order between two events: the first of these that differs.
    public enum Decider: Sendable, Equatable {
        /// The event times differ.
        case time
        /// Same time; the types differ (CREATED < UPDATED < DELETED).
        case kind
        /// Same time and type; the event ids differ.
        case eventID
        /// The same event.
        case none
    }

    /// Which rule orders `self` and `other`.
    public func decider(against other: LocalEvent) -> Decider {
        if timeMillis != other.timeMillis { return .time }
        if kind != other.kind { return .kind }
        return eventID == other.eventID ? .none : .eventID
    }

    /// The fold's order: event time, then kind, then event id. The greatest wins.
    public func precedes(_ other: LocalEvent) -> Bool {
        switch decider(against: other) {
        case .time: timeMillis < other.timeMillis
        case .kind: kind < other.kind
        case .eventID: eventID.uuidString < other.eventID.uuidString
        case .none: false
        }
    }
}

/// The fields of an enrollment that are compared: the same whether they came from a webhook's
/// `data` or a GetPeriodStudents row.
public struct EnrollmentRecord: Sendable, Equatable {
    public var studentID: Int
    public var active: Bool
    /// An instant, for comparing: `…Z` and `…+00:00` of the same moment are equal. The store keeps
    /// it as an instant too, so a state folded from any form of the same events is the same.
    public var addedAtInstant: Date

    /// The instant as every report writes it (``Timestamp/display(_:)-(Date)``), whatever form it was sent in.
    public var addedAt: String { Timestamp.display(addedAtInstant) }

    public init(studentID: Int, active: Bool, addedAtInstant: Date) {
        self.studentID = studentID
        self.active = active
        self.addedAtInstant = addedAtInstant
    }

    /// The compared fields of a roster row or webhook `data`; `nil` when `addedAt` is no date-time.
    public init?(_ enrollment: Enrollment) {
        guard let instant = enrollment.addedAtInstant else { return nil }
        self.init(studentID: enrollment.studentId, active: enrollment.active, addedAtInstant: instant)
    }

    /// The API field names that differ from `other`, in the report's order.
    public func changedFields(comparedWith other: EnrollmentRecord) -> [String] {
        var fields: [String] = []
        if studentID != other.studentID { fields.append("studentId") }
        if active != other.active { fields.append("active") }
        // Compared to the millisecond, the precision DreamClass writes.
        if (addedAtInstant.timeIntervalSince1970 * 1000).rounded() != (other.addedAtInstant.timeIntervalSince1970 * 1000).rounded() {
            fields.append("addedAt")
        }
        return fields
    }
}
