import Foundation

/// One reconciliation run, as `reconcile_runs` keeps it.
public struct RunRecord: Sendable, Equatable, Codable {
    /// How a run ended: `ok` (no drift), `drift`, `incomplete` (a period unread), `failed`; `running` while it runs.
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
    /// What the last backfill of the run held back: deletes over the mass-delete limit, creates
    /// the mass-create guard suspects.
    public var heldDeletes = 0
    public var heldCreates = 0
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
