import Models

/// Where the fold's final states and DreamClass's rows meet as each side arrives, so that a
/// drifted enrollment's student can be looked up as soon as both sides have passed its id,
/// whichever comes second: not after the fold, and not after the last roster.
///
/// A guess only, never a claim: the classification at the end decides what is drift, and asks
/// for any student missed here (deletes, which need their period's confirming read first).
public struct EarlyDrift: Sendable {
    /// States settled before their row arrived.
    private var waitingStates: [Int: EventFold.State] = [:]
    /// Rows arrived before their state settled.
    private var waitingRows: [Int: Enrollment] = [:]
    /// Every state, once the fold has ended; an id missing then has no local state at all.
    private var finished: [Int: EventFold.State]?

    public init() {}

    /// An enrollment's state is final (a fold in enrollment order passed its last event).
    /// Returns the student to look up, if it drifted.
    public mutating func settled(_ id: Int, _ state: EventFold.State) -> Int? {
        guard finished == nil else { return nil }
        if let row = waitingRows.removeValue(forKey: id) { return Self.drifted(state, row) }
        waitingStates[id] = state
        return nil
    }

    /// The fold has ended with `states`; rows still waiting now meet their state, or none (a
    /// missed create). Returns the students to look up.
    public mutating func foldFinished(_ states: [Int: EventFold.State]) -> [Int] {
        finished = states
        waitingStates = [:]
        defer { waitingRows = [:] }
        return waitingRows.values.compactMap { Self.drifted(states[$0.id], $0) }
    }

    /// A roster's rows have arrived. Returns the students to look up.
    public mutating func arrived(_ rows: [Enrollment]) -> [Int] {
        if let finished { return rows.compactMap { Self.drifted(finished[$0.id], $0) } }
        var students: [Int] = []
        for row in rows {
            if let state = waitingStates.removeValue(forKey: row.id) {
                if let student = Self.drifted(state, row) { students.append(student) }
            } else {
                waitingRows[row.id] = row
            }
        }
        return students
    }

    /// The student when the local state differs from the row; a row with no local state, or a
    /// deleted one, is a create the store missed.
    static func drifted(_ state: EventFold.State?, _ row: Enrollment) -> Int? {
        guard let local = state?.record, let remote = EnrollmentRecord(row) else { return row.studentId }
        return local.changedFields(comparedWith: remote).isEmpty ? nil : row.studentId
    }
}
