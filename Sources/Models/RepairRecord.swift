import Foundation

/// What the latest backfill of a run did with one drift item, and how the event it wrote was delivered.
public struct RepairRecord: Sendable, Equatable {
    /// `stored`, `already_stored`, `skipped_newer_event` or `held`.
    public var decision: String
    /// Why, for a held or skipped item: the guard and its limit, or the newer event.
    public var reason: String?
    /// The synthetic event written (or that would have been), and its type.
    public var eventID: UUID?
    public var eventType: String?
    /// `pending`, `delivered` or `failed`; `nil` when the event is not in the store.
    public var deliveryState: String?
    public var attempts: Int?
    public var lastError: String?
    public var deliveredAt: Date?

    public init(decision: String, reason: String? = nil, eventID: UUID? = nil, eventType: String? = nil, deliveryState: String? = nil,
                attempts: Int? = nil, lastError: String? = nil, deliveredAt: Date? = nil) {
        self.decision = decision
        self.reason = reason
        self.eventID = eventID
        self.eventType = eventType
        self.deliveryState = deliveryState
        self.attempts = attempts
        self.lastError = lastError
        self.deliveredAt = deliveredAt
    }
}
