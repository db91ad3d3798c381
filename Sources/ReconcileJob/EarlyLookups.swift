import Models
import Reconciliation
import Synchronization

/// ``EarlyDrift`` shared by the fold's thread and the roster reads, asking ``StudentLookups`` for
/// each drifted student as soon as both sides of its enrollment are in.
final class EarlyLookups: Sendable {
    private let meeting = Mutex(EarlyDrift())
    private let lookups: StudentLookups

    init(_ lookups: StudentLookups) { self.lookups = lookups }

    func settled(_ id: Int, _ state: EventFold.State) {
        if let student = meeting.withLock({ $0.settled(id, state) }) { lookups.request(student) }
    }

    func foldFinished(_ states: [Int: EventFold.State]) {
        for student in meeting.withLock({ $0.foldFinished(states) }) { lookups.request(student) }
    }

    func arrived(_ rows: [Enrollment]) {
        for student in meeting.withLock({ $0.arrived(rows) }) { lookups.request(student) }
    }
}
