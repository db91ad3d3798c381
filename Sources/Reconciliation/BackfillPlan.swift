import Models

/// What a backfill does with each drift item of a run: the event that repairs it, and whether it
/// is stored, skipped because newer truth arrived, or held by the mass-delete guard. Pure: the
/// job reads the figures, asks here, signs and writes.
///
/// | drift | event |
/// |---|---|
/// | `missed_create` | CREATED with DreamClass's row |
/// | `missed_update` | UPDATED with DreamClass's row |
/// | `missed_delete` | DELETED with the last local data |
/// | `stale_delete` | CREATED with DreamClass's row |
public struct BackfillPlan: Sendable {
    /// What happens to one drift item.
    public enum Decision: String, Sendable {
        /// Written now.
        case stored
        /// Written by an earlier backfill of the same repair.
        case alreadyStored = "already_stored"
        /// A real event for the enrollment arrived after the run: newer truth is not overwritten.
        case skippedNewerEvent = "skipped_newer_event"
        /// A delete held by the mass-delete guard.
        case held
    }

    /// The event that repairs one drift item, before it has an id and a signature.
    public struct Repair: Sendable, Equatable {
        public var kind: String
        public var eventType: String
        public var studentPeriodID: Int
        public var periodID: Int?
        public var data: Enrollment
        /// What the event carries, in one line: DreamClass's row, or for a delete the local event
        /// it ends. The same repair always has the same identity, so its event id is stable.
        public var identity: String
    }

    /// Deletes per period above this are held.
    public var maxDeletes: DeleteLimit
    public var allowMassDelete: Bool
    /// Missed creates the guard suspects are held.
    public var createGuard: CreateGuard
    public var allowMassCreate: Bool

    public init(maxDeletes: DeleteLimit, allowMassDelete: Bool, createGuard: CreateGuard = .default, allowMassCreate: Bool = false) {
        self.maxDeletes = maxDeletes
        self.allowMassDelete = allowMassDelete
        self.createGuard = createGuard
        self.allowMassCreate = allowMassCreate
    }

    /// Why the run's missed creates are held, or `nil` when they go ahead (none suspect, or
    /// `--allow-mass-create`).
    public func heldCreates(_ run: RunRecord, localEnrollments: Int) -> CreateGuard.Suspicion? {
        guard !allowMassCreate else { return nil }
        return createGuard.suspicion(tenant: run.tenant, creates: run.missedCreates, roster: run.remoteEnrollments, localEnrollments: localEnrollments)
    }

    /// Only a finished run has drift to repair: ok, drift, or incomplete (what it verified).
    public static func canBackfill(_ status: RunRecord.Status) -> Bool {
        [.ok, .drift, .incomplete].contains(status)
    }

    /// The event that repairs `item`.
    public static func repair(_ item: StoredDriftItem) -> Repair {
        let isDelete = item.kind == DriftKind.missedDelete.rawValue
        let type = switch item.kind {
        case DriftKind.missedUpdate.rawValue: LocalEvent.Kind.updated.eventType
        case DriftKind.missedDelete.rawValue: LocalEvent.Kind.deleted.eventType
        default: LocalEvent.Kind.created.eventType
        }
        let data = Enrollment(
            id: item.studentPeriodID,
            studentId: (isDelete ? item.localStudentID : item.remoteStudentID) ?? item.studentID ?? 0,
            active: (isDelete ? item.localActive : item.remoteActive) ?? false,
            addedAt: (isDelete ? item.localAddedAt : item.remoteAddedAt) ?? ""
        )
        let identity = isDelete
            ? "deletes \(item.lastEventID?.uuidString.lowercased() ?? "-")"
            : "\(data.studentId) \(data.active) \(Timestamp.parse(data.addedAt).map(Timestamp.format) ?? data.addedAt)"
        return Repair(kind: item.kind, eventType: type, studentPeriodID: item.studentPeriodID, periodID: item.periodID, data: data, identity: identity)
    }

    /// The periods (`nil`: the enrollments of unknown period) whose deletes the guard holds: more
    /// than ``maxDeletes`` of the period's local enrollments, or any delete in a period whose
    /// roster came back empty while it has enrollments locally.
    ///
    /// - Parameters:
    ///   - localEnrollments: period → enrollments the store knows in it; `nil` counts them all.
    ///   - emptyRosters: periods the run read completely and found empty.
    public func heldPeriods(_ items: [StoredDriftItem], localEnrollments: [Int?: Int], emptyRosters: Set<Int>) -> Set<Int?> {
        Set(holds(items, localEnrollments: localEnrollments, emptyRosters: emptyRosters).keys)
    }

    /// ``heldPeriods(_:localEnrollments:emptyRosters:)`` with why each is held: the limit and the
    /// figures it was held by, in a sentence.
    public func holds(_ items: [StoredDriftItem], localEnrollments: [Int?: Int], emptyRosters: Set<Int>) -> [Int?: String] {
        let deletes = Dictionary(grouping: items.filter { $0.kind == DriftKind.missedDelete.rawValue }, by: \.periodID).mapValues(\.count)
        var held: [Int?: String] = [:]
        for (period, count) in deletes {
            let local = localEnrollments[period] ?? 0
            let name = period.map { "period \($0)" } ?? "the enrollments of unknown period"
            if maxDeletes.isExceeded(deletes: count, localEnrollments: local) {
                held[period] = "\(count) deletes in \(name) exceed max_deletes \(maxDeletes) of its \(local) enrollments in the store; "
                    + "after review, backfill --allow-mass-delete applies them"
            } else if period.map(emptyRosters.contains) == true {
                held[period] = "DreamClass listed \(name) empty while the store holds \(local) enrollments of it; "
                    + "after review, backfill --allow-mass-delete applies them"
            }
        }
        return held
    }

    /// Newer truth first: an enrollment with a real event after the run is left alone. Then a
    /// held delete waits for `--allow-mass-delete`, a held create for `--allow-mass-create`.
    public func decide(_ repair: Repair, newerEvents: Set<Int>, held: Set<Int?>, createsHeld: Bool = false) -> Decision {
        if newerEvents.contains(repair.studentPeriodID) { return .skippedNewerEvent }
        if repair.kind == DriftKind.missedDelete.rawValue, !allowMassDelete, held.contains(repair.periodID) { return .held }
        if repair.kind == DriftKind.missedCreate.rawValue, createsHeld { return .held }
        return .stored
    }
}
