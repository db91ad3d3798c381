/// What `config check` learns of a school's API beyond "it answers": whether GetPeriodStudents
/// pages, which page sizes it honours, whether GetStudent works; and what to set when the
/// configuration assumed otherwise. The paging facts are assumptions in the README: this is how
/// a user finds the true ones in one step.
public struct APIProbe: Sendable, Equatable {
    /// The periods the list returned.
    public var periods: Int
    /// The period whose roster was probed, if any has enrollments.
    public var period: Int?
    /// `nil`: the roster came back as a bare array (no paging); else the page sizes asked for and
    /// the rows each first page held.
    public var pageRows: [Int: Int]?
    /// The roster's size, from the bare array or the envelope's `totalElements`.
    public var rosterSize: Int?
    /// GetStudent on one of its students: `found`, `not found`, or the error.
    public var student: String?

    public init(periods: Int, period: Int? = nil, pageRows: [Int: Int]? = nil, rosterSize: Int? = nil, student: String? = nil) {
        self.periods = periods
        self.period = period
        self.pageRows = pageRows
        self.rosterSize = rosterSize
        self.student = student
    }

    /// The sizes asked for, smallest first.
    public static let pageSizes = [1, 10, 50, 100, 500, 1_000, 5_000]

    /// The largest page size the server honours: when a first page came back shorter than asked
    /// (and than the roster), the server's own cap is the most rows it gave; else the largest
    /// size asked. `nil` for a bare array.
    public var largestHonouredPageSize: Int? {
        guard let pageRows else { return nil }
        let cutShort = pageRows.filter { size, rows in rows < min(size, rosterSize ?? size) }
        if let cap = cutShort.values.max(), cap > 0 { return cap }
        return pageRows.keys.max()
    }

    /// The settings to change (YAML key → value) so the configuration matches what was found.
    public func corrections(pageSize configured: Int) -> [(key: String, value: String)] {
        guard period != nil else { return [] }
        guard pageRows != nil else {
            // Bare arrays: paging parameters are ignored; sending none is the honest setting.
            return configured == 0 ? [] : [("page_size", "0")]
        }
        let largest = largestHonouredPageSize ?? 1
        // Pages of at most what it honours; asking for more would cut every page short.
        if configured == 0 || configured > largest { return [("page_size", String(largest))] }
        return []
    }
}
