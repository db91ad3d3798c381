import Foundation

/// A student's enrollment in a period: a row of GetPeriodStudents, and the `data` of a
/// `STUDENT_PERIOD_*` webhook.
///
/// Strict on the fields the reconciliation compares (`id`, `studentId`, `active`, `addedAt`),
/// tolerant of any other field.
public struct Enrollment: Sendable, Codable, Equatable {
    /// The student-period id.
    public var id: Int
    public var studentId: Int
    public var active: Bool
    /// As sent: ISO 8601 with milliseconds and offset, e.g. `2024-10-02T09:40:02.179+00:00`.
    public var addedAt: String

    public init(id: Int, studentId: Int, active: Bool, addedAt: String) {
        self.id = id
        self.studentId = studentId
        self.active = active
        self.addedAt = addedAt
    }

    private enum CodingKeys: String, CodingKey { case id, studentId, active, addedAt }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int.self, forKey: .id)
        studentId = try container.decode(Int.self, forKey: .studentId)
        active = try container.decode(Bool.self, forKey: .active)
        addedAt = try container.decode(String.self, forKey: .addedAt)
        guard Timestamp.parse(addedAt) != nil else {
            throw DecodingError.dataCorruptedError(forKey: .addedAt, in: container, debugDescription: "\"\(addedAt)\" is not an ISO 8601 date-time")
        }
    }

    /// `addedAt` as an instant: `…Z` and `…+00:00` of the same moment are equal.
    public var addedAtInstant: Date? { Timestamp.parse(addedAt) }
}
