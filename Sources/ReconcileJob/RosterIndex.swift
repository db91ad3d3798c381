import DreamClassAPI
import Models
import Synchronization

/// DreamClass's rows by enrollment id, filled as rosters arrive and read by the fold's thread to
/// tell early which enrollments drifted.
final class RosterIndex: Sendable {
    private let rows = Mutex<[Int: Enrollment]>([:])

    func add(_ roster: [Enrollment]) {
        rows.withLock { rows in for row in roster { rows[row.id] = row } }
    }

    func row(_ id: Int) -> Enrollment? {
        rows.withLock { $0[id] }
    }
}
