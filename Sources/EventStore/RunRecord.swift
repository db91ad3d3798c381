import Foundation

/// One reconciliation run, as `reconcile_runs` keeps it.
public struct RunRecord: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable {
        case running, ok, drift, incomplete, failed
        /// Ended by SIGTERM or SIGINT: nothing of it was recorded but this.
        case interrupted
        /// Left `running` by a process that died; marked so by the next run of the tenant.
        case abandoned
    }

    public var runID: Int64
    public var tenant: String
    public var scope: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var status: Status
    public var missedCreates = 0
    public var missedUpdates = 0
    public var missedDeletes = 0
    public var staleDeletes = 0
    public var newItems = 0
    public var persistingItems = 0
    public var resolvedItems = 0
    public var inSync = 0
    public var inFlight = 0
    public var unverified = 0
    public var outOfScope = 0
    public var periodsTotal = 0
    public var periodsFailed = 0
    public var remoteEnrollments = 0
    public var eventsRead = 0
    public var eventsSkipped = 0
    public var eventsUnusable = 0
    public var eventsUnsigned = 0
    public var apiCalls = 0
    public var apiRetries = 0
    /// Rosters read again because their pages disagreed (DreamClass changed during the read).
    public var rosterRereads = 0
    /// Missed deletes a confirming read found present after all: not drift.
    public var changedDuringRun = 0
    public var error: String?

    public init(runID: Int64, tenant: String, scope: String, startedAt: Date, status: Status = .running) {
        self.runID = runID
        self.tenant = tenant
        self.scope = scope
        self.startedAt = startedAt
        self.status = status
    }

    public var driftCount: Int { missedCreates + missedUpdates + missedDeletes + staleDeletes }
}

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

    public init(runID: Int64, kind: String, studentPeriodID: Int, firstSeenRun: Int64) {
        self.runID = runID
        self.kind = kind
        self.studentPeriodID = studentPeriodID
        self.changedFields = ""
        self.firstSeenRun = firstSeenRun
    }
}

/// How reading one period's roster went.
public struct PeriodReadRecord: Sendable, Equatable {
    public var periodID: Int
    public var name: String?
    public var readOK: Bool
    public var enrollments: Int?
    public var error: String?

    public init(periodID: Int, name: String?, readOK: Bool, enrollments: Int?, error: String?) {
        self.periodID = periodID
        self.name = name
        self.readOK = readOK
        self.enrollments = enrollments
        self.error = error
    }
}
