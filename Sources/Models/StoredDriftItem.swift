import Foundation

/// One drift item of a run, with everything the report shows.
public struct StoredDriftItem: Sendable, Equatable, Codable {
    public var runID: Int64
    public var kind: String
    public var periodID: Int?
    public var periodName: String?
    public var studentPeriodID: Int
    public var studentID: Int?
    public var studentName: String?
    public var studentEmail: String?
    public var studentStatus: String?
    /// API field names separated by `;`.
    public var changedFields: String
    public var localStudentID: Int?
    public var localActive: Bool?
    public var localAddedAt: String?
    public var remoteStudentID: Int?
    public var remoteActive: Bool?
    public var remoteAddedAt: String?
    public var lastEventID: UUID?
    public var lastEventType: String?
    public var lastEventAt: Date?
    public var firstSeenRun: Int64
    /// Whether the run's first read of the period listed it.
    public var inFirstRead: Bool?
    /// Whether the confirming read (a second read of the period, made before any delete is
    /// claimed) listed it; `nil` when the period was not read a second time.
    public var inConfirmingRead: Bool?

    public init(runID: Int64, kind: String, studentPeriodID: Int, firstSeenRun: Int64) {
        self.runID = runID
        self.kind = kind
        self.studentPeriodID = studentPeriodID
        self.changedFields = ""
        self.firstSeenRun = firstSeenRun
    }
}
