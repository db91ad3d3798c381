import Foundation
import Models

/// Compares what the school's systems believe (the folded events) with DreamClass's rosters.
///
/// Pure: no I/O, no clock (the settle cutoff is given). A period whose roster could not be read
/// completely is never diffed: its local enrollments are "unverified", not deleted.
public struct Reconciler: Sendable {
    /// Changes newer than this are in flight (their webhook may still be on its way), not drift.
    public var settleCutoff: Date

    /// The settle window when no flag or setting names one: a quarter of an hour, longer than
    /// DreamClass retries a webhook and than a receiver's queue takes to drain.
    public static let defaultSettle: Duration = .seconds(900)

    public init(settleCutoff: Date) {
        self.settleCutoff = settleCutoff
    }

    /// The outcome of one comparison.
    public struct Result: Sendable, Equatable {
        /// Sorted by kind, then enrollment id.
        public var items: [DriftItem] = []
        public var inSync = 0
        /// Changed within the settle window.
        public var inFlight = 0
        /// Exists locally, absent from the rosters read, and the period it belongs to was not
        /// read completely (or is not known): nothing is claimed about it.
        public var unverified = 0
        /// Belongs to a known period outside the scope of this run.
        public var outOfScope = 0
        /// Absent from the first read of its period, present in the confirming read: DreamClass
        /// changed while it was read. Not drift.
        public var changedDuringRun = 0
        /// Remote enrollments read, in periods read completely.
        public var remoteEnrollments = 0
        /// Enrollments both sides agree on: in sync, or deleted on both. A drift item of an earlier
        /// run whose enrollment is here has been resolved.
        public var agreed: Set<Int> = []
        /// Enrollment id → period id, learned from the rosters read now.
        public var learnedPeriods: [Int: Int] = [:]

        public init(items: [DriftItem] = []) {
            self.items = items
        }

        /// Drift items of `kind`.
        public func count(_ kind: DriftKind) -> Int { items.reduce(0) { $0 + ($1.kind == kind ? 1 : 0) } }
    }

    /// - Parameters:
    ///   - local: the folded events.
    ///   - roster: the rosters read now.
    ///   - knownPeriods: enrollment id → period id learned by earlier runs (this run's reads win).
    public func reconcile(local: [Int: EventFold.State], roster: RemoteRoster, knownPeriods: [Int: Int]) -> Result {
        var result = Result()
        var remote: [Int: (period: Int, record: EnrollmentRecord?)] = [:]
        for period in roster.periods {
            guard case .complete(let rows) = roster.reads[period.id] else { continue }
            for row in rows {
                remote[row.id] = (period.id, EnrollmentRecord(row))
                result.learnedPeriods[row.id] = period.id
            }
        }
        result.remoteEnrollments = remote.count
        let allRead = roster.scopeIsAllPeriods && roster.isComplete
        let periodsInScope = Set(roster.periods.map(\.id))

        for (id, found) in remote {
            guard let record = found.record else { continue }
            let state = local[id]
            let inFlight = record.addedAtInstant > settleCutoff || state.map { isRecent($0.lastEvent) } == true
            let item: DriftItem?
            switch state {
            case nil:
                item = DriftItem(kind: .missedCreate, enrollmentID: id, periodID: found.period, lastEvent: nil, remote: record)
            case let state? where state.isDeleted:
                item = DriftItem(kind: .staleDelete, enrollmentID: id, periodID: found.period, lastEvent: state.lastEvent, remote: record)
            case let state?:
                let changed = state.record.map { $0.changedFields(comparedWith: record) } ?? []
                item = changed.isEmpty ? nil : DriftItem(
                    kind: .missedUpdate, enrollmentID: id, periodID: found.period, lastEvent: state.lastEvent,
                    remote: record, changedFields: changed
                )
            }
            if let item {
                if inFlight { result.inFlight += 1 } else { result.items.append(item) }
            } else {
                result.inSync += 1
                result.agreed.insert(id)
            }
        }

        for (id, state) in local where remote[id] == nil {
            // Deleted on both sides: nothing to say.
            if state.isDeleted {
                result.agreed.insert(id)
                continue
            }
            let period = knownPeriods[id]
            if let period, !periodsInScope.contains(period) {
                result.outOfScope += 1
                continue
            }
            let verified = period.map { roster.wasReadCompletely($0) } ?? allRead
            guard verified else {
                result.unverified += 1
                continue
            }
            if isRecent(state.lastEvent) {
                result.inFlight += 1
                continue
            }
            result.items.append(DriftItem(kind: .missedDelete, enrollmentID: id, periodID: period, lastEvent: state.lastEvent, remote: nil))
        }
        result.items.sort { ($0.kind, $0.enrollmentID) < ($1.kind, $1.enrollmentID) }
        return result
    }

    /// The periods to read a second time before any `missed_delete` of `result` is claimed: the
    /// periods of the candidates, or every period in scope when one's period is not known. None
    /// on a night without candidates, so a clean night costs no extra calls.
    public static func periodsToConfirm(_ result: Result, roster: RemoteRoster) -> [Period] {
        let candidates = result.items.filter { $0.kind == .missedDelete }
        guard !candidates.isEmpty else { return [] }
        if candidates.contains(where: { $0.periodID == nil }) { return roster.periods }
        let ids = Set(candidates.compactMap(\.periodID))
        return roster.periods.filter { ids.contains($0.id) }
    }

    /// Keeps a `missed_delete` only when a second, complete, consistent read of its period,
    /// started after the first read ended, does not have it either. Present in the second read:
    /// it changed during the run, not drift. The second read failed: unverified.
    ///
    /// - Parameter confirming: the second reads of ``periodsToConfirm(_:roster:)``.
    public static func confirmDeletes(_ result: Result, confirming: RemoteRoster) -> Result {
        var confirmed = result
        var present: [Int: Int] = [:]
        for period in confirming.periods {
            if case .complete(let rows)? = confirming.reads[period.id] {
                for row in rows { present[row.id] = period.id }
            }
        }
        confirmed.items = result.items.compactMap { item in
            var item = item
            let readWhole = item.periodID.map { confirming.wasReadCompletely($0) } ?? confirming.isComplete
            // What the second read said is kept for `explain`, for every item it covered.
            if readWhole { item.inConfirmingRead = present[item.enrollmentID] != nil }
            guard item.kind == .missedDelete else { return item }
            if let period = present[item.enrollmentID] {
                confirmed.changedDuringRun += 1
                confirmed.learnedPeriods[item.enrollmentID] = period
                return nil
            }
            if !readWhole {
                confirmed.unverified += 1
                return nil
            }
            return item
        }
        return confirmed
    }

    private func isRecent(_ event: LocalEvent) -> Bool {
        Double(event.timeMillis) / 1000 > settleCutoff.timeIntervalSince1970
    }
}
