/// The API operations the job uses.
public enum APIOperation: String, Sendable, CaseIterable, CustomStringConvertible {
    case listPeriods = "GetSchoolPeriods"
    case periodStudents = "GetPeriodStudents"
    case student = "GetStudent"

    public var description: String { rawValue }
}
