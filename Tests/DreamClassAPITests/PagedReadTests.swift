@testable import DreamClassAPI
import Foundation
import Testing

/// The pure decisions of the client: when a paged read is consistent, and what a server's
/// `Retry-After` becomes. No server.
@Suite struct PagedReadTests {
    typealias Page = PagedRead.Page

    @Test func pagesThatTellOneStoryAreConsistent() {
        let read = PagedRead(pages: [
            Page(totalElements: 7, totalPages: 3, ids: [1, 2, 3]), Page(totalElements: 7, totalPages: 3, ids: [4, 5, 6]),
            Page(totalElements: 7, totalPages: 3, ids: [7]),
        ])
        #expect(read.inconsistency == nil)
        #expect(PagedRead(pages: [Page(totalElements: nil, totalPages: nil, ids: [3, 1, 2])]).inconsistency == nil)
    }

    @Test func aRowDeletedFromAnEarlierPageShowsAsAShortRead() {
        // 14 rows, pages of 5; row 1 deleted after page 0 was served: row 6 slides onto page 0,
        // unseen, and the later pages say 13.
        let read = PagedRead(pages: [
            Page(totalElements: 14, totalPages: 3, ids: [1, 2, 3, 4, 5]), Page(totalElements: 13, totalPages: 3, ids: [7, 8, 9, 10, 11]),
            Page(totalElements: 13, totalPages: 3, ids: [12, 13, 14]),
        ])
        #expect(read.inconsistency == "totalElements changed from 14 to 13 on page 1")
    }

    @Test func aRowInsertedIntoAnEarlierPageShowsAsARowSeenTwice() {
        let read = PagedRead(pages: [Page(totalElements: nil, totalPages: 2, ids: [1, 2, 3]), Page(totalElements: nil, totalPages: 2, ids: [3, 4])])
        #expect(read.inconsistency == "id 3 came twice (again on page 1)")
    }

    @Test func aCountThatDisagreesWithTheRowsIsInconsistent() {
        #expect(PagedRead(pages: [Page(totalElements: 4, totalPages: 1, ids: [1, 2, 3])]).inconsistency == "read 3 rows, totalElements says 4")
        #expect(PagedRead(pages: [Page(totalElements: 2, totalPages: 1, ids: [1]), Page(totalElements: 2, totalPages: 2, ids: [2])])
            .inconsistency == "totalPages changed from 1 to 2 on page 1")
        #expect(PagedRead(pages: [Page(totalElements: nil, totalPages: nil, ids: [5, 5])]).inconsistency == "id 5 came twice (again on page 0)")
    }

    @Test(arguments: ["86400", "1e300", "9223372036854775807", "inf", "Wed, 21 Oct 2999 07:28:00 GMT"])
    func anyRetryAfterIsReadWithoutTrapping(value: String) throws {
        let wait = try #require(RetryPolicy.parseRetryAfter(value, now: Date(timeIntervalSince1970: 0)))
        #expect(wait >= .seconds(86_400))
        #expect(wait <= .seconds(1_000_000_000))
    }

    @Test(arguments: ["-1", "nan", "soon", ""])
    func aRetryAfterThatIsNoWaitIsIgnored(value: String) {
        #expect(RetryPolicy.parseRetryAfter(value) == nil)
    }
}
