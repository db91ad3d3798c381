import Foundation
import Models

/// Folds a tenant's stored events into what the school's systems believe of each enrollment.
///
/// Events may come in any order and any number of times: for each enrollment only the greatest
/// event (by time, then CREATED < UPDATED < DELETED, then event id) is kept, so memory grows with
/// the number of enrollments, never with the number of events, and a re-delivered event changes
/// nothing.
public struct EventFold: Sendable {
    /// What an enrollment is locally: the event that won.
    public struct State: Sendable, Equatable {
        public var lastEvent: LocalEvent
        /// `nil` when the last event deleted it.
        public var record: EnrollmentRecord? { lastEvent.record }
        public var isDeleted: Bool { lastEvent.kind == .deleted }
    }

    public private(set) var states: [Int: State] = [:]
    /// Events folded, duplicates included.
    public private(set) var eventsFolded = 0

    public init() {}

    /// Keeps `event` when it is greater than the enrollment's current one.
    public mutating func add(_ event: LocalEvent) {
        eventsFolded += 1
        if let current = states[event.enrollmentID], !current.lastEvent.precedes(event) { return }
        states[event.enrollmentID] = State(lastEvent: event)
    }

    /// The fold of `events`, in any order.
    public static func fold(_ events: some Sequence<LocalEvent>) -> EventFold {
        var fold = EventFold()
        for event in events { fold.add(event) }
        return fold
    }
}
