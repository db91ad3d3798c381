import Foundation
import Models

/// Folds a tenant's stored events into what the school's systems believe of each enrollment.
///
/// Events may come in any order and any number of times: for each enrollment only the greatest
/// event (by time, then CREATED < UPDATED < DELETED, then event id) is kept, so memory grows with
/// the number of enrollments, never with the number of events, and a re-delivered event changes
/// nothing. Being a maximum, a fold can go on from states kept earlier: folding the newer events
/// into them gives exactly what folding every event from scratch would.
public struct EventFold: Sendable {
    /// What an enrollment is locally: the event that won.
    public struct State: Sendable, Equatable {
        public var lastEvent: LocalEvent
        /// `nil` when the last event deleted it.
        public var record: EnrollmentRecord? { lastEvent.record }
        public var isDeleted: Bool { lastEvent.kind == .deleted }

        public init(lastEvent: LocalEvent) { self.lastEvent = lastEvent }
    }

    public private(set) var states: [Int: State] = [:]
    /// Events folded, duplicates included.
    public private(set) var eventsFolded = 0
    /// Enrollments whose state an event changed since the fold was seeded (kept only for a seeded
    /// fold, whose unchanged states need not be written back).
    public private(set) var changed: Set<Int> = []
    private let tracksChanges: Bool

    /// An empty fold.
    public init() { tracksChanges = false }

    /// A fold that goes on from `states`, folded earlier.
    public init(seededWith states: [Int: State]) {
        self.states = states
        tracksChanges = true
    }

    /// Takes a state folded earlier, as kept states stream in: neither an event nor a change.
    public mutating func seed(_ state: State) {
        states[state.lastEvent.enrollmentID] = state
    }

    /// Keeps `event` when it is greater than the enrollment's current one.
    public mutating func add(_ event: LocalEvent) {
        eventsFolded += 1
        if let current = states[event.enrollmentID], !current.lastEvent.precedes(event) { return }
        states[event.enrollmentID] = State(lastEvent: event)
        if tracksChanges { changed.insert(event.enrollmentID) }
    }

    /// The fold of `events`, in any order.
    public static func fold(_ events: some Sequence<LocalEvent>) -> EventFold {
        var fold = EventFold()
        for event in events { fold.add(event) }
        return fold
    }
}
