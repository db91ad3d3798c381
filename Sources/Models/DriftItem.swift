import Foundation

/// One enrollment that drifted, with what each side says.
public struct DriftItem: Sendable, Equatable {
    public var kind: DriftKind
    public var enrollmentID: Int
    /// The period it belongs to, when known (from this run's rosters or earlier ones).
    public var periodID: Int?
    /// The last local event, when there is one.
    public var lastEvent: LocalEvent?
    public var local: EnrollmentRecord? { lastEvent?.record }
    public var remote: EnrollmentRecord?
    /// For `missed_update`: the API fields that differ.
    public var changedFields: [String]
    /// Whether the confirming read of its period listed it; `nil` when the period was not read
    /// a second time. A `missed_delete` stands only when it is `false`.
    public var inConfirmingRead: Bool?

    public init(kind: DriftKind, enrollmentID: Int, periodID: Int?, lastEvent: LocalEvent?, remote: EnrollmentRecord?, changedFields: [String] = []) {
        self.kind = kind
        self.enrollmentID = enrollmentID
        self.periodID = periodID
        self.lastEvent = lastEvent
        self.remote = remote
        self.changedFields = changedFields
    }

    /// Whether the first read listed it: every kind but a missed delete is a row DreamClass listed.
    public var inFirstRead: Bool { kind != .missedDelete }

    /// The student the row is about: DreamClass's view first, the local one when it has none.
    public var studentID: Int? { remote?.studentID ?? local?.studentID }
}
