import DreamClassAPI
import EventStore
import Foundation
import Models
import Postgres
import Reconciliation
import Reports

/// `explain`: reads the evidence about one enrollment from the store and, with `--live`, asks
/// DreamClass now what a run would conclude (the fold's and the reconciler's own rules, on this
/// one enrollment), recording nothing.
public struct ExplainJob: Sendable {
    public struct Options: Sendable {
        public var schema: String
        public var tenant: String
        public var enrollmentID: Int
        /// The run to explain; `nil`: the tenant's newest complete run.
        public var runID: Int64?
        /// For `--live`: changes newer than this are in flight.
        public var settle: Duration = Reconciler.defaultSettle

        public init(schema: String, tenant: String, enrollmentID: Int, runID: Int64? = nil) {
            self.schema = schema
            self.tenant = tenant
            self.enrollmentID = enrollmentID
            self.runID = runID
        }
    }

    /// The store holds nothing about the enrollment: where it looked, and what to try.
    public struct UnknownEnrollment: Error, CustomStringConvertible {
        public var enrollmentID: Int
        public var tenant: String
        /// Other tenants whose store or runs name the id.
        public var otherTenants: [String]

        public var description: String {
            var text = "the store holds no event, kept state or drift item of enrollment \(enrollmentID) for tenant \"\(tenant)\""
                + " (looked in webhook_events, enrollment_states and drift_items)"
            if !otherTenants.isEmpty {
                text += "; tenant(s) \(otherTenants.map { "\"\($0)\"" }.joined(separator: ", ")) hold it: try --tenant \(otherTenants[0])"
            } else {
                text += ": check the id (the report's student_period_id) and --tenant; `dreamclass-reconcile runs` lists the tenants' runs"
            }
            return text + "; --live asks DreamClass now"
        }
    }

    public var options: Options

    public init(options: Options) { self.options = options }

    /// The explanation from the store; throws ``UnknownEnrollment`` when the store holds nothing
    /// of it and `allowUnknown` is false (`--live` may still find it in DreamClass).
    public func explain(connection: Connection, allowUnknown: Bool = false) async throws -> Explanation {
        let options = self.options
        return try await Blocking.run {
            let store = ExplainStore(schema: options.schema)
            let evidence = try store.evidence(tenant: options.tenant, enrollmentID: options.enrollmentID, runID: options.runID, on: connection)
            if !allowUnknown, evidence.events.isEmpty, evidence.kept == nil, evidence.item == nil {
                throw UnknownEnrollment(enrollmentID: options.enrollmentID, tenant: options.tenant,
                                        otherTenants: try store.tenants(holding: options.enrollmentID, on: connection).filter { $0 != options.tenant })
            }
            return Explanation(evidence)
        }
    }

    /// What a run now would conclude about the enrollment: its period (every period when the store
    /// does not know it) read now, a missing row confirmed by a second read, GetStudent asked.
    public func live(_ explanation: Explanation, client: DreamClassClient, now: Date = Date()) async throws -> ExplanationReport.Live {
        let id = options.enrollmentID
        let known = explanation.evidence.periodID
        let periods: [Period]
        if let known { periods = [Period(id: known)] } else { periods = try await client.periods() }
        /// Each period's roster, cut to this enrollment's row: the reconciler then speaks of it alone.
        func read(_ periods: [Period]) async -> [Int: RemoteRoster.Read] {
            await withTaskGroup(of: (Int, RemoteRoster.Read).self) { group in
                for period in periods {
                    group.addTask {
                        do { return (period.id, .complete(try await client.periodStudents(periodId: period.id).filter { $0.id == id })) } catch {
                            return (period.id, .failed("\(error)"))
                        }
                    }
                }
                var reads: [Int: RemoteRoster.Read] = [:]
                for await (period, read) in group { reads[period] = read }
                return reads
            }
        }
        let roster = RemoteRoster(periods: periods, reads: await read(periods), scopeIsAllPeriods: known == nil)
        let local = explanation.belief.next.map { [id: EventFold.State(lastEvent: $0)] } ?? [:]
        var result = Reconciler(settleCutoff: now.addingTimeInterval(-options.settle.seconds))
            .reconcile(local: local, roster: roster, knownPeriods: known.map { [id: $0] } ?? [:])
        var confirming: [Int: RemoteRoster.Read] = [:]
        let toConfirm = Reconciler.periodsToConfirm(result, roster: roster)
        if !toConfirm.isEmpty {
            confirming = await read(toConfirm)
            result = Reconciler.confirmDeletes(result, confirming: RemoteRoster(periods: toConfirm, reads: confirming, scopeIsAllPeriods: false))
        }
        var listed: (period: Int, row: Enrollment)?
        for period in periods {
            if case .complete(let rows)? = roster.reads[period.id], let row = rows.first { listed = (period.id, row) }
        }
        let student = try await (listed?.row.studentId ?? explanation.belief.next?.record?.studentID).asyncMap { try await client.student(id: $0) }
        let reads = RunAssembly.periodReads(roster: roster, confirmFailures: confirming.compactMapValues {
            if case .failed(let reason) = $0 { "confirming read: \(reason)" } else { nil }
        }, confirmedWhole: Set(confirming.compactMap { if case .complete = $0.value { $0.key } else { nil } }))
        let (kind, sentence): (String, String)
        if let item = result.items.first {
            let stored = StoredDriftItem(item, runID: 0, periodName: nil, student: student, firstSeenRun: 0)
            (kind, sentence) = (item.kind.rawValue, DriftReason.sentence(stored))
        } else if result.inFlight > 0 {
            (kind, sentence) = ("in_flight", "a change within the settle window (\(Int(options.settle.seconds)) s): not drift yet")
        } else if result.unverified > 0 || !roster.isComplete {
            (kind, sentence) = ("unverified", "its period could not be read whole now: nothing can be claimed")
        } else if result.changedDuringRun > 0 {
            (kind, sentence) = ("in_sync", "the first read did not list it, the confirming read did: DreamClass changed while it was read")
        } else {
            let what = listed == nil ? "neither DreamClass nor the events have it (deleted on both sides, or never there)" : "DreamClass lists it as the events say"
            (kind, sentence) = ("in_sync", what)
        }
        return ExplanationReport.Live(periodsRead: reads, listed: listed?.row, student: student, kind: kind, sentence: sentence)
    }
}

extension Optional {
    fileprivate func asyncMap<T>(_ body: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await body(value)
    }
}
