/// How reading one period's roster went.
public struct PeriodReadRecord: Sendable, Equatable {
    public var periodID: Int
    public var name: String?
    public var readOK: Bool
    public var enrollments: Int?
    public var error: String?
    /// How the confirming read (made before a delete in the period is claimed) went: `true` read
    /// whole, `false` failed, `nil` not made.
    public var confirmingRead: Bool?

    public init(periodID: Int, name: String?, readOK: Bool, enrollments: Int?, error: String?, confirmingRead: Bool? = nil) {
        self.periodID = periodID
        self.name = name
        self.readOK = readOK
        self.enrollments = enrollments
        self.error = error
        self.confirmingRead = confirmingRead
    }
}
