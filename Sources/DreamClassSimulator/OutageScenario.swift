import DreamClassAPI
import Foundation
import Models

/// A school's webhook history with an outage in it: what the receiver stored, and how the school
/// changed while it was down. Used by the demo, the tests and the benchmarks.
///
/// Before the outage every enrollment was created by a webhook, some were updated, and the
/// stream has the faults of a real one: re-deliveries, and events stored out of order (an
/// UPDATED before its CREATED, a DELETED before its CREATED). During the outage the school
/// gained, changed and lost enrollments, and one enrollment the receiver saw deleted was
/// restored, and none of those webhooks arrived.
public struct OutageScenario: Sendable {
    /// The webhook bodies the receiver stored, in the order it stored them.
    public var storedWebhooks: [String]
    /// The school after the outage: what DreamClass says now.
    public var schoolAfter: School
    /// The drift a reconciliation must find, per kind.
    public var expectedMissedCreates: [Int]
    public var expectedMissedUpdates: [Int]
    public var expectedMissedDeletes: [Int]
    public var expectedStaleDeletes: [Int]

    /// - Parameters:
    ///   - outageChanges: how many enrollments of each kind the outage adds, changes and removes.
    ///   - now: the outage's changes are dated a day before this, well outside a settle window.
    /// - Parameter sign: the signature of an event id, as DreamClass signs (the simulator's
    ///   deliveries to a receiver that checks them); unsigned when `nil`.
    public static func make(
        school: School, tenant: String, outageChanges: Int = 3, seed: UInt64 = 1, now: Date = Date(), sign: ((String) -> String)? = nil
    ) -> OutageScenario {
        var random = SeededRandom(seed: seed)
        var lines: [String] = []
        var after = school
        func webhook(_ type: String, _ row: Enrollment, at date: Date) -> String {
            let id = UUID(random: &random)
            return WebhookEnvelope.body(id: id, type: type, tenant: tenant, timestampMillis: Int64(date.timeIntervalSince1970 * 1000),
                                        signature: sign?(id.uuidString.lowercased()), data: row)
        }
        let periods = school.periods.map(\.id).filter { !(school.enrollments[$0] ?? []).isEmpty }
        var updatedBeforeOutage = 0
        for period in periods {
            for (index, row) in (school.enrollments[period] ?? []).enumerated() {
                let added = row.addedAtInstant ?? now.addingTimeInterval(-86_400 * 30)
                let created = webhook("STUDENT_PERIOD_CREATED", row, at: added.addingTimeInterval(1))
                if index % 10 == 3 {
                    // An update the receiver did get, stored before the CREATED it follows.
                    var changed = row
                    changed.active.toggle()
                    lines.append(webhook("STUDENT_PERIOD_UPDATED", changed, at: added.addingTimeInterval(3600)))
                    replace(changed, in: period, of: &after)
                    updatedBeforeOutage += 1
                }
                if index % 25 == 7 { lines.append(created) }  // delivered twice
                lines.append(created)
            }
        }
        // Deleted and seen deleted, the DELETED stored first: agreed on both sides.
        if let period = periods.first, let row = after.enrollments[period]?.last {
            let added = row.addedAtInstant ?? now
            lines.insert(webhook("STUDENT_PERIOD_DELETED", row, at: added.addingTimeInterval(7200)), at: 0)
            after.enrollments[period]?.removeLast()
        }

        // The outage: nothing of this reaches the receiver.
        let during = now.addingTimeInterval(-86_400)
        var creates: [Int] = [], updates: [Int] = [], deletes: [Int] = [], stale: [Int] = []
        var nextID = (school.enrollments.values.flatMap { $0 }.map(\.id).max() ?? 0) + 1
        for change in 0..<outageChanges {
            let period = periods[change % periods.count]
            let added = Enrollment(id: nextID, studentId: 10_000 + change, active: true, addedAt: Timestamp.formatMilliseconds(during))
            after.enrollments[period, default: []].append(added)
            creates.append(nextID)
            nextID += 1
        }
        var candidates = periods.flatMap { period in (after.enrollments[period] ?? []).map { (period, $0) } }
            .filter { !creates.contains($0.1.id) }
        candidates.shuffle(using: &random)
        for (period, row) in candidates.prefix(outageChanges) {
            var changed = row
            changed.active.toggle()
            replace(changed, in: period, of: &after)
            updates.append(row.id)
        }
        for (period, row) in candidates.dropFirst(outageChanges).prefix(outageChanges) {
            after.enrollments[period]?.removeAll { $0.id == row.id }
            deletes.append(row.id)
        }
        // Seen deleted, then restored during the outage.
        if let (_, row) = candidates.dropFirst(2 * outageChanges).first {
            lines.append(webhook("STUDENT_PERIOD_DELETED", row, at: during.addingTimeInterval(-86_400)))
            stale.append(row.id)
        }
        return OutageScenario(
            storedWebhooks: lines, schoolAfter: after, expectedMissedCreates: creates.sorted(),
            expectedMissedUpdates: updates.sorted(), expectedMissedDeletes: deletes.sorted(), expectedStaleDeletes: stale.sorted()
        )
    }

    private static func replace(_ row: Enrollment, in period: Int, of school: inout School) {
        if let index = school.enrollments[period]?.firstIndex(where: { $0.id == row.id }) {
            school.enrollments[period]?[index] = row
        }
    }
}
