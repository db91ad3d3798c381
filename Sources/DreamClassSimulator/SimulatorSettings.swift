import DreamClassAPI
/// How the simulator behaves: whom it lets in, how it pages, and what goes wrong how often.
/// Set at start, and changeable while it runs (``DreamClassSimulator/settings``).
public struct SimulatorSettings: Sendable {
    public var apiKey: String
    public var schoolCode: String
    public var tenant: String
    public var headers = DreamClassConfiguration.HeaderNames()
    public var paths = DreamClassConfiguration.Paths()
    /// Everything is served below this prefix, as DreamClass does.
    public var prefix = "/dreamclassapi/v1"

    /// `nil`: lists are bare JSON arrays. A number: page envelopes of at most that many rows.
    public var pageSize: Int?
    /// A wait before every answer, drawn from this range.
    public var latency: ClosedRange<Duration>?

    /// Shares of requests, each in 0...1, that get a fault instead of their answer.
    public var tooManyRequestsRate = 0.0
    /// The `Retry-After` (seconds) sent with a 429.
    public var retryAfterSeconds = 1
    /// Half 500, half 503.
    public var serverErrorRate = 0.0
    /// Answered only after ``slowDelay``: longer than the client's timeout, if set so.
    public var slowRate = 0.0
    public var slowDelay: Duration = .seconds(5)
    /// A 200 whose body is cut short or garbled.
    public var malformedRate = 0.0
    /// Statuses for the next requests, one each, before any other fault: a script for tests that
    /// need "two 429s, then the answer". A 429 carries ``retryAfterSeconds``.
    public var nextStatuses: [Int] = []
    /// Periods whose roster always answers 503, to model a period that cannot be read.
    public var failingPeriods: Set<Int> = []
    /// Periods whose roster answers only after ``slowDelay``: a DreamClass that hangs on them.
    public var stallingPeriods: Set<Int> = []
    /// Above this many requests in the last second, requests get a 429.
    public var maxRequestsPerSecond: Double?
    /// The chance, after each roster page served, that DreamClass deletes one random enrollment
    /// of that period and inserts a new one at a random place: the roster changes while it is
    /// paged through, and between a read and the read that confirms it. Drawn from a generator
    /// seeded by the simulator's seed, the period and how many of its pages were served, so a
    /// seed replays the same changes whatever order concurrent reads arrive in.
    public var rosterChurnRate = 0.0
    /// Called after each roster page served (period id, page number from 0): a test's own change
    /// of the school at an exact point of a read.
    public var afterRosterPage: (@Sendable (_ period: Int, _ page: Int, _ school: inout School) -> Void)?

    public init(apiKey: String, schoolCode: String, tenant: String) {
        self.apiKey = apiKey
        self.schoolCode = schoolCode
        self.tenant = tenant
    }
}

/// What the simulator has served, for tests to check.
public struct SimulatorStatistics: Sendable, Equatable {
    /// Per operation, per HTTP status.
    public var served: [APIOperation: [Int: Int]] = [:]
    /// The most requests it was answering at one moment.
    public var maxInFlight = 0
    public var inFlight = 0
    /// Enrollments removed and added by ``SimulatorSettings/rosterChurnRate`` since the start.
    public var churnRemoved: Set<Int> = []
    public var churnAdded: Set<Int> = []

    /// Requests served for `operation`, all of them or those answered with `status`.
    public func count(_ operation: APIOperation, status: Int? = nil) -> Int {
        let byStatus = served[operation, default: [:]]
        return status.map { byStatus[$0, default: 0] } ?? byStatus.values.reduce(0, +)
    }
}
