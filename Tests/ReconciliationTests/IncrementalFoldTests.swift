import Foundation
import Models
import Reconciliation
import Testing

/// A fold that goes on from kept states ends where a fold of every event does.
@Suite struct IncrementalFoldTests {
    static func events(seed: UInt64, count: Int) -> [LocalEvent] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            let kind = LocalEvent.Kind.allCases.randomElement(using: &random)!
            let id = Int.random(in: 1...12, using: &random)
            // Few distinct times, so ties between kinds and ids are common.
            let millis = Int64.random(in: 1...6, using: &random)
            let row = Enrollment(id: id, studentId: Int.random(in: 1...3, using: &random), active: Bool.random(using: &random),
                                 addedAt: "2026-09-0\(Int.random(in: 1...9, using: &random))T08:00:00.000Z")
            return LocalEvent(eventID: UUID(random: &random), kind: kind, timeMillis: millis, enrollmentID: id,
                              record: kind == .deleted ? nil : EnrollmentRecord(row))
        }
    }

    @Test(arguments: 1...40 as ClosedRange<UInt64>)
    func goingOnFromKeptStatesEqualsFoldingEverything(seed: UInt64) {
        let events = Self.events(seed: seed, count: 60)
        let full = EventFold.fold(events)
        // Split anywhere, fold the first part, keep its states, go on with the rest (re-reading
        // some of the first part, as a run re-reads what is above its horizon).
        var random = SeededRandom(seed: seed &+ 1000)
        let cut = Int.random(in: 0...events.count, using: &random)
        let overlap = Int.random(in: 0...cut, using: &random)
        let first = EventFold.fold(events[..<cut])
        var next = EventFold(seededWith: first.states)
        for event in events[overlap...].shuffled(using: &random) { next.add(event) }
        #expect(next.states == full.states)
        // What changed is exactly what differs from the kept states.
        let differing = Set(full.states.keys.filter { first.states[$0] != full.states[$0] })
        #expect(next.changed == differing)
    }
}
