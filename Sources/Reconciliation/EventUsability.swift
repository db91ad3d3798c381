import Foundation
import Models

/// What the fold makes of one stored event: the one definition of "usable", which the run's
/// fold, `prune` and `explain` all follow.
public enum EventUsability: Sendable, Equatable {
    case usable(LocalEvent)
    /// A `STUDENT_PERIOD_*` event whose `data` lacks a field the fold needs, or has one of the wrong type.
    case unusable(reason: String)
    /// Its signature did not verify when it was stored: it may be forged.
    case unsigned(reason: String)
    /// Another event family (`PAYMENT_*`, ...): the fold does not read it.
    case otherFamily

    public init(_ event: StoredEvent) {
        guard let kind = LocalEvent.Kind(eventType: event.eventType) else {
            self = .otherFamily
            return
        }
        if event.signatureValid == false {
            self = .unsigned(reason: "signature did not verify")
            return
        }
        let fields = event.fields
        guard let id = fields.id else {
            self = .unusable(reason: "data.id is missing or not an integer")
            return
        }
        var record: EnrollmentRecord?
        if kind != .deleted {
            guard let student = fields.studentID else {
                self = .unusable(reason: "data.studentId is missing or not an integer")
                return
            }
            guard let active = fields.active else {
                self = .unusable(reason: "data.active is missing or not a boolean")
                return
            }
            guard let instant = fields.addedAt else {
                self = .unusable(reason: "data.addedAt is missing or not an ISO 8601 date-time")
                return
            }
            record = EnrollmentRecord(studentID: student, active: active, addedAtInstant: instant)
        }
        self = .usable(LocalEvent(eventID: event.eventID, kind: kind, timeMillis: event.timeMillis, enrollmentID: id, record: record))
    }
}
