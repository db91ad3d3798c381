import DreamClassAPI
import Foundation
import HTTPTypes
import Hummingbird
import Synchronization
import Testing
import TestSupport

/// A delivery waits only as long as the night allows: a receiver's day-long Retry-After fails
/// it at once, and a deadline stops further tries.
@Suite struct DeliveryWaitTests {
    @Test func aDayLongRetryAfterFailsTheDeliveryWithoutWaiting() async throws {
        let posts = Mutex(0)
        let server = TestHTTPServer { _ in
            posts.withLock { $0 += 1 }
            var response = Response(status: .tooManyRequests)
            response.headers[.retryAfter] = "86400"
            return response
        }
        let url = try await server.start()
        let sender = WebhookSender(configuration: .init(url: url))
        let result = await sender.deliver("{}")
        try await sender.shutdown()
        await server.stop()
        #expect(!result.delivered)
        #expect(result.attempts == 1)
        #expect(result.lastError?.contains("asked to wait 86400 s") == true)
        #expect(posts.withLock { $0 } == 1)
    }

    @Test func aPassedDeadlineStopsTheTries() async throws {
        let posts = Mutex(0)
        let server = TestHTTPServer { _ in
            posts.withLock { $0 += 1 }
            return Response(status: .serviceUnavailable)
        }
        let url = try await server.start()
        var configuration = WebhookSender.Configuration(url: url)
        configuration.backoffBase = .seconds(5)
        configuration.backoffCap = .seconds(5)
        configuration.deadline = .now + .seconds(1)
        let sender = WebhookSender(configuration: configuration)
        let first = await sender.deliver("{}")
        try await Task.sleep(for: .seconds(1))
        let afterDeadline = await sender.deliver("{}")
        try await sender.shutdown()
        await server.stop()
        #expect(!first.delivered)
        #expect(first.attempts < 5)
        #expect(afterDeadline.attempts == 0)
        #expect(afterDeadline.lastError?.contains("deadline passed") == true)
    }
}
