import Foundation
import Models

extension StoredDriftItem {
    /// The row a run records and reports for a drift item: both sides' fields, the last local
    /// event, and what GetStudent said of the student (`not_found` when it answered 404).
    public init(_ item: DriftItem, runID: Int64, periodName: String?, student: StudentLookup?, firstSeenRun: Int64) {
        self.init(runID: runID, kind: item.kind.rawValue, studentPeriodID: item.enrollmentID, firstSeenRun: firstSeenRun)
        periodID = item.periodID
        self.periodName = periodName
        studentID = item.studentID
        switch student {
        case .found(let found)?:
            studentName = found.fullName
            studentEmail = found.email
            studentStatus = found.status
        case .notFound?:
            studentStatus = "not_found"
        case nil:
            break
        }
        changedFields = item.changedFields.joined(separator: ";")
        localStudentID = item.local?.studentID
        localActive = item.local?.active
        localAddedAt = item.local?.addedAt
        remoteStudentID = item.remote?.studentID
        remoteActive = item.remote?.active
        remoteAddedAt = item.remote?.addedAt
        lastEventID = item.lastEvent?.eventID
        lastEventType = item.lastEvent?.kind.eventType
        inFirstRead = item.inFirstRead
        inConfirmingRead = item.inConfirmingRead
        lastEventAt = item.lastEvent.map { Date(timeIntervalSince1970: Double($0.timeMillis) / 1000) }
    }
}
