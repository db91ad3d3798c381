/// How reading one period's roster went.
public struct PeriodReadRecord: Sendable, Equatable {
    public var periodID: Int
    public var name: String?
    public var readOK: Bool
    public var enrollments: Int?
    public var error: String?

    public init(periodID: Int, name: String?, readOK: Bool, enrollments: Int?, error: String?) {
        self.periodID = periodID
        self.name = name
        self.readOK = readOK
        self.enrollments = enrollments
        self.error = error
    }
}
