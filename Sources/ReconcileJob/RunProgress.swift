/// How far a run has come, for a progress line on a terminal.
public struct RunProgress: Sendable, Equatable {
    public var periodsRead = 0
    public var periodsTotal = 0
    public var studentsLookedUp = 0
    public var studentsTotal = 0

    public init() {}
}
