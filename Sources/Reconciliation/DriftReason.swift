import Foundation
import Models

/// The verdict's sentence for one drift item: why the run called it drift, from what each side
/// said. The report's `reason` column and `explain` print the same sentence.
public enum DriftReason {
    public static func sentence(_ item: StoredDriftItem) -> String {
        let period = item.periodID.map { "period \($0)" + (item.periodName.map { " (\($0))" } ?? "") }
        let lastEvent = item.lastEventType.map { type in
            "the last event we hold is \(type.replacingOccurrences(of: "STUDENT_PERIOD_", with: ""))"
                + (item.lastEventAt.map { " at \(Timestamp.display($0))" } ?? "")
        } ?? "we hold no usable event for it"
        let remote = describe(studentID: item.remoteStudentID, active: item.remoteActive, addedAt: item.remoteAddedAt)
        switch DriftKind(rawValue: item.kind) {
        case .missedCreate?:
            return "DreamClass lists it in \(period ?? "a period read") (\(remote)); we hold no usable event for it."
        case .missedUpdate?:
            let fields = item.changedFields.split(separator: ";").map(String.init)
            let local = describe(studentID: item.localStudentID, active: item.localActive, addedAt: item.localAddedAt, only: fields)
            let held = item.lastEventType == nil ? "the events we hold say" : "\(lastEvent), with"
            return "DreamClass lists it with \(describe(studentID: item.remoteStudentID, active: item.remoteActive, addedAt: item.remoteAddedAt, only: fields)); "
                + "\(held) \(local)."
        case .missedDelete?:
            let reads = item.inConfirmingRead == false ? "read whole twice" : "read whole"
            let place = period.map { "\($0) (\(reads))" } ?? "any period (every period \(reads); its period is not known)"
            return "DreamClass no longer lists it in \(place); \(lastEvent), so the school's systems believe it exists."
        case .staleDelete?:
            return "DreamClass lists it in \(period ?? "a period read") (\(remote)); \(lastEvent)."
        case nil:
            return "drift of kind \(item.kind)"
        }
    }

    /// `student 12, active, added 2026-09-01T08:00:00.000Z`, or only the named API fields.
    public static func describe(studentID: Int?, active: Bool?, addedAt: String?, only fields: [String]? = nil) -> String {
        var parts: [String] = []
        func wanted(_ field: String) -> Bool { fields?.contains(field) ?? true }
        if wanted("studentId"), let studentID { parts.append("student \(studentID)") }
        if wanted("active"), let active { parts.append(active ? "active" : "inactive") }
        if wanted("addedAt"), let addedAt { parts.append("added \(Timestamp.display(addedAt))") }
        return parts.isEmpty ? "no fields" : parts.joined(separator: ", ")
    }
}
