/// The pages of one read of a list, and whether they agree with each other.
///
/// DreamClass keeps changing while a roster is paged through: a row deleted from page 0 after it
/// was served slides a row of page 1 onto page 0, where it is never seen; a row inserted does the
/// opposite and one row comes twice. Either would turn into false drift, so a read is accepted
/// only if its pages tell one story. Pure: the client decides with it, tests call it with values.
public struct PagedRead: Sendable, Equatable {
    /// What one page said of the whole list, and the ids of its rows.
    public struct Page: Sendable, Equatable {
        public var totalElements: Int?
        public var totalPages: Int?
        public var ids: [Int]

        public init(totalElements: Int?, totalPages: Int?, ids: [Int]) {
            self.totalElements = totalElements
            self.totalPages = totalPages
            self.ids = ids
        }
    }

    public var pages: [Page]

    public init(pages: [Page]) {
        self.pages = pages
    }

    /// Why the pages disagree, or `nil` when they make one consistent list: the same
    /// `totalElements` and `totalPages` on every page, no id twice, and as many rows as
    /// `totalElements` says. A bare array is one page, and needs only its ids to be distinct.
    public var inconsistency: String? {
        for (number, page) in pages.enumerated().dropFirst() {
            if page.totalElements != pages[0].totalElements {
                return "totalElements changed from \(Self.text(pages[0].totalElements)) to \(Self.text(page.totalElements)) on page \(number)"
            }
            if page.totalPages != pages[0].totalPages {
                return "totalPages changed from \(Self.text(pages[0].totalPages)) to \(Self.text(page.totalPages)) on page \(number)"
            }
        }
        var seen = Set<Int>()
        for (number, page) in pages.enumerated() {
            for id in page.ids where !seen.insert(id).inserted {
                return "id \(id) came twice (again on page \(number))"
            }
        }
        if let total = pages.first?.totalElements, total != seen.count {
            return "read \(seen.count) rows, totalElements says \(total)"
        }
        return nil
    }

    private static func text(_ value: Int?) -> String { value.map(String.init) ?? "none" }
}
