import Foundation
import Models

/// Turns one comparison into what a run records: its figures and status, its drift items with
/// their history against the previous complete run, and how each period's read went.
///
/// Pure: the job reads, calls ``Reconciler``, hands the results here, and writes what comes back.
public enum RunAssembly {
    /// What the fold read of the stored events.
    public struct EventFigures: Sendable, Equatable {
        public var folded: Int
        public var unusable: Int
        public var unsigned: Int
        /// Events of other types than `STUDENT_PERIOD_*`.
        public var other: Int

        public init(folded: Int, unusable: Int, unsigned: Int, other: Int) {
            self.folded = folded
            self.unusable = unusable
            self.unsigned = unsigned
            self.other = other
        }
    }

    /// What the run asked of DreamClass.
    public struct CallFigures: Sendable, Equatable {
        public var calls: Int
        public var retries: Int
        public var rereads: Int

        public init(calls: Int, retries: Int, rereads: Int) {
            self.calls = calls
            self.retries = retries
            self.rereads = rereads
        }
    }

    /// What is recorded of the run.
    public struct Assembled: Sendable, Equatable {
        public var record: RunRecord
        public var items: [StoredDriftItem]
        public var periods: [PeriodReadRecord]
    }

    /// - Parameters:
    ///   - result: the comparison, deletes already confirmed.
    ///   - roster: the first reads, every period in scope (ids the school does not have as failed reads).
    ///   - confirmFailures: periods whose confirming read failed, with why.
    ///   - confirmedWhole: periods whose confirming read was whole.
    ///   - previous: the drift items of the previous complete run of the same scope, by enrollment.
    ///   - periodNames: period id → name, from the school's list.
    ///   - students: what GetStudent answered, by student id.
    public static func assemble(
        runID: Int64, tenant: String, scope: ReconcileScope, startedAt: Date,
        result: Reconciler.Result, roster: RemoteRoster, confirmFailures: [Int: String], confirmedWhole: Set<Int> = [],
        previous: [Int: StoredDriftItem]?, periodNames: [Int: String], students: [Int: StudentLookup],
        events: EventFigures, calls: CallFigures
    ) -> Assembled {
        var record = RunRecord(runID: runID, tenant: tenant, scope: scope.key, startedAt: startedAt)
        let history = RunHistory(runID: runID, previous: previous ?? [:])
        let items = result.items.map { item in
            StoredDriftItem(
                item, runID: runID, periodName: item.periodID.flatMap { periodNames[$0] },
                student: item.studentID.flatMap { students[$0] }, firstSeenRun: history.firstSeen(item)
            )
        }
        (record.newItems, record.persistingItems) = history.newAndPersisting(items)
        record.resolvedItems = history.resolved(agreed: result.agreed)
        record.missedCreates = result.count(.missedCreate)
        record.missedUpdates = result.count(.missedUpdate)
        record.missedDeletes = result.count(.missedDelete)
        record.staleDeletes = result.count(.staleDelete)
        record.inSync = result.inSync
        record.inFlight = result.inFlight
        record.unverified = result.unverified
        record.outOfScope = result.outOfScope
        record.changedDuringRun = result.changedDuringRun
        record.remoteEnrollments = result.remoteEnrollments
        record.periodsTotal = roster.periods.count
        let failures = failedPeriods(roster: roster, confirmFailures: confirmFailures)
        record.periodsFailed = failures.count
        (record.status, record.error) = status(failures: failures, driftItems: items.count)
        record.eventsRead = events.folded + events.unusable + events.unsigned + events.other
        record.eventsSkipped = events.other
        record.eventsUnusable = events.unusable
        record.eventsUnsigned = events.unsigned
        record.apiCalls = calls.calls
        record.apiRetries = calls.retries
        record.rosterRereads = calls.rereads
        return Assembled(record: record, items: items, periods: periodReads(roster: roster, confirmFailures: confirmFailures, confirmedWhole: confirmedWhole))
    }

    /// The enrollments whose period this run learned anew or saw move: the rest the store knows
    /// already, and a night of a large school need not write them all again.
    public static func periodsToRecord(learned: [Int: Int], known: [Int: Int]) -> [Int: Int] {
        learned.filter { known[$0.key] != $0.value }
    }

    /// A run that could not read a period is incomplete, whatever it found; else drift or ok. The
    /// error names every unread period and why.
    public static func status(failures: [Int: String], driftItems: Int) -> (RunRecord.Status, String?) {
        guard failures.isEmpty else {
            return (.incomplete, failures.sorted { $0.key < $1.key }.map { "period \($0.key): \($0.value)" }.joined(separator: "; "))
        }
        return (driftItems == 0 ? .ok : .drift, nil)
    }

    /// Periods not read completely, first or confirming read, with why.
    static func failedPeriods(roster: RemoteRoster, confirmFailures: [Int: String]) -> [Int: String] {
        var failures = confirmFailures
        for period in roster.periods where !roster.wasReadCompletely(period.id) {
            if case .failed(let reason)? = roster.reads[period.id] { failures[period.id] = reason } else { failures[period.id] = "not read" }
        }
        return failures
    }

    /// How each period in scope was read; a failed confirming read makes the period's read failed.
    public static func periodReads(roster: RemoteRoster, confirmFailures: [Int: String], confirmedWhole: Set<Int> = []) -> [PeriodReadRecord] {
        roster.periods.map { period in
            if let failure = confirmFailures[period.id] {
                return PeriodReadRecord(periodID: period.id, name: period.name, readOK: false, enrollments: nil, error: failure, confirmingRead: false)
            }
            return switch roster.reads[period.id] {
            case .complete(let rows)?: PeriodReadRecord(periodID: period.id, name: period.name, readOK: true, enrollments: rows.count, error: nil,
                                                        confirmingRead: confirmedWhole.contains(period.id) ? true : nil)
            case .failed(let reason)?: PeriodReadRecord(periodID: period.id, name: period.name, readOK: false, enrollments: nil, error: reason)
            case nil: PeriodReadRecord(periodID: period.id, name: period.name, readOK: false, enrollments: nil, error: "not read")
            }
        }
    }
}
